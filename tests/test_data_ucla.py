"Tests of skelnb.data.ucla on all of NW-UCLA and on bad files made from real ones."

import json
import pickle
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from skelnb.core import SkeletonDataError, shared_data
from skelnb.data.ucla import (
    UCLA_ACTION_IDS,
    UCLA_ACTIONS,
    UCLA_NUM_CLASSES,
    UCLASequence,
    parse_ucla_name,
    read_ucla_folder,
    read_ucla_json,
    read_ucla_val_labels,
    ucla_class_index,
    ucla_split,
)

REAL = "a04_s01_e02_v03"


@pytest.fixture(scope="module")
def ucla():
    path = shared_data("nw_ucla")
    if path is None:
        pytest.skip("shared data (../shared/data or $SKELNB_DATA) absent")
    return path


@pytest.fixture(scope="module")
def all_seqs(ucla):
    t0 = time.perf_counter()
    seqs = read_ucla_folder(ucla / "all_sqe")
    return seqs, time.perf_counter() - t0


@pytest.fixture()
def real(ucla):
    return json.loads((ucla / "all_sqe" / f"{REAL}.json").read_text())


def dump(tmp_path, d, name=REAL):
    p = tmp_path / f"{name}.json"
    p.write_text(json.dumps(d))
    return p


# ---------------------------------------------------------------- constants
def test_constants():
    assert UCLA_NUM_CLASSES == len(UCLA_ACTION_IDS) == len(UCLA_ACTIONS) == 10
    assert [ucla_class_index(a) for a in (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)] == list(range(10))
    for a in (0, 7, 10, 13):
        with pytest.raises(ValueError):
            ucla_class_index(a)
    assert (ucla_split(1), ucla_split(2), ucla_split(3)) == ("train", "train", "val")
    with pytest.raises(ValueError):
        ucla_split(0)


@pytest.mark.parametrize(
    "name",
    [
        "a01_s01_e00_v1",
        "a01_s01_e00",
        "A01_s01_e00_v01",
        "a01_s01_e00_v01.json",
        "a07_s01_e00_v01",
        "a01_s00_e00_v01",
        "a01_s11_e00_v01",
        "a01_s01_e00_v00",
        "a01_s01_e00_v04",
        5,
    ],
)
def test_bad_names(name):
    with pytest.raises(SkeletonDataError):
        parse_ucla_name(name)


# ---------------------------------------------------------------- the whole set
def test_read_all_sequences(all_seqs):
    seqs, seconds = all_seqs
    assert len(seqs) == 1484
    print(f"\nread 1,484 NW-UCLA sequences in {seconds:.2f} s")
    assert all(isinstance(s, UCLASequence) and s.xyz.dtype == np.float32 and s.xyz.shape[1:] == (20, 3) for s in seqs)
    assert all(np.isfinite(s.xyz).all() for s in seqs)


def test_split_counts(all_seqs):
    seqs, _ = all_seqs
    assert Counter(s.split for s in seqs) == {"train": 1020, "val": 464}
    assert Counter(s.view for s in seqs) == {1: 516, 2: 504, 3: 464}
    assert {s.subject for s in seqs} == set(range(1, 11))


def test_class_counts(all_seqs):
    seqs, _ = all_seqs
    val = Counter(s.label for s in seqs if s.split == "val")
    train = Counter(s.label for s in seqs if s.split == "train")
    assert [val[c] for c in range(10)] == [48, 50, 45, 49, 47, 47, 43, 43, 47, 45]
    assert [train[c] for c in range(10)] == [102, 102, 96, 124, 101, 102, 99, 99, 98, 97]


def test_labels_agree_with_names_and_raw_json(all_seqs, ucla):
    seqs, _ = all_seqs
    for s in seqs:
        assert s.label == UCLA_ACTION_IDS.index(int(s.file_name[1:3]))
    d = json.loads((ucla / "all_sqe" / "a12_s09_e04_v03.json").read_text())
    s = read_ucla_json(ucla / "all_sqe" / "a12_s09_e04_v03.json")
    assert (d["label"], s.label, s.action_id) == (10, 9, 12)  # the JSON label is the 1-based class
    np.testing.assert_array_equal(s.xyz, np.asarray(d["skeletons"], dtype=np.float32))


def test_lengths(all_seqs):
    seqs, _ = all_seqs
    n = np.array([s.num_frames for s in seqs])
    assert (n.min(), int(np.median(n)), n.max()) == (1, 31, 201)
    single = sorted(s.file_name for s in seqs if s.num_frames == 1)
    assert single == ["a02_s09_e04_v02", "a02_s09_e04_v03"]


def test_views_filter(ucla):
    assert len(read_ucla_folder(ucla / "all_sqe", views=[1, 2])) == 1020
    with pytest.raises(FileNotFoundError):
        read_ucla_folder(ucla / "all_sqe", views=[4])


# ---------------------------------------------------------------- val_label.pkl
def test_val_labels_match_view3(all_seqs, ucla):
    seqs, _ = all_seqs
    val = read_ucla_val_labels(ucla / "val_label.pkl")
    by_name = {s.file_name: s for s in seqs}
    assert len(val) == 464
    assert {d["file_name"] for d in val} == {s.file_name for s in seqs if s.split == "val"}
    assert all(d["length"] == by_name[d["file_name"]].num_frames for d in val)
    assert all(d["label"] == by_name[d["file_name"]].label + 1 for d in val)  # 1-based in the pickle
    assert Counter(d["label"] for d in val) == Counter(s.label + 1 for s in seqs if s.split == "val")


@pytest.mark.parametrize("keep", [0, 1, 2, 100, 5000, -1])
def test_truncated_val_pickle(ucla, tmp_path, keep):
    raw = (ucla / "val_label.pkl").read_bytes()
    p = tmp_path / "val_label.pkl"
    p.write_bytes(raw[:keep])
    with pytest.raises(SkeletonDataError, match=r"val_label.pkl: unreadable pickle"):
        read_ucla_val_labels(p)


def test_garbled_val_pickle(ucla, tmp_path):
    raw = bytearray((ucla / "val_label.pkl").read_bytes())
    raw[2:40] = b"\x00" * 38
    p = tmp_path / "val_label.pkl"
    p.write_bytes(bytes(raw))
    with pytest.raises(SkeletonDataError, match=r"val_label.pkl: unreadable pickle"):
        read_ucla_val_labels(p)
    p.write_text("this is not a pickle")
    with pytest.raises(SkeletonDataError, match=r"val_label.pkl: unreadable pickle"):
        read_ucla_val_labels(p)


def test_val_pickle_refuses_imports(tmp_path):
    p = tmp_path / "val_label.pkl"
    p.write_bytes(pickle.dumps([{"file_name": "a01_s01_e00_v03", "length": np.int64(3), "label": 1}]))
    with pytest.raises(SkeletonDataError, match="refusing to load numpy"):
        read_ucla_val_labels(p)


@pytest.mark.parametrize(
    "entries,match",
    [
        ({"file_name": "a01_s01_e00_v03"}, "expected a list"),
        ([{"file_name": "a01_s01_e00_v03", "length": 3}], r"entry 0: expected a dict with keys"),
        (
            [{"file_name": "a01_s01_e00_v03", "length": 3, "label": 2}],
            r"entry 0 \(a01_s01_e00_v03\) label: label 2 disagrees with action id 1",
        ),
        (
            [{"file_name": "a08_s01_e00_v03", "length": 3, "label": 8}],
            r"label 8 disagrees with action id 8 \(1-based class 7\)",
        ),
        ([{"file_name": "a01_s01_e00_v03", "length": 0, "label": 1}], r"length 0 < 1"),
        ([{"file_name": "a01_s01_e00_v03", "length": 3.0, "label": 1}], r"length must be an integer"),
        ([{"file_name": "a01_s01_e00_v03", "length": 3, "label": 1}] * 2, r"entry 1: a01_s01_e00_v03 listed twice"),
        ([{"file_name": "x01_s01_e00_v03", "length": 3, "label": 1}], r"entry 0 file_name: not an NW-UCLA name"),
    ],
)
def test_bad_val_entries(tmp_path, entries, match):
    p = tmp_path / "val_label.pkl"
    p.write_bytes(pickle.dumps(entries))
    with pytest.raises(SkeletonDataError, match=match):
        read_ucla_val_labels(p)


# ---------------------------------------------------------------- bad json files
def test_single_frame_is_valid(real, tmp_path):
    s = read_ucla_json(dump(tmp_path, {**real, "skeletons": real["skeletons"][:1]}))
    assert s.xyz.shape == (1, 20, 3)


def test_integer_coordinates_are_numbers(real, tmp_path):
    sk = [[[int(round(v)) for v in j] for j in f] for f in real["skeletons"]]
    assert read_ucla_json(dump(tmp_path, {**real, "skeletons": sk})).xyz.dtype == np.float32


def test_zero_frames(real, tmp_path):
    with pytest.raises(SkeletonDataError, match=rf"{REAL}.json: skeletons: zero frames"):
        read_ucla_json(dump(tmp_path, {**real, "skeletons": []}))


@pytest.mark.parametrize("joints", [19, 21, 25])
def test_wrong_joint_count_everywhere(real, tmp_path, joints):
    sk = [(f + f)[:joints] for f in real["skeletons"]]
    with pytest.raises(SkeletonDataError, match=rf"skeletons\[0\]: expected 20 joints, got {joints} joints"):
        read_ucla_json(dump(tmp_path, {**real, "skeletons": sk}))


def test_ragged_frames(real, tmp_path):
    sk = [list(f) for f in real["skeletons"]]
    sk[7] = sk[7][:-1]
    with pytest.raises(SkeletonDataError, match=r"skeletons\[7\]: expected 20 joints, got 19 joints"):
        read_ucla_json(dump(tmp_path, {**real, "skeletons": sk}))
    sk = json.loads(json.dumps(real["skeletons"]))
    sk[4][11] = sk[4][11][:2]
    with pytest.raises(SkeletonDataError, match=r"skeletons\[4\]\[11\]: expected 3 coordinates, got 2 values"):
        read_ucla_json(dump(tmp_path, {**real, "skeletons": sk}))


@pytest.mark.parametrize(
    "value,match",
    [
        ("0.5", "not a number: '0.5'"),
        (None, "not a number: None"),
        (True, "not a number: True"),
        ([1.0], "not a number: \\[1.0\\]"),
    ],
)
def test_non_numeric(real, tmp_path, value, match):
    sk = json.loads(json.dumps(real["skeletons"]))
    sk[3][2][0] = value
    with pytest.raises(SkeletonDataError, match=r"skeletons\[3\]\[2\]\[0\]: " + match):
        read_ucla_json(dump(tmp_path, {**real, "skeletons": sk}))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e39])
def test_non_finite(real, tmp_path, value):
    sk = json.loads(json.dumps(real["skeletons"]))
    sk[9][19][2] = value
    with pytest.raises(SkeletonDataError, match=r"skeletons\[9\]\[19\]\[2\]: not a finite float32"):
        read_ucla_json(dump(tmp_path, {**real, "skeletons": sk}))


@pytest.mark.parametrize(
    "label,match",
    [
        (4, None),
        (3, "label 3 disagrees"),
        (5, "label 5 disagrees"),
        (0, "label 0 disagrees"),
        ("4", "label must be an integer"),
        (4.0, "label must be an integer"),
        (True, "label must be an integer"),
    ],
)
def test_label_field(real, tmp_path, label, match):
    p = dump(tmp_path, {**real, "label": label})
    if match is None:
        assert read_ucla_json(p).label == 3  # action a04 = class 3, stored 1-based as 4
    else:
        with pytest.raises(SkeletonDataError, match=rf"{REAL}.json: label: {match}"):
            read_ucla_json(p)


def test_file_name_disagrees(real, tmp_path):
    with pytest.raises(
        SkeletonDataError, match=rf"file_name '{REAL}' disagrees with the file's name 'a04_s01_e02_v02'"
    ):
        read_ucla_json(dump(tmp_path, real, name="a04_s01_e02_v02"))
    with pytest.raises(SkeletonDataError, match="not an NW-UCLA name"):
        read_ucla_json(dump(tmp_path, {**real, "file_name": "copy"}, name="copy"))


def test_missing_keys_and_not_object(real, tmp_path):
    with pytest.raises(SkeletonDataError, match=r"skeletons: missing key\(s\) \['skeletons'\]"):
        read_ucla_json(dump(tmp_path, {k: v for k, v in real.items() if k != "skeletons"}))
    with pytest.raises(SkeletonDataError, match="expected a JSON object"):
        read_ucla_json(dump(tmp_path, [real]))
    with pytest.raises(SkeletonDataError, match="skeletons must be a list"):
        read_ucla_json(dump(tmp_path, {**real, "skeletons": "none"}))


@pytest.mark.parametrize("keep", [0, 1, 100, 2000, -2])
def test_truncated_json(ucla, tmp_path, keep):
    raw = (ucla / "all_sqe" / f"{REAL}.json").read_bytes()
    p = tmp_path / f"{REAL}.json"
    p.write_bytes(raw[:keep])
    with pytest.raises(SkeletonDataError, match=rf"{REAL}.json:1: invalid JSON"):
        read_ucla_json(p)
