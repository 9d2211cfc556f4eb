"""Time `prepare` + `doctor` on real data (default: all 1,484 NW-UCLA sequences, HiCLR pipeline, 2 workers).
    python bench/prepare.py [--dataset nw-ucla] [--raw PATH] [--pipeline hiclr] [--workers 2] [--repeat 3]
Prints one JSON line per run (wall seconds of prepare and of doctor, samples per second) and writes it to
bench/results/prepare.jsonl."""

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from skelnb.core import shared_data, versions
from skelnb.data.doctor import doctor
from skelnb.data.prepare import prepare

DEFAULT_RAW = {"nw-ucla": ("nw_ucla",), "ntu60": ("ntu_samples",), "pku1": ("pku_mmd_samples",)}

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="nw-ucla", choices=list(DEFAULT_RAW))
    ap.add_argument("--raw")
    ap.add_argument("--pipeline", default="hiclr")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    raw = a.raw or shared_data(*DEFAULT_RAW[a.dataset], required=True)
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    for i in range(a.repeat):
        out = Path(tempfile.mkdtemp())
        t0 = time.perf_counter()
        rep = prepare(a.dataset, raw, out, pipeline=a.pipeline, workers=a.workers, progress=False)
        t1 = time.perf_counter()
        doctor(out / f"{a.dataset}-{a.pipeline}")
        t2 = time.perf_counter()
        n = sum(rep["counts"][next(iter(rep["counts"]))].values())
        row = {
            "dataset": a.dataset,
            "pipeline": a.pipeline,
            "workers": a.workers,
            "samples": n,
            "prepare_s": round(t1 - t0, 2),
            "doctor_s": round(t2 - t1, 2),
            "total_s": round(t2 - t0, 2),
            "samples_per_s": round(n / (t1 - t0), 1),
            "run": i,
            "versions": versions(),
        }
        print(json.dumps(row))
        with open(results / "prepare.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        shutil.rmtree(out, ignore_errors=True)
