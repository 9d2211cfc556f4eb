"""Cost of a verified checkpoint (skelnb.checkpoint): save and load, with and without the checksum, on a real state.
    python bench/checkpoint.py [--method hiclr] [--repeats 10] [--epoch-seconds 10] [--no-write]

Builds the method with its paper encoder and released settings (HiCLR: ST-GCN, queue 32,768, dim 128; HaLP/CMD: the
BiGRU) and an SGD optimiser with its momentum buffers filled, captures the state the trainer checkpoints (method,
optimiser, random states) and times, best of `--repeats`: `torch.save` alone (the unverified format), the checkpoint
as written (`save_checkpoint`: checksum + atomic save), `torch.load(weights_only=True)` alone and `load_checkpoint`
(load + verification), and the non-finite check run before every checkpoint. The added cost per checkpoint is given
as a share of an epoch of `--epoch-seconds` (the goal for an NTU60 xsub epoch on one H100: 10 s; an epoch on a CPU
takes far longer, so its share is smaller). One JSON line is printed and appended to bench/results/checkpoint.jsonl.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from skelnb.checkpoint import load_checkpoint, nonfinite_tensors, rng_states, save_checkpoint, state_checksum
from skelnb.core import versions
from skelnb.methods import build_method

ENCODERS = {"moco": "stgcn", "hiclr": "stgcn", "halp": "bigru", "cmd": "bigru"}


def method_state(name: str) -> dict:
    "The state the trainer checkpoints for `name` at its paper size, optimiser buffers included."
    method = build_method(name, encoder=ENCODERS[name], layout="ntu25")
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    for p in params:
        p.grad = torch.randn_like(p)
    optimizer.step()
    identity = dict(trainer=dict(method=name), method=json.loads(json.dumps(method.hparams, default=str)))
    return dict(identity=identity, position=dict(epoch=2, step=0, iteration=313), epoch_sums={},
                method=method.state_dict(), optimizer=optimizer.state_dict(), rng=[rng_states(torch.Generator())],
                world=1)  # fmt: skip


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)  # the best of the repeats: the machine is shared, other processes only add time


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", default="hiclr", choices=list(ENCODERS))
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--epoch-seconds", type=float, default=10.0)
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args()
    state = method_state(a.method)
    size = sum(v.numel() * v.element_size() for v in state["method"].values() if isinstance(v, torch.Tensor))
    with tempfile.TemporaryDirectory() as d:
        plain, folder = Path(d) / "plain.pt", Path(d) / "ckpts"
        path = save_checkpoint(folder, state, keep=2)
        t = dict(
            save_plain=median_seconds(lambda: torch.save(state, plain), a.repeats),
            save_verified=median_seconds(lambda: save_checkpoint(folder, state, keep=2), a.repeats),
            load_plain=median_seconds(lambda: torch.load(plain, weights_only=True), a.repeats),
            load_verified=median_seconds(lambda: load_checkpoint(path), a.repeats),
            checksum=median_seconds(lambda: state_checksum(state), a.repeats),
            nonfinite_check=median_seconds(lambda: nonfinite_tensors(state), a.repeats),
        )
        file_mb = path.stat().st_size / 2**20
    added = t["save_verified"] - t["save_plain"] + t["nonfinite_check"]  # what each checkpoint costs more now
    out = dict(method=a.method, method_state_mb=round(size / 2**20, 1), file_mb=round(file_mb, 1))
    out |= {k: round(v, 4) for k, v in t.items()}
    out |= dict(added_per_checkpoint_s=round(added, 4), epoch_seconds=a.epoch_seconds)
    out |= dict(added_share_of_epoch=round(added / a.epoch_seconds, 5), threads=torch.get_num_threads())
    out |= dict(torch=versions().get("torch"), time=time.strftime("%Y-%m-%dT%H:%M:%S"))
    print(json.dumps(out))
    if not a.no_write:
        results = Path(__file__).parent / "results"
        results.mkdir(exist_ok=True)
        with (results / "checkpoint.jsonl").open("a") as f:
            f.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
