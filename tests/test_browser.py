"""The notebooks as a reader meets them: JupyterLab (from this environment) in headless Chromium, driven by selenium.

For `24_augment.inspector` and the data notebook `12_data.ucla`: Run All finishes without an error, every figure
shows as an image (no `<Figure size ...>` text), the inspector's widgets appear and show what their own cell asked
for, and changing one of its controls redraws its figure. The notebooks run from a temporary copy with their own
Jupyter config, data, runtime and settings folders, so nothing of the user's Jupyter set-up is read and nothing is
saved into `nbs/`. Needs the Debian packages `chromium` and `chromium-driver` and the Python package selenium (a dev
requirement; `.ci/run` installs the packages); without them the test skips and says which is missing.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from skelnb.core import shared_data

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
NOTEBOOKS = ("24_augment.inspector.ipynb", "12_data.ucla.ipynb")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)
START_S, RUN_ALL_S, REDRAW_S = 90, 240, 60  # explicit limits of each wait; a wait that runs out fails with what it saw

# JupyterLab's own objects, exposed to the page by --LabApp.expose_app_in_browser (as JupyterLab's galata tests do)
JS_STATE = """
const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
const session = panel && panel.sessionContext && panel.sessionContext.session;
if (!session || !panel.content) return {kernel: `no session yet (page ${document.title}, widget ${panel && panel.id})`};
const kernel = session.kernel;
const cells = panel.content.widgets.filter(c => c.model.type === 'code');
return {
  kernel: kernel ? kernel.status : 'none',
  counts: cells.map(c => c.model.executionCount),
  errors: cells.flatMap(c => c.model.outputs.toJSON().filter(o => o.output_type === 'error')
    .map(o => `${o.ename}: ${o.evalue}`)),
};
"""
JS_RUN_ALL = """
const panel = window.jupyterapp.shell.currentWidget;
window.jupyterapp.shell.activateById(panel.id);  // the command acts on the notebook tracker's current widget
window.jupyterapp.commands.execute('notebook:run-all-cells');
"""
JS_CELL_NODE = """
const cells = window.jupyterapp.shell.currentWidget.content.widgets;
const cell = cells.find(c => c.model.type === 'code' && c.model.sharedModel.getSource().trim().endsWith(arguments[0]));
return cell ? cell.node : null;
"""


def _missing() -> str | None:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        return f"{CHROMIUM} or {CHROMEDRIVER} absent (Debian packages chromium, chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium; it is a dev requirement)"
    if shared_data("ntu_samples") is None or shared_data("nw_ucla") is None:
        return "the notebooks read ../shared/data, which is absent (set SKELNB_DATA)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    "A JupyterLab server on 127.0.0.1 serving a temporary copy of the notebooks: (base URL, token, log file)."
    if why := _missing():
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("lab")
    nbs = tmp / "nbs"
    nbs.mkdir()
    for name in NOTEBOOKS:
        shutil.copy(ROOT / "nbs" / name, nbs / name)
    settings = tmp / "settings"
    # every cell in the DOM (no virtual scrolling), no news or update checks
    for plugin, values in {
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }.items():
        (settings / plugin).parent.mkdir(parents=True, exist_ok=True)
        (settings / f"{plugin}.jupyterlab-settings").write_text(json.dumps(values))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),
        "JUPYTER_DATA_DIR": str(tmp / "data"),  # no user kernelspec: python3 is this interpreter's ipykernel
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
        "IPYTHONDIR": str(tmp / "ipython"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.pop("MPLBACKEND", None)  # the kernel chooses (the inline backend), as in a fresh JupyterLab
    port, token = _free_port(), secrets.token_hex(16)
    log = tmp / "jupyter.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={nbs}",
        "--LabApp.expose_app_in_browser=True",
        *(["--allow-root"] if os.geteuid() == 0 else []),  # containers and CI often run as root
    ]
    with open(log, "w") as out:
        server = subprocess.Popen(cmd, cwd=nbs, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_S
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer on {base} within {START_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base, token, log
    finally:
        stop_group(server)


def stop_group(process: subprocess.Popen):
    "Stop a process started with start_new_session and everything it started (JupyterLab and its kernels)."
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def browser(lab, tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(what: str, check, timeout: float, seen=lambda: None, every: float = 0.5):
    "Poll `check()` until it returns something truthy; fail after `timeout` s, saying what was awaited and seen."
    from selenium.common.exceptions import StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except StaleElementReferenceException:  # the page replaced the element while we read it (a redraw): poll again
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}; last seen: {seen()}")
        time.sleep(every)


def run_all(browser, lab, name: str):
    "Open the notebook, wait for its kernel, Run All, and wait until every code cell ran; fail on an error output."
    base, token, log = lab
    # a workspace of its own, reset: only this notebook is open (none restored from an earlier page)
    browser.get(f"{base}/lab/workspaces/{name.split('.')[0]}/tree/{name}?reset&token={token}")
    state = lambda: browser.execute_script(JS_STATE)  # noqa: E731
    wait_for(f"{name} to open with an idle kernel", lambda: state()["kernel"] == "idle", START_S, state)
    browser.execute_script(JS_RUN_ALL)

    def finished():
        s = state()
        if s.get("errors"):
            pytest.fail(f"{name}: a cell failed in JupyterLab: {s['errors']}\n{log.read_text()[-2000:]}")
        return s["kernel"] == "idle" and all(c is not None for c in s["counts"])

    wait_for(f"Run All of {name} to finish", finished, RUN_ALL_S, state)


def output_images(root) -> list:
    from selenium.webdriver.common.by import By

    return root.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output img")


def assert_no_figure_as_text(browser, name: str):
    from selenium.webdriver.common.by import By

    texts = [
        e.text for e in browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output") if "<Figure size" in e.text
    ]
    assert not texts, f"{name}: figures shown as text instead of images: {texts}"


def test_data_notebook_figures_are_images(browser, lab):
    run_all(browser, lab, "12_data.ucla.ipynb")
    assert_no_figure_as_text(browser, "12_data.ucla")
    images = output_images(browser)
    assert len(images) >= 2, f"12_data.ucla: expected its 2 figures as images, found {len(images)} img elements"
    assert all(i.get_attribute("src").startswith("data:image/png") for i in images)


def test_inspector_in_jupyterlab(browser, lab):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    run_all(browser, lab, "24_augment.inspector.ipynb")
    assert_no_figure_as_text(browser, "24_augment.inspector")
    images = output_images(browser)
    # the draws histogram, the two skeleton frames, the inspector's figure and the static picture
    assert len(images) >= 4, f"24_augment.inspector: expected >= 4 figures as images, found {len(images)}"

    cell = browser.execute_script(JS_CELL_NODE, "insp.widget")
    assert cell is not None, "no cell of 24_augment.inspector ends with `insp.widget`"
    selects = {Select(s).first_selected_option.text: s for s in cell.find_elements(By.CSS_SELECTOR, "select")}
    assert "Rotate" in selects and "S001C003P008R002A058" in selects, (
        f"the displayed inspector should show Rotate on S001C003P008R002A058 after Run All; it shows {list(selects)}"
    )
    assert cell.find_elements(By.CSS_SELECTOR, ".widget-button"), "the inspector's redraw button is missing"

    def shown():
        imgs = output_images(cell)
        return imgs[0].get_attribute("src") if len(imgs) == 1 else None

    before = wait_for(
        "the inspector's figure (one image in its output)", shown, REDRAW_S, lambda: len(output_images(cell))
    )
    Select(selects["Rotate"]).select_by_visible_text("Shear")
    wait_for("the inspector to redraw after choosing Shear", lambda: (s := shown()) and s != before, REDRAW_S)
