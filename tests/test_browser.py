"""The notebooks as a reader meets them: `bash run.sh lab` (JupyterLab from this environment) in headless Chromium,
driven by selenium.

The server is started by the command a reader types, `bash run.sh lab`, so the test checks run.sh's own settings: the
project folder as root, opening on nbs/, papermill_runs/ reachable, and notebooks of nbs/ saved as `nbdev_clean` leaves
them. It runs in a copy of this checkout: its files as they are in the working tree (tracked and new ones), committed
to a git repository of its own. Running a notebook writes its outputs into the notebook at the next autosave, so a
Run All in the checkout itself would change the user's files; in the copy it changes nothing of theirs, and the copy's
own `git status` starts clean, so that the open-and-save test can assert that it stays so (in the checkout, a file
the user has modified already would hide a change). The server has its own Jupyter config, data, runtime and settings
folders (nothing of the user's Jupyter set-up is read) and autosaves every few seconds, as JupyterLab does every two
minutes.

Checked: the lab opens on nbs/ and reaches papermill_runs/; opening a notebook (its kernel starts), letting it autosave,
saving it with Ctrl-S and closing it leaves `git status` clean; Run All of `24_augment.inspector`, `43_methods.halp`
and the data notebook `12_data.ucla` finishes without an error output (a failing cell is reported: checked on a
scratch notebook), every figure shows as an image (no `<Figure size ...>` text), the inspector's widgets appear and
show what their own cell asked for, and changing one of its controls redraws its figure without an error. Needs the
Debian packages `chromium` and `chromium-driver`, the Python package selenium (a dev requirement; `.ci/run` installs
the packages) and the environment `bash run.sh setup` made; without them the test skips and says which is missing.
"""

import copy
import hashlib
import json
import os
import re
import runpy
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from skelnb.core import shared_data

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
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
START_S, RUN_ALL_S, REDRAW_S, SAVE_S = (
    90,
    240,
    60,
    60,
)  # explicit limits of each wait; a wait that runs out fails with what it saw

AUTOSAVE_S = 3  # JupyterLab's autosave interval in the test (its default: 120 s)

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
JS_OPEN_PATHS = """
const widgets = Array.from(window.jupyterapp.shell.widgets('main'));
return widgets.filter(w => w.context).map(w => w.context.path);
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


def _setup_done() -> bool:
    "Whether this interpreter's environment is the one `bash run.sh setup` made for these settings (its stamp)."
    want = hashlib.sha256(b"".join((ROOT / f).read_bytes() for f in ("settings.ini", "setup.py", "run.sh"))).hexdigest()
    stamp = Path(sys.prefix) / ".skelnb-setup"
    return stamp.exists() and stamp.read_text().strip() == want


GIT_IDENTITY = ("-c", "user.name=test", "-c", "user.email=test@localhost", "-c", "commit.gpgsign=false")


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    "A copy of the checkout's files as they are in the working tree, committed to a git repository of its own."
    if why := _missing():
        pytest.skip(why)
    folder = tmp_path_factory.mktemp("project")
    for name in filter(None, git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")):
        if (ROOT / name).is_file():  # not a file deleted in the working tree
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, folder / name)
    git(folder, "init", "--quiet")
    git(folder, "add", "--all")
    git(folder, *GIT_IDENTITY, "commit", "--quiet", "--message", "the checkout's files")
    return folder


@pytest.fixture(scope="module")
def lab(project, tmp_path_factory):
    "`bash run.sh lab` of the copy on 127.0.0.1, its own Jupyter folders and settings: (base URL, token, log file)."
    if not _setup_done():
        pytest.skip(f"{sys.prefix} is not the environment `bash run.sh setup` made for this checkout: run it")
    tmp = tmp_path_factory.mktemp("lab")
    settings = tmp / "settings"
    # every cell in the DOM (no virtual scrolling), no news or update checks, autosave every few seconds
    for plugin, values in {
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/docmanager-extension/plugin": {"autosave": True, "autosaveInterval": AUTOSAVE_S},
    }.items():
        (settings / plugin).parent.mkdir(parents=True, exist_ok=True)
        (settings / f"{plugin}.jupyterlab-settings").write_text(json.dumps(values))
    env = {
        **os.environ,
        "SKELNB_VENV": sys.prefix,  # set up (checked above): run.sh only activates it
        "SKELNB_DATA": str(shared_data()),  # the copy has no ../shared beside it
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),
        "JUPYTER_DATA_DIR": str(tmp / "data"),  # no user kernelspec: python3 is this interpreter's ipykernel
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
        "IPYTHONDIR": str(tmp / "ipython"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(project), os.environ.get("PYTHONPATH")])),  # the copy's skelnb
    }
    for name in ("MPLBACKEND", "JUPYTER_CONFIG_PATH"):  # the kernel chooses (inline); only run.sh's server config
        env.pop(name, None)
    port, token = _free_port(), secrets.token_hex(16)
    log = tmp / "jupyter.log"
    cmd = [
        "bash",
        str(project / "run.sh"),
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--LabApp.expose_app_in_browser=True",
    ]
    with open(log, "w") as out:
        server = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
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


def stop_sessions(lab):
    "Shut down every notebook session (and its kernel) of the server, through its REST API."
    base, token, _ = lab
    api = lambda path, method="GET": urllib.request.Request(  # noqa: E731
        f"{base}/api/sessions{path}", method=method, headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(api(""), timeout=30) as r:
        sessions = json.load(r)
    for session in sessions:
        urllib.request.urlopen(api(f"/{session['id']}", "DELETE"), timeout=30).close()


def open_notebook(browser, lab, name: str):
    "Open the notebook at `name` (a path under the served folder) in a fresh workspace and wait for an idle kernel."
    base, token, _ = lab
    stop_sessions(lab)  # one notebook's kernel at a time: the earlier tests' kernels hold memory the machine may need
    # a workspace of its own, reset: only this notebook is open (none restored from an earlier page)
    browser.get(f"{base}/lab/workspaces/{Path(name).name.split('.')[0]}/tree/{name}?reset&token={token}")
    state = lambda: browser.execute_script(JS_STATE)  # noqa: E731
    wait_for(f"{name} to open with an idle kernel", lambda: state()["kernel"] == "idle", START_S, state)
    return state


def run_all(browser, lab, name: str):
    "Open the notebook, wait for its kernel, Run All, and wait until every code cell ran; fail on an error output."
    state = open_notebook(browser, lab, name)
    browser.execute_script(JS_RUN_ALL)

    def finished():
        s = state()
        if s.get("errors"):
            pytest.fail(f"{name}: a cell failed in JupyterLab: {s['errors']}\n{lab[2].read_text()[-2000:]}")
        return s["kernel"] == "idle" and all(c is not None for c in s["counts"])

    wait_for(f"Run All of {name} to finish", finished, RUN_ALL_S, state)
    assert_no_error_shown(browser, name)


# An error as JupyterLab shows it: its own mime type, or (JupyterLab 4) stderr text holding the traceback. This also
# finds errors that are no cell's output, such as one inside a widget's Output area after a control changed.
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|^\w*(Error|Exception)\b", re.M)


def assert_no_error_shown(browser, name: str):
    from selenium.webdriver.common.by import By

    shown = [
        e.text
        for e in browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output")
        if e.get_attribute("data-mime-type") == "application/vnd.jupyter.error"
        or (e.get_attribute("data-mime-type") == "application/vnd.jupyter.stderr" and ERROR_TEXT.search(e.text))
    ]
    assert not shown, f"{name}: error output shown in JupyterLab: {[t[-1500:] for t in shown]}"


def output_images(root) -> list:
    from selenium.webdriver.common.by import By

    return root.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output img")


def assert_no_figure_as_text(browser, name: str):
    from selenium.webdriver.common.by import By

    texts = [
        e.text for e in browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output") if "<Figure size" in e.text
    ]
    assert not texts, f"{name}: figures shown as text instead of images: {texts}"


def listing(browser) -> list:
    from selenium.webdriver.common.by import By

    return [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".jp-DirListing-itemName")]


def test_lab_opens_on_nbs_and_reaches_papermill_runs(browser, lab):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    base, token, _ = lab
    browser.get(f"{base}/?token={token}")  # the URL run.sh's server prints, less its path
    wait_for(
        "the lab to open on nbs/",
        lambda: browser.current_url.split("?")[0].endswith("/lab/tree/nbs"),
        START_S,
        lambda: browser.current_url,
    )
    wait_for(
        "the file browser to list nbs/",
        lambda: "43_methods.halp.ipynb" in listing(browser),
        START_S,
        lambda: listing(browser),
    )
    crumbs = browser.find_element(By.CSS_SELECTOR, ".jp-BreadCrumbs").text
    assert "nbs" in crumbs, f"the file browser should show nbs/ as its folder; its path reads {crumbs!r}"
    browser.find_element(By.CSS_SELECTOR, ".jp-BreadCrumbs-home").click()  # up to the project folder
    wait_for(
        "the project folder with nbs/ and papermill_runs/",
        lambda: {"nbs", "papermill_runs"} <= set(listing(browser)),
        START_S,
        lambda: listing(browser),
    )
    item = next(
        e
        for e in browser.find_elements(By.CSS_SELECTOR, ".jp-DirListing-item")
        if e.find_element(By.CSS_SELECTOR, ".jp-DirListing-itemName").text == "papermill_runs"
    )
    ActionChains(browser).double_click(item).perform()
    wait_for(
        "papermill_runs/ to open (its plans/ and README.md)",
        lambda: {"plans", "README.md"} <= set(listing(browser)),
        START_S,
        lambda: listing(browser),
    )


def saves(log: Path, name: str) -> int:
    "How many times the server saved `name` (it logs each save)."
    return len(re.findall(rf"Saving file at /?{re.escape(name)}\b", log.read_text()))


def test_open_save_close_leaves_git_status_clean(browser, lab, project):
    "A notebook opened (its kernel starts and rewrites its metadata), autosaved, saved with Ctrl-S and closed."
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    name, log = "nbs/80_study.compute.ipynb", lab[2]  # one with outputs (figures): they are saved too
    before = git(project, "status", "--porcelain")
    assert name not in before, f"{name} is already modified in the copy: {before}"
    saved = saves(log, name)  # before opening: the kernel's metadata may be autosaved while the kernel starts
    open_notebook(browser, lab, name)
    wait_for(
        f"JupyterLab to autosave {name} (every {AUTOSAVE_S} s here)",
        lambda: saves(log, name) > saved,
        SAVE_S,
        lambda: browser.execute_script("return window.jupyterapp.shell.currentWidget.context.model.dirty"),
    )
    saved = saves(log, name)
    browser.find_element(By.CSS_SELECTOR, ".jp-Notebook").click()
    ActionChains(browser).key_down(Keys.CONTROL).send_keys("s").key_up(Keys.CONTROL).perform()
    wait_for(f"Ctrl-S to save {name}", lambda: saves(log, name) > saved, SAVE_S, lambda: log.read_text()[-1000:])
    browser.find_element(
        By.CSS_SELECTOR, "#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabCloseIcon"
    ).click()
    wait_for(
        f"{name} to close",
        lambda: not browser.execute_script(JS_OPEN_PATHS),
        SAVE_S,
        lambda: browser.execute_script(JS_OPEN_PATHS),
    )
    after = git(project, "status", "--porcelain")
    assert after == before, f"opening and saving {name} changed the repository:\n{after}\n{git(project, 'diff')[:3000]}"


def test_save_hook_cleans_only_notebooks_of_nbs():
    "run.sh lab's pre-save hook, called as the server calls it: nbs/ notebooks saved as nbdev_clean leaves them."
    from traitlets.config import Config

    config = runpy.run_path(str(ROOT / "tools" / "jupyter" / "jupyter_server_config.py"), {"c": Config()})
    hook, server = config["clean_source_notebook"], SimpleNamespace(root_dir=str(ROOT))
    assert config["c"].ContentsManager.pre_save_hook is hook
    clean = json.loads((ROOT / "nbs" / "00_core.ipynb").read_text())  # committed clean (tests/test_repo.py)
    opened = copy.deepcopy(clean)  # as the kernel's start and a run leave it in JupyterLab
    opened["metadata"]["kernelspec"]["display_name"] = "Python 3 (ipykernel)"
    opened["metadata"]["language_info"] = {"name": "python", "version": "3.11"}
    next(c for c in opened["cells"] if c["cell_type"] == "code")["execution_count"] = 3

    def saved(path: str) -> dict:
        model = {"type": "notebook", "content": copy.deepcopy(opened)}
        hook(model=model, path=path, contents_manager=server)
        return model["content"]

    assert saved("nbs/00_core.ipynb") == clean
    for elsewhere in ("papermill_runs/quickstart/pretrain.ipynb", "nbs/.ipynb_checkpoints/00_core-checkpoint.ipynb"):
        assert saved(elsewhere) == opened, f"{elsewhere} should be saved as it is"


def test_run_all_reports_a_failing_cell(browser, lab, project):
    "The check every Run All below relies on: a scratch notebook whose second cell raises fails it, naming the error."
    import nbformat

    cells = ["print('before')", "raise ValueError('a failing cell')", "print('after')"]
    kernel = {"name": "python3", "display_name": "python3", "language": "python"}
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in cells], metadata={"kernelspec": kernel}
    )
    (project / "scratch").mkdir(exist_ok=True)
    nbformat.write(notebook, project / "scratch" / "failing.ipynb")
    with pytest.raises(pytest.fail.Exception, match="ValueError: a failing cell"):
        run_all(browser, lab, "scratch/failing.ipynb")
    with pytest.raises(AssertionError, match="ValueError"):
        assert_no_error_shown(browser, "scratch/failing.ipynb")


def test_halp_notebook_runs_all(browser, lab):
    run_all(browser, lab, "nbs/43_methods.halp.ipynb")
    assert_no_figure_as_text(browser, "43_methods.halp")


def test_data_notebook_figures_are_images(browser, lab):
    run_all(browser, lab, "nbs/12_data.ucla.ipynb")
    assert_no_figure_as_text(browser, "12_data.ucla")
    images = output_images(browser)
    assert len(images) >= 2, f"12_data.ucla: expected its 2 figures as images, found {len(images)} img elements"
    assert all(i.get_attribute("src").startswith("data:image/png") for i in images)


def test_inspector_in_jupyterlab(browser, lab):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    run_all(browser, lab, "nbs/24_augment.inspector.ipynb")
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
    assert_no_error_shown(browser, "24_augment.inspector after choosing Shear")
