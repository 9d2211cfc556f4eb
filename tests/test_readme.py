"""Every ```python example of README.md runs as written, each in a fresh interpreter, from a folder laid out like the
project folder after `bash run.sh main` (NW-UCLA prepared into `prepared/`, here in a temporary folder)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from skelnb.core import shared_data

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def readme_examples() -> list[str]:
    return BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def test_readme_has_python_examples():
    assert readme_examples(), "README.md has no ```python block: the examples are gone or the fence changed"


@pytest.fixture(scope="module")
def project_like(tmp_path_factory):
    "A folder with `prepared/` as `bash run.sh main` leaves it (NW-UCLA, HiCLR pipeline)."
    raw = shared_data("nw_ucla")
    if raw is None:
        pytest.skip("README examples read prepared NW-UCLA; ../shared/data/nw_ucla is absent (set SKELNB_DATA)")
    folder = tmp_path_factory.mktemp("readme")
    cmd = [str(Path(sys.executable).parent / "skelnb"), "prepare", "nw-ucla", "--raw", str(raw), "--out", "prepared"]
    r = subprocess.run([*cmd, "--pipeline", "hiclr"], cwd=folder, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"preparing NW-UCLA as `bash run.sh main` does failed:\n{r.stdout}\n{r.stderr}"
    return folder


@pytest.mark.parametrize("index", range(len(readme_examples())))
def test_readme_example_runs(index, request):
    code = readme_examples()[index]
    cwd = request.getfixturevalue("project_like") if "prepared/" in code else request.getfixturevalue("tmp_path")
    r = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600)
    first = code.strip().splitlines()[0]
    assert r.returncode == 0, f"README.md python example {index + 1} (starting {first!r}) failed:\n{r.stderr[-4000:]}"
