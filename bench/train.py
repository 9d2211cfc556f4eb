"""Speed of the trainer (skelnb.train): step time, samples per second and the data-wait split, per method.
    python bench/train.py [--methods moco,hiclr,halp,cmd] [--batch 16] [--steps 6] [--threads 1] [--width 1.0]
                          [--device auto] [--no-write]

Each method trains with its paper encoder (MoCo and HiCLR: ST-GCN; HaLP and CMD: the BiGRU) and released settings
(queues 32,768 / 16,384) through `skelnb.train.train` on a prepared split written to a temporary folder: the five real
NTU samples of the shared data (HiCLR's pipeline, 50 frames) tiled to `batch * steps` sequences, memory-mapped as in a
real run. `--width` < 1 scales the ST-GCN's hidden channels (`encoder_hidden_channels`) for a quick CPU look.
From the run's steps.csv: the median step time (after the first step, which includes warm-up), samples per second,
the sum of the step times (`epoch_step_s`, the first step included) and the fraction of a step spent reading and
moving the batch (`data_wait`). One JSON line per method is printed and appended to bench/results/train.jsonl with
the load average, the thread count and the device. The issue's goal on one H100-class GPU (HiCLR, ST-GCN, batch
128): an NTU60 xsub epoch (313 steps) in at most 10 s, data_wait <= 5 %.
"""

import argparse
import csv
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from skelnb.core import shared_data, versions
from skelnb.data.samples import ntu_samples
from skelnb.data.store import write_split
from skelnb.train import train

ENCODERS = {"moco": "stgcn", "hiclr": "stgcn", "halp": "bigru", "cmd": "bigru"}


def tiled_split(folder: Path, n: int) -> Path:
    "A split of `n` sequences, the real NTU samples repeated (random sequences of that shape without the shared data)."
    if shared_data("ntu_samples") is None:
        rng = np.random.default_rng(0)
        x, labels = rng.standard_normal((n, 3, 50, 25, 2), dtype=np.float32), rng.integers(0, 60, n)
        frames = np.full(n, 50)
    else:
        b = ntu_samples()
        reps = -(-n // len(b))
        x = np.tile(b.x.numpy(), (reps, 1, 1, 1, 1))[:n]
        labels = np.tile(b.labels.numpy(), reps)[:n]
        frames = np.tile(b.num_frames.numpy(), reps)[:n]
    names = [f"s{i:06d}" for i in range(n)]
    return write_split(folder, x, labels, names, frames, meta=dict(layout="ntu25", num_classes=60))


def bench_method(method: str, data: Path, out: Path, args) -> dict:
    "Train `method` for one epoch of `args.steps` steps; the timing summary of its steps.csv."
    extra = {}
    if ENCODERS[method] == "stgcn" and args.width != 1.0:
        extra["encoder_hidden_channels"] = max(1, int(16 * args.width))
    t = time.perf_counter()
    train(method=method, encoder=ENCODERS[method], data=str(data), output=str(out), epochs=1, batch_size=args.batch,
          progress=False, device=args.device, **extra)  # fmt: skip
    wall = time.perf_counter() - t
    rows = list(csv.DictReader((out / "steps.csv").open()))
    per = {name: [float(r["value"]) for r in rows if r["name"] == name] for name in ("samples_per_s", "data_wait")}
    step_s = [args.batch / v for v in per["samples_per_s"][1:]]
    median = statistics.median(step_s)
    return dict(bench="train", method=method, encoder=ENCODERS[method], batch=args.batch,
                steps=len(per["samples_per_s"]), step_ms_median=1000 * median, samples_per_s=args.batch / median,
                epoch_step_s=sum(args.batch / v for v in per["samples_per_s"]),
                data_wait_median=statistics.median(per["data_wait"][1:]), run_wall_s=wall,
                width=args.width)  # fmt: skip


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", default="moco,hiclr,halp,cmd")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as d:
        data = tiled_split(Path(d) / "split", args.batch * args.steps)
        for method in args.methods.split(","):
            res = bench_method(method, data, Path(d) / method, args)
            res |= dict(threads=args.threads, load=os.getloadavg()[0], device=args.device,
                        cuda=torch.cuda.get_device_name() if torch.cuda.is_available() else None,
                        torch=versions()["torch"], when=time.strftime("%Y-%m-%dT%H:%M:%S"))  # fmt: skip
            print(json.dumps(res))
            if not args.no_write:
                Path("bench/results").mkdir(parents=True, exist_ok=True)
                with open("bench/results/train.jsonl", "a") as f:
                    f.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
