"""The library notebooks that take minutes run with nbdev_test (their tests are the cells); every other notebook runs
whole in a plain kernel (tests/test_notebooks_plain.py), so each runs once in CI. Cells flagged `#| slow` or `#| cuda`
run in a second, flagged pass that is skipped (and reported) unless that flag is enabled."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SLOW_NOTEBOOKS, enabled_flags
from skelnb.core import shared_data

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "nbs").glob("[0-9]*.ipynb"))
FLAG_RE = re.compile(r"^#\|\s*(slow|cuda)\s*$", re.M)


def flags_in(nb: Path) -> set:
    cells = json.loads(nb.read_text())["cells"]
    return {m for c in cells if c["cell_type"] == "code" for m in FLAG_RE.findall("".join(c["source"]))}


def run_nbdev_test(nb: Path, flags: str = "") -> subprocess.CompletedProcess:
    cmd = [str(Path(sys.executable).parent / "nbdev_test"), "--path", str(nb), "--n_workers", "0"]
    if flags:
        cmd += ["--flags", flags]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1200)


def test_found_notebooks():
    assert len(NOTEBOOKS) >= 5


def skip_without_data(nb: Path):
    text = nb.read_text()
    if shared_data() is None and ("shared_data(" in text or "skelnb.data.samples" in text):
        pytest.skip(f"{nb.name} reads ../shared/data, which is absent (set SKELNB_DATA)")


@pytest.mark.parametrize("nb", [nb for nb in NOTEBOOKS if nb.stem in SLOW_NOTEBOOKS], ids=lambda p: p.stem)
def test_notebook(nb):
    skip_without_data(nb)
    r = run_nbdev_test(nb)
    assert r.returncode == 0, f"{nb.name} failed:\n{r.stdout[-6000:]}\n{r.stderr[-6000:]}"


FLAGGED = [(nb, f) for nb in NOTEBOOKS for f in sorted(flags_in(nb))]


@pytest.mark.parametrize("nb,flag", FLAGGED, ids=[f"{nb.stem}-{f}" for nb, f in FLAGGED])
def test_notebook_flagged_cells(nb, flag, request):
    if flag not in enabled_flags(request.config):
        pytest.skip(f"{nb.name}: cells flagged {flag} ({'--run-slow' if flag == 'slow' else 'no CUDA GPU here'})")
    skip_without_data(nb)
    r = run_nbdev_test(nb, flags=flag)
    assert r.returncode == 0, f"{nb.name} [{flag}] failed:\n{r.stdout[-6000:]}\n{r.stderr[-6000:]}"
