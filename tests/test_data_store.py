"""Prepared folders of a dataset and layout of one's own, opened as `SkeletonDataset`s with every stream, and read as
`SkeletonBatch`es through a DataLoader (issue 8: layouts and datasets of one's own, one batch contract)."""

import json
import shutil

import numpy as np
import pytest
import torch

from skelnb.batch import SkeletonBatch
from skelnb.data import prepare as P
from skelnb.data.store import SkeletonDataset, load_split, write_split
from skelnb.layouts import KINECT_V1, KINECT_V1_JOINTS, LAYOUTS, get_layout, register_layout

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


def test_unregistered_layout_fails_when_opened_naming_it(tmp_path):
    write_split(tmp_path / "s", np.zeros((2, 3, 4, 20, 1), np.float32), [0, 1], ["a", "b"], meta={"layout": "msr20"})
    assert SkeletonDataset(tmp_path / "s")[0][0].shape == (3, 4, 20, 1)  # the joint stream needs no layout
    with pytest.raises(KeyError, match="unknown layout 'msr20'.*register_layout"):
        SkeletonDataset(tmp_path / "s", stream="bone")


def test_register_dataset_by_name_and_cli_choice(own_raw, tmp_path, utd_layout):
    spec = P.register_dataset(
        P.file_dataset("utd-like2", utd_layout, 2, ("xsub",), "*.skel.json", read_as_utd, by_subject)
    )
    try:
        assert P.get_dataset("utd-like2") is spec
        from skelnb.cli import main

        assert main(["prepare", "utd-like2", "--raw", str(own_raw), "--out", str(tmp_path / "o"), "--quiet"]) == 0
        assert load_split(tmp_path / "o" / "utd-like2-hiclr" / "xsub" / "val").names == [
            "a01_s03_e00_v01.skel", "a02_s03_e00_v01.skel"]  # fmt: skip
        with pytest.raises(ValueError, match="replace=True"):
            P.register_dataset(P.file_dataset("utd-like2", utd_layout, 3, ("xsub",), "*.json", read_as_utd, by_subject))
    finally:
        P.DATASETS.pop("utd-like2")


def test_bad_file_of_ones_own_reader_is_skipped(own_raw, tmp_path, utd_layout):
    (own_raw / "a01_s01_e00_v01.skel.json").write_text("{not json")
    spec = P.file_dataset("utd-like", "utd_test", 2, ("xsub",), "*.skel.json", read_as_utd, by_subject)
    rep = P.prepare(spec, own_raw, tmp_path / "out", workers=1, progress=False)
    assert [s["file"] for s in rep["skipped"]] == [str(own_raw / "a01_s01_e00_v01.skel.json")]
    assert "JSONDecodeError" in rep["skipped"][0]["reason"]
    assert rep["counts"] == {"xsub": {"train": 3, "val": 2}}


def test_layout_without_the_pipeline_joints_is_refused(own_raw, tmp_path):
    from skelnb.layouts import Layout

    spine = Layout.from_names("spine4_test", ("spine_base", "spine_mid", "spine_shoulder", "head"),
                              [("spine_base", "spine_mid"), ("spine_mid", "spine_shoulder"),
                               ("spine_shoulder", "head")], "spine_shoulder")  # fmt: skip
    spec = P.file_dataset("spine", spine, 2, ("xsub",), "*.skel.json", read_as_utd, by_subject)
    try:
        with pytest.raises(ValueError, match=r"halp pipeline needs the joints \['left_shoulder', 'right_shoulder'\]"):
            P.prepare(spec, own_raw, tmp_path / "out", pipeline="halp", progress=False)
    finally:
        LAYOUTS.pop("spine4_test", None)


def test_skeleton_batches_through_a_dataloader(tmp_path, shared):
    "get_batch reads the memory map once per batch; the loader yields SkeletonBatches with num_frames.npy's counts."
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 3, 30, 20, 1)).astype(np.float32)
    nf = np.array([30, 12, 5, 30, 7, 1, 29])
    write_split(tmp_path / "s", x, np.arange(7) % 3, list("abcdefg"), num_frames=nf, meta={"layout": "nw_ucla"})
    ds = SkeletonDataset(tmp_path / "s", stream="bone", indices=[6, 4, 2, 0, 1, 3, 5])
    batches = list(ds.loader(batch_size=3, num_workers=2))
    assert all(isinstance(b, SkeletonBatch) for b in batches) and [len(b) for b in batches] == [3, 3, 1]
    rows = [6, 4, 2, 0, 1, 3, 5]
    assert torch.cat([b.num_frames for b in batches]).tolist() == nf[rows].tolist()
    assert torch.cat([b.labels for b in batches]).tolist() == (np.arange(7) % 3)[rows].tolist()
    parents = [p for _, p in get_layout("nw_ucla").bones]
    want = torch.from_numpy(x[rows] - x[rows][:, :, :, parents])
    assert torch.equal(torch.cat([b.x for b in batches]), want)
    assert {(b.stream, b.layout) for b in batches} == {("bone", "nw_ucla")}
    items = [ds[i] for i in range(7)]  # __getitem__ is unchanged: (x, label) per sample
    assert torch.equal(torch.stack([t for t, _ in items]), want)
    shuffled = list(ds.loader(batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert sorted(torch.cat([b.labels for b in shuffled]).tolist()) == sorted((np.arange(7) % 3).tolist())


def test_layout_errors_name_what_is_wrong():
    from skelnb.layouts import NTU25, Layout

    with pytest.raises(ValueError, match=r"duplicate joint names \['a'\]"):
        Layout("dup", ("a", "b", "a"), ((0, 1), (1, 2)), 0)
    with pytest.raises(ValueError, match=r"joint order names \['head'\] more than once"):
        KINECT_V1.reordered(list(UTD_ORDER[:-1]) + ["head"])
    line = Layout.from_names("line", ("head", "neck", "tail"), (("head", "neck"), ("neck", "tail")), "neck")
    with pytest.raises(ValueError, match="no left/right joint pairs"):
        line.flip_permutation
    with pytest.raises(ValueError, match="another layout is registered as 'ntu25'"):
        register_layout(KINECT_V1.reordered(UTD_ORDER, name="ntu25"))
    assert register_layout(NTU25) is NTU25 and get_layout("ntu25") is NTU25  # the same layout again: harmless


def read_two_bodies_for_a02(path):
    "Like read_as_utd, but action 2 files come with a second (mirrored) body, as a two-person set would."
    label, bodies = read_as_utd(path)
    return label, np.concatenate([bodies, -bodies], 1) if label == 1 else bodies


def test_samples_are_stored_with_max_bodies(own_raw, tmp_path, utd_layout):
    spec = P.file_dataset("mixed", "utd_test", 2, ("xsub",), "*.skel.json", read_two_bodies_for_a02, by_subject, 2)
    P.prepare(spec, own_raw, tmp_path / "out", workers=1, progress=False)
    sp = load_split(tmp_path / "out" / "mixed-hiclr" / "xsub" / "train")
    assert sp.data.shape == (4, 3, 50, 20, 2)
    assert not np.asarray(sp.data)[sp.labels == 0][..., 1].any()  # one-body samples: the second body zero
    assert np.asarray(sp.data)[sp.labels == 1][..., 1].any()
    one = P.file_dataset("one", "utd_test", 2, ("xsub",), "*.skel.json", read_two_bodies_for_a02, by_subject, 1)
    rep = P.prepare(one, own_raw, tmp_path / "out", workers=1, progress=False)
    assert len(rep["skipped"]) == 3 and all(
        "2 bodies, the dataset keeps at most 1" in s["reason"] for s in rep["skipped"]
    )
