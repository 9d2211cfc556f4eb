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
    write_split(folder, b.x.numpy(), b.labels.numpy(), names, b.num_frames.numpy(),
                meta=dict(layout="nw_ucla", num_classes=12))
    return folder


def args(ucla, out, **kw):
    return dict(method="moco", data=str(ucla), output=str(out), epochs=3, batch_size=4, lr=0.05, seed=1,
                progress=False, **TINY) | kw
