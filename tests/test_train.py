"""The trainer (skelnb.train): exact resume after SIGKILL, checkpoints, run folder, bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from skelnb.core import shared_data
from skelnb.train import load_checkpoint, newest_checkpoint, train

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(encoder="stgcn", encoder_hidden_channels=4, encoder_hidden_dim=16, queue_size=16, dim=8)


@pytest.fixture(scope="module")
def ucla(tmp_path_factory):
    "A prepared split of 16 real NW-UCLA sequences (4 actions x 4), HiCLR's pipeline, 50 frames."
    if shared_data("nw_ucla") is None:
        pytest.skip("shared data (../shared/data or $SKELNB_DATA) absent")
    from skelnb.data.samples import ucla_samples
    from skelnb.data.store import write_split

    names = [f"a{a:02d}_s{s:02d}_e00_v01" for a in (1, 2, 3, 4) for s in (1, 2, 3, 4)]
    names = [n for n in names if (shared_data("nw_ucla", "all_sqe", n + ".json")) is not None]
    b = ucla_samples(names)
    folder = tmp_path_factory.mktemp("ucla") / "split"
    write_split(
        folder, b.x.numpy(), b.labels.numpy(), names, b.num_frames.numpy(), meta=dict(layout="nw_ucla", num_classes=12)
    )
    return folder


def args(ucla, out, **kw):
    return (
        dict(
            method="moco",
            data=str(ucla),
            output=str(out),
            epochs=3,
            batch_size=4,
            lr=0.05,
            seed=1,
            progress=False,
            **TINY,
        )
        | kw
    )


def cli(ucla, out, **kw) -> list:
    "The `python -m skelnb.train` command line of `args(ucla, out, **kw)`."
    line = [sys.executable, "-m", "skelnb.train"]
    for k, v in args(ucla, out, **kw).items():
        line += [f"--{k.replace('_', '-')}", str(v)]
    return line


def final_state(out) -> dict:
    return load_checkpoint(newest_checkpoint(Path(out) / "checkpoints"))


def assert_same_state(a: dict, b: dict):
    assert a["position"] == b["position"]
    for k, v in a["method"].items():
        if isinstance(v, torch.Tensor):
            assert torch.equal(v, b["method"][k]), k
        else:
            assert v == b["method"][k], k
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert torch.equal(a["rng"][0]["generator"], b["rng"][0]["generator"])
    assert torch.equal(a["rng"][0]["torch"], b["rng"][0]["torch"])


@pytest.mark.parametrize("method", ["moco", "halp"])
def test_sigkill_mid_epoch_then_resume_is_bit_identical(ucla, tmp_path, method):
    "4 steps an epoch, 3 epochs; killed after step 7 (mid epoch 2, checkpoints every 2 steps), resumed: same end."
    extra = dict(method=method, checkpoint_every_steps=2)
    if method == "halp":  # prototypes from epoch 2, refit every 2 steps, so the kill and resume cross them
        extra |= dict(halp_start_epoch=2, num_prototypes=2, prototype_keys=8, prototype_every=2, num_positives=2)
    env = os.environ | dict(OMP_NUM_THREADS="1")
    subprocess.run(cli(ucla, tmp_path / "whole", **extra), check=True, env=env)
    killed = subprocess.run(cli(ucla, tmp_path / "cut", **extra), env=env | dict(SKELNB_TRAIN_KILL_AT="7"))
    assert killed.returncode == -9
    assert final_state(tmp_path / "cut")["position"] == dict(epoch=2, step=2, iteration=6)
    subprocess.run(cli(ucla, tmp_path / "cut", **extra), check=True, env=env)
    assert_same_state(final_state(tmp_path / "whole"), final_state(tmp_path / "cut"))
    steps = [(tmp_path / r / "steps.csv").read_text() for r in ("whole", "cut")]
    strip = lambda t: [l for l in t.splitlines() if "samples_per_s" not in l and "data_wait" not in l]
    assert strip(steps[0]) == strip(steps[1])
