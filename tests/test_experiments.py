"""The experiment notebooks run under papermill with parameters, as a researcher's batch would run them."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_prepare_dataset_notebook_runs_with_parameters(tmp_path, shared):
    out_nb = tmp_path / "run.ipynb"
    cmd = [
        str(Path(sys.executable).parent / "papermill"),
        str(ROOT / "nbs" / "experiments" / "prepare_dataset.ipynb"),
        str(out_nb),
        "--cwd",
        str(tmp_path),
        "-k",
        "python3",
        "--stdout-file",
        str(tmp_path / "stdout.txt"),
        "-r",
        "dataset",
        "ntu60",
        "-r",
        "raw",
        str(shared / "ntu_samples"),
        "-r",
        "out",
        str(tmp_path / "prepared"),
        "-r",
        "pipeline",
        "halp",
        "-p",
        "workers",
        "1",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    assert (tmp_path / "prepared" / "ntu60-halp" / "xsub" / "train" / "meta.json").exists()
    text = (tmp_path / "stdout.txt").read_text()
    assert "xsub: train 3, val 2" in text and '"pipeline": "halp"' in text
    nb = json.loads(out_nb.read_text())
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in nb["cells"])
