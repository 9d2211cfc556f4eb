"""A dataset and layout of one's own through `prepare`'s worker processes and through the command line, in-process
(the rest of these checks live in nbs/16_data.store.ipynb and nbs/17_data.prepare.ipynb). Here: what a notebook cannot
check, several processes, and the CLI's `main`, whose notebook (nbs/90_cli.ipynb) is another's."""

import json
import shutil

import numpy as np
import pytest
import torch

from skelnb.data import prepare as P
from skelnb.data.store import SkeletonDataset, load_split
from skelnb.layouts import KINECT_V1, KINECT_V1_JOINTS, LAYOUTS, register_layout

# UTD-MHAD's documented Kinect v1 order (head first), as in 01_layouts
UTD_ORDER = ("head", "spine_shoulder", "spine_mid", "spine_base", "left_shoulder", "left_elbow", "left_wrist",
             "left_hand", "right_shoulder", "right_elbow", "right_wrist", "right_hand", "left_hip", "left_knee",
             "left_ankle", "left_foot", "right_hip", "right_knee", "right_ankle", "right_foot")  # fmt: skip
PERM = [KINECT_V1_JOINTS.index(n) for n in UTD_ORDER]  # NW-UCLA stores the Kinect v1 SDK order


def read_as_utd(path):
    "A reader of one's own: an NW-UCLA json as a 'UTD-ordered' sample, label from the file name (a01 -> 0, a02 -> 1)."
    seq = json.loads(open(path).read())
    xyz = np.asarray(seq["skeletons"], dtype=np.float32)[:, PERM]
    return int(path.rsplit("/", 1)[1][1:3]) - 1, xyz[:, None]


def by_subject(name):
    "A split rule of one's own: subjects 1 and 2 train, the others test."
    return {"xsub": "train" if name.split("_")[1] in ("s01", "s02") else "val"}


@pytest.fixture
def utd_layout():
    layout = register_layout(KINECT_V1.reordered(UTD_ORDER, name="utd_test"))
    yield layout
    LAYOUTS.pop("utd_test", None)


@pytest.fixture
def own_raw(tmp_path, shared):
    raw = tmp_path / "own"
    raw.mkdir()
    for a in ("a01", "a02"):
        for s in ("s01", "s02", "s03"):
            src = shared / "nw_ucla" / "all_sqe" / f"{a}_{s}_e00_v01.json"
            shutil.copy(src, raw / src.name.replace(".json", ".skel.json"))
    return raw


def test_dataset_of_ones_own_prepares_and_opens_with_every_stream(own_raw, tmp_path, utd_layout):
    "Two workers: the spec of one's own (its reader and split rule) travels to the worker processes."
    spec = P.file_dataset("utd-like", "utd_test", 2, ("xsub",), "*.skel.json", read_as_utd, by_subject)
    rep = P.prepare(spec, own_raw, tmp_path / "out", workers=2, chunk_size=2, progress=False)
    assert rep["counts"] == {"xsub": {"train": 4, "val": 2}} and rep["skipped"] == []
    folder = tmp_path / "out" / "utd-like-hiclr" / "xsub" / "train"
    assert load_split(folder).meta["layout"] == "utd_test"
    joint = SkeletonDataset(folder)
    bone, motion = SkeletonDataset(folder, stream="bone"), SkeletonDataset(folder, stream="motion")
    x = joint[1][0]
    parents = [p for _, p in utd_layout.bones]
    assert torch.equal(bone[1][0], x - x[:, :, parents])
    assert torch.equal(motion[1][0][:, :-1], x[:, 1:] - x[:, :-1]) and not motion[1][0][:, -1].any()
    assert [joint[i][1] for i in range(4)] == load_split(folder).labels.tolist()


def test_registered_dataset_is_a_cli_choice(own_raw, tmp_path, utd_layout):
    P.register_dataset(P.file_dataset("utd-like2", utd_layout, 2, ("xsub",), "*.skel.json", read_as_utd, by_subject))
    try:
        from skelnb.cli import main

        assert main(["prepare", "utd-like2", "--raw", str(own_raw), "--out", str(tmp_path / "o"), "--quiet"]) == 0
        assert load_split(tmp_path / "o" / "utd-like2-hiclr" / "xsub" / "val").names == [
            "a01_s03_e00_v01.skel", "a02_s03_e00_v01.skel"]  # fmt: skip
    finally:
        P.DATASETS.pop("utd-like2")
