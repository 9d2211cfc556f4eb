"""The repository is consistent: the package is exactly what the notebooks export, the notebooks are clean,
README.md is the rendering of nbs/index.ipynb, and the console script answers --help."""

import filecmp
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


def test_readme_is_index_notebook():
    r = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "sync_readme.py"), "--check"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("sub", [[], ["prepare"], ["doctor"], ["import"], ["layouts"]])
def test_console_script_help(sub):
    r = subprocess.run([str(BIN / "skelnb"), *sub, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("usage: skelnb"), r.stderr
