"""The repository is consistent: the package is exactly what the notebooks export, the notebooks are clean,
README.md is the rendering of nbs/index.ipynb, and the console script answers --help."""

import filecmp
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _copy_project(tmp_path) -> Path:
    dst = tmp_path / "proj"
    dst.mkdir()
    shutil.copytree(ROOT / "nbs", dst / "nbs")
    shutil.copy(ROOT / "settings.ini", dst)
    return dst


def test_package_is_the_export_of_the_notebooks(tmp_path):
    proj = _copy_project(tmp_path)
    r = subprocess.run([str(BIN / "nbdev_export")], cwd=proj, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    exported = sorted(p.relative_to(proj / "skelnb") for p in (proj / "skelnb").rglob("*.py"))
    committed = sorted(p.relative_to(ROOT / "skelnb") for p in (ROOT / "skelnb").rglob("*.py"))
    assert exported == committed, "notebooks and skelnb/ list different modules: run nbdev_export"
    differ = [str(p) for p in exported if not filecmp.cmp(proj / "skelnb" / p, ROOT / "skelnb" / p, shallow=False)]
    assert not differ, f"skelnb/ is out of sync with nbs/ in {differ}: run nbdev_export"


def test_notebooks_are_clean(tmp_path):
    proj = _copy_project(tmp_path)
    r = subprocess.run([str(BIN / "nbdev_clean")], cwd=proj, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    dirty = [
        p.name for p in sorted((ROOT / "nbs").glob("*.ipynb")) if (proj / "nbs" / p.name).read_bytes() != p.read_bytes()
    ]
    assert not dirty, f"notebooks not clean: {dirty}: run nbdev_clean"


# What JupyterLab writes into a notebook it saves: the spec of the kernel it ran (the python3 kernel of ipykernel, whose
# display name nbdev_clean replaces by its name) and that kernel's language_info (which nbdev_clean drops).
LAB_KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
CLEAN_KERNELSPEC = {"display_name": "python3", "language": "python", "name": "python3"}
LAB_LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": "3.11.9",
}


def test_every_notebook_has_the_kernelspec_nbdev_clean_keeps():
    "Without one, JupyterLab asks for a kernel and writes one in: reading the notebook would change it."
    wrong = {
        str(nb.relative_to(ROOT)): json.loads(nb.read_text(encoding="utf-8"))["metadata"].get("kernelspec")
        for nb in _notebooks()
    }
    wrong = {k: v for k, v in wrong.items() if v != CLEAN_KERNELSPEC}
    assert not wrong, f"notebooks whose kernelspec is not {CLEAN_KERNELSPEC}: {wrong}"


def test_a_notebook_saved_by_jupyterlab_is_the_committed_one_after_nbdev_clean(tmp_path):
    "Each notebook opened and saved as JupyterLab saves it (nbformat, its kernel's metadata), then cleaned: unchanged."
    import nbformat

    proj = _copy_project(tmp_path)
    for path in (proj / "nbs").rglob("*.ipynb"):
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        nb.metadata["kernelspec"] = dict(LAB_KERNELSPEC)
        nb.metadata["language_info"] = dict(LAB_LANGUAGE_INFO)
        nbformat.write(nb, path)
    r = subprocess.run([str(BIN / "nbdev_clean")], cwd=proj, capture_output=True, text=True)
    assert r.returncode == 0 and "Failed" not in r.stderr, r.stderr
    changed = [
        str(nb.relative_to(ROOT))
        for nb in _notebooks()
        if (proj / nb.relative_to(ROOT)).read_bytes() != nb.read_bytes()
    ]
    assert not changed, f"saved by JupyterLab and cleaned, these differ from the committed notebook: {changed}"


def test_readme_is_index_notebook():
    r = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "sync_readme.py"), "--check"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize(
    "sub", [[], ["prepare"], ["doctor"], ["import"], ["layouts"], ["pretrain"], ["run"], ["report"], ["evaluate"]]
)
def test_console_script_help(sub):
    r = subprocess.run([str(BIN / "skelnb"), *sub, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("usage: skelnb"), r.stderr


# --- form: one formatter, a line length, small export cells, clean markdown -------------------------------------------
FORMATTED = ["nbs", "tests", "bench", "tools"]
MAX_EXPORT_LINES = 60
EXPORT_RE = re.compile(r"^#\|\s*export[i]?\s*$", re.M)
CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # every control character but \n; tabs included


def _ruff(*args) -> subprocess.CompletedProcess:
    ruff = BIN / "ruff"
    if not ruff.exists():
        pytest.fail(f"ruff is not installed in {BIN} (it is a dev requirement: bash run.sh setup)")
    return subprocess.run([str(ruff), *args], cwd=ROOT, capture_output=True, text=True)


def _notebooks() -> list[Path]:
    return sorted(p for p in (ROOT / "nbs").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _cells(nb: Path):
    "(index, id, type, source) of every cell of a notebook; the index counts from 0 (messages count from 1, as ruff)."
    for i, c in enumerate(json.loads(nb.read_text(encoding="utf-8"))["cells"]):
        yield i, c.get("id", "?"), c["cell_type"], "".join(c["source"])


def test_code_is_formatted():
    r = _ruff("format", "--check", *FORMATTED)
    assert r.returncode == 0, f"not formatted as ruff.toml says (run: ruff format {' '.join(FORMATTED)}):\n{r.stdout}"


def test_no_line_over_120_characters():
    r = _ruff("check", "--select", "E501", "--output-format", "concise", "--no-cache", *FORMATTED)
    assert r.returncode == 0, f"lines over 120 characters (file:cell:line:column):\n{r.stdout}{r.stderr}"


def test_export_cells_are_small():
    big = [
        f"{nb.relative_to(ROOT)} cell {i + 1} (id {cid}): {len(src.splitlines())} lines, {src.splitlines()[1:2]}"
        for nb in _notebooks()
        for i, cid, kind, src in _cells(nb)
        if kind == "code" and EXPORT_RE.search(src) and len(src.splitlines()) > MAX_EXPORT_LINES
    ]
    assert not big, f"#| export cells over {MAX_EXPORT_LINES} lines (split them, e.g. with @patch):\n" + "\n".join(big)


def test_markdown_has_no_control_characters():
    "A lost backslash escape (\\b, \\t in LaTeX) leaves a control character in the prose; tabs do not belong either."
    found = [
        f"{nb.relative_to(ROOT)} cell {i + 1} (id {cid}) line {n}: {m.group()!r} at {line[: m.start()][-24:]!r}"
        for nb in _notebooks()
        for i, cid, kind, src in _cells(nb)
        if kind == "markdown"
        for n, line in enumerate(src.split("\n"), 1)
        for m in CONTROL_RE.finditer(line)
    ]
    assert not found, "control characters in markdown:\n" + "\n".join(found)


# The project cites what a reader can open: the upstream repositories (owner/name@commit, file, lines) and the papers,
# never notes kept beside the repository.
CITED = ["nbs", "skelnb", "README.md", "papermill_runs"]
OUTSIDE = re.compile(r"\.\./shared/reference|reference_code\.md|users\.md")


def test_no_citation_of_files_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files", "-z", *CITED], cwd=ROOT, capture_output=True, check=True).stdout
    found = [
        f"{name}:{n}: {m.group()} in {line.strip()[:90]!r}"
        for name in filter(None, tracked.decode().split("\0"))
        if (ROOT / name).is_file() and not name.endswith(".png")
        for n, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), 1)
        for m in OUTSIDE.finditer(line)
    ]
    assert not found, "cite the upstream code (repository@commit, file, lines), not notes outside it:\n" + "\n".join(
        found
    )


def test_the_tree_guard_sees_writes_and_stands_aside_outside_a_checkout(tmp_path):
    "conftest's `tree_state`, which fails a session whose tests wrote into the project, on a repository of one file."
    from conftest import tree_state

    assert tree_state(tmp_path) is None  # not a git checkout: the guard does nothing
    git = lambda *args: subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    (tmp_path / "a.txt").write_text("a\n")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "a")
    clean = tree_state(tmp_path)
    assert clean is not None and clean[0] == ""
    (tmp_path / "a.txt").write_text("b\n")
    changed = tree_state(tmp_path)
    assert changed[0] == " M a.txt\n"
    (tmp_path / "a.txt").write_text("c\n")
    assert tree_state(tmp_path) not in (clean, changed)  # changed again: the same status, another digest
    (tmp_path / "a.txt").write_text("a\n")
    assert tree_state(tmp_path) == clean
    (tmp_path / "new.png").write_bytes(b"\x89PNG")
    assert tree_state(tmp_path)[0] == "?? new.png\n"  # a new file git does not ignore
    (tmp_path / "sub").mkdir()
    assert tree_state(tmp_path / "sub") is None  # a folder inside another repository is not a checkout of it
