"""bench/gpu_check.py, the prepared GPU check, in its CPU smoke mode (tiny sizes): every section runs, the table and
gpu_check.json come out, nothing fails. On a GPU machine the same script runs at full size."""

import json
import subprocess
import sys
from pathlib import Path

from skelnb.core import shared_data

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_smoke_runs_every_section(tmp_path):
    out = tmp_path / "gpu_check.json"
    done = subprocess.run([sys.executable, "bench/gpu_check.py", "--cpu-smoke", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    assert report["mode"] == "cpu-smoke" and report["device"] == "cpu"
    sections = {r["section"] for r in report["rows"]}
    assert sections == {"tests", "views", "encoders", "epoch", "fit", "knn", "ucla"}, sections
    assert not [r for r in report["rows"] if r["passed"] is False], report["rows"]
    checks = {r["check"] for r in report["rows"]}
    assert {"HiCLR 4 views, batch 16", "HaLP 2 views, batch 16", "data path share of a step (median)"} <= checks
    if shared_data("nw_ucla") is not None:  # else the section says it was skipped
        assert [r for r in report["rows"] if r["check"].startswith("halp: 1-NN / linear")]
    assert done.stdout.startswith("section") and "samples/s" in done.stdout and "wrote" in done.stdout
