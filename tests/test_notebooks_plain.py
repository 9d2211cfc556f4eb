"""Every notebook runs top to bottom in a plain Jupyter kernel, as Run All in JupyterLab runs it: every cell, the
`#| slow` and `#| cuda` ones included (a CUDA-only cell says it skipped on a machine without CUDA), with no error
output, and running it changes no file of the repository.

Unlike `nbdev_test` (tests/test_notebooks.py), nothing is skipped by flag. The notebooks are executed with nbclient
from a temporary copy of `nbs/` (next to a link to the shared data, as in the project folder), so the executed
copies never replace the sources; the tracked files of the repository (and its untracked, not ignored files) are
hashed before and after each notebook. The kernels draw with another default font, as a machine with other fonts
would, so a cell that rewrites a picture of the repository from what it draws is caught. The experiment notebooks
of `nbs/experiments/` get small parameters (papermill's injected-parameters cell) on a few real NW-UCLA and NTU
sequences. Notebooks that take minutes are marked `slow` (run with --run-slow); their measured times are in SLOW.
"""

import functools
import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import SLOW_NOTEBOOKS as SLOW
from skelnb.core import shared_data

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = sorted((ROOT / "nbs").glob("*.ipynb"))
EXPERIMENTS = ["prepare_dataset", "pretrain", "evaluate", "fusion", "report"]  # in the order they need each other
CELL_TIMEOUT_S = 1200


def tracked_state() -> dict:
    "sha256 of every tracked file, and `git status` of the tree (untracked files that are not ignored included)."
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    state = {}
    for name in filter(None, files.decode().split("\0")):
        path = ROOT / name
        state[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"
    status = ["git", "status", "--porcelain", "--untracked-files=all"]
    state["git status"] = subprocess.run(status, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return state


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory):
    "A temporary project folder: a copy of nbs/ and the settings, `../shared` linked to the shared data."
    if shared_data() is None:
        pytest.skip("the notebooks read ../shared/data, which is absent (set SKELNB_DATA)")
    folder = tmp_path_factory.mktemp("plain") / "project"
    shutil.copytree(ROOT / "nbs", folder / "nbs")
    shutil.copy(ROOT / "settings.ini", folder)
    (folder.parent / "shared").symlink_to(shared_data().parent, target_is_directory=True)
    return folder


@functools.cache
def another_machine_env() -> dict:
    "The environment of the kernels: matplotlib's default font changed (a matplotlibrc of its own), all else as here."
    import os
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="skelnb-mplrc-"))
    (folder / "matplotlibrc").write_text("font.family: serif\nfont.serif: DejaVu Serif\n")
    return dict(os.environ, MATPLOTLIBRC=str(folder))


def execute(path: Path, cwd: Path, parameters: dict | None = None):
    "Execute the notebook at `path` in a plain python3 kernel from `cwd`; the executed notebook and its error outputs."
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    if parameters is not None:  # papermill's injected-parameters cell after the `parameters` one
        from papermill.iorw import load_notebook_node
        from papermill.parameterize import parameterize_notebook

        nb = parameterize_notebook(load_notebook_node(str(path)), parameters, kernel_name="python3")
    client = NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT_S, allow_errors=True,
                            resources={"metadata": {"path": str(cwd)}})  # fmt: skip
    client.execute(env=another_machine_env())
    errors = [
        f"cell {i} ({''.join(c.source).splitlines()[0][:60]!r}): {o.ename}: {o.evalue}"
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    return nb, errors


def check_runs_cleanly(name: str, run):
    "Run `run()` (which returns the error outputs); assert there are none and that the repository is unchanged."
    before = tracked_state()
    start = time.monotonic()
    errors = run()
    print(f"{name}: {time.monotonic() - start:.0f} s in a plain kernel")
    after = tracked_state()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not errors, f"{name}: error outputs in a plain kernel:\n" + "\n".join(errors)
    assert not changed, f"{name}: running it changed files of the repository: {changed}\n{after['git status']}"


def marks(name: str) -> list:
    return [pytest.mark.slow] if name in SLOW else []


@pytest.mark.parametrize("nb", [pytest.param(p, marks=marks(p.stem)) for p in LIBRARY], ids=lambda p: p.stem)
def test_notebook_runs_in_a_plain_kernel(nb, project_copy):
    check_runs_cleanly(nb.name, lambda: execute(project_copy / "nbs" / nb.name, project_copy / "nbs")[1])


# --- the experiment notebooks, with small parameters, each after the ones whose outputs it reads ------------------


@pytest.fixture(scope="module")
def experiments(tmp_path_factory):
    "Memoised executions of the experiment notebooks: `run(name)` executes `name` (and what it needs) once."
    from conftest import ucla_split

    folder = tmp_path_factory.mktemp("experiments")
    root = folder / "data"
    for part, views in (("train", (1, 2)), ("val", (3,))):
        ucla_split(root / "nw-ucla-hiclr" / "xview" / part, actions=(1, 2, 3, 4), subjects=(1, 2, 3), views=views)
    tiny_moco = dict(queue_size=16, dim=8, encoder_hidden_channels=4, encoder_hidden_dim=16)
    data = dict(data_root=str(root), dataset="nw-ucla", pipeline="hiclr", split="xview")
    linear = dict(
        data, protocol="linear", epochs=1, holdout_fraction=0.25, device="cpu", checkpoint=str(folder / "pretrain")
    )
    parameters = {
        "prepare_dataset": dict(dataset="ntu60", raw=str(shared_data("ntu_samples")), pipeline="halp",
                                out=str(folder / "prepared"), workers=1),
        "pretrain": dict(data, method="moco", epochs=1, batch_size=8, method_params=tiny_moco,
                         trainer_params=dict(device="cpu"), out=str(folder / "pretrain")),
        "evaluate": dict(linear, stream="joint", out=str(folder / "joint")),
        "evaluate-motion": dict(linear, stream="motion", figures=False, out=str(folder / "motion"), checkpoint="",
                                encoder="stgcn", encoder_params=dict(hidden_channels=4, hidden_dim=16)),
        "fusion": dict(results=[str(folder / "joint"), str(folder / "motion")], out=str(folder / "fusion")),
        "report": dict(plan="quickstart", runs_root=str(folder / "runs"), out=str(folder / "report")),
    }  # fmt: skip
    needs = {"evaluate": ["pretrain"], "fusion": ["evaluate", "evaluate-motion"]}
    done = {}

    def run(name: str) -> list:
        "The error outputs of `name`'s execution, after those of the notebooks it needs."
        if name not in done:
            errors = [f"(needed) {n}: {e}" for n in needs.get(name, []) for e in run(n)]
            notebook = ROOT / "nbs" / "experiments" / f"{name.split('-')[0]}.ipynb"
            done[name] = errors + execute(notebook, folder, parameters[name])[1]
        return done[name]

    return run


@pytest.mark.parametrize("name", [pytest.param(n, marks=marks(n)) for n in EXPERIMENTS])
def test_experiment_notebook_runs_in_a_plain_kernel(name, experiments):
    check_runs_cleanly(f"experiments/{name}.ipynb", lambda: experiments(name))
