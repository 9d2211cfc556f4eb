"Tests of skelnb.data.importers: files of each reference format built from the real NTU, PKU-MMD and NW-UCLA samples."

import pickle

import numpy as np
import pytest

from skelnb.core import SkeletonDataError, shared_data
from skelnb.data.importers import (
    check_samples,
    import_aimclr,
    import_cmd,
    import_files,
    import_pyskl,
    load_pickle,
    open_npy,
    read_label_pickle,
    reference_files,
)
from skelnb.data.samples import ntu_bodies, ntu_sample_paths
from skelnb.data.store import is_complete, load_split

NTU = shared_data("ntu_samples")
PKU = shared_data("pku_mmd_samples")
UCLA = shared_data("nw_ucla")


# ---------------------------------------------------------------- real samples
@pytest.fixture(scope="module")
def ntu():
    "The 5 real NTU samples as (names with .skeleton, labels, bodies (T, 2, 25, 3))."
    if NTU is None:
        pytest.skip("shared data absent: ../shared/data/ntu_samples")
    files = ntu_sample_paths(NTU)
    return [f.name for f in files], [int(f.stem[-3:]) - 1 for f in files], [ntu_bodies(f) for f in files]


@pytest.fixture(scope="module")
def pku():
    "The 24 real PKU-MMD segments (HaLP cut) with HaLP's names and float64 labels."
    if PKU is None:
        pytest.skip("shared data absent: ../shared/data/pku_mmd_samples")
    from skelnb.data.pku import cut_pku_segments, read_pku_labels, read_pku_skeleton

    names, labels, segs = [], [], []
    for f in sorted((PKU / "skeleton").glob("*.txt")):
        video = read_pku_skeleton(f)
        lab = read_pku_labels(PKU / "label" / f.name, num_frames=len(video))
        for i, seg in enumerate(cut_pku_segments(video, lab, "halp")):
            names.append(f"{f.name}_{i}")
            labels.append(np.float64(lab[i, 0] - 1))
            segs.append(seg)
    return names, labels, segs


def to_ctvm(bodies, frames):
    "(T, M, V, 3) -> (3, frames, V, M), zero-padded or cut."
    out = np.zeros((3, frames, bodies.shape[2], bodies.shape[1]), np.float32)
    n = min(frames, len(bodies))
    out[:, :n] = bodies[:n].transpose(3, 0, 2, 1)
    return out


def resample50(bodies):
    return to_ctvm(bodies[np.linspace(0, len(bodies) - 1, 50).round().astype(int)], 50)


def write_pkl(path, obj, protocol=None):
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


@pytest.fixture()
def aimclr_files(tmp_path, ntu):
    names, labels, bodies = ntu
    folder = tmp_path / "NTU60" / "xview"
    folder.mkdir(parents=True)
    data = np.stack([resample50(b) for b in bodies])
    np.save(folder / "val_position.npy", data)
    write_pkl(folder / "val_label.pkl", (names, labels))
    return folder, data


@pytest.fixture()
def cmd_files(tmp_path, ntu):
    names, labels, bodies = ntu
    folder = tmp_path / "NTU-RGB-D-AGCN" / "xsub"
    folder.mkdir(parents=True)
    data = np.stack([to_ctvm(b, 300) for b in bodies])
    np.save(folder / "train_data_joint.npy", data)
    np.save(folder / "train_num_frame.npy", np.array([len(b) for b in bodies]))
    write_pkl(folder / "train_label.pkl", (names, labels))
    return folder, data


def pyskl_annotations(ntu, dtype=np.float16, drop_empty=True):
    names, labels, bodies = ntu
    anns = []
    for n, l, b in zip(names, labels, bodies):
        kp = b.transpose(1, 0, 2, 3)
        if drop_empty:
            kp = kp[np.abs(kp).sum((1, 2, 3)) > 0]
        anns.append(dict(frame_dir=n.split(".")[0], label=l, keypoint=kp.astype(dtype), total_frames=len(b)))
    return anns


@pytest.fixture()
def pyskl_file(tmp_path, ntu):
    anns = pyskl_annotations(ntu)
    stems = [a["frame_dir"] for a in anns]
    split = dict(
        xsub_train=[stems[1], stems[0]], xsub_val=stems[2:], xview_train=stems[1:4], xview_val=[stems[0], stems[4]]
    )
    return write_pkl(tmp_path / "ntu60_3danno.pkl", dict(split=split, annotations=anns), protocol=2), anns


# ---------------------------------------------------------------- aimclr
def test_aimclr_round_trip(tmp_path, ntu, aimclr_files):
    folder, data = aimclr_files
    out = import_aimclr(folder / "val_position.npy", folder / "val_label.pkl", tmp_path / "out", dataset="ntu60")
    s = load_split(out)
    np.testing.assert_array_equal(s.data, data)
    assert isinstance(s.data, np.memmap)
    assert s.names == [n[: -len(".skeleton")] for n in ntu[0]]
    assert s.labels.tolist() == ntu[1] and s.labels.dtype == np.int64
    assert s.num_frames.tolist() == [50] * 5
    assert (s.meta["benchmark"], s.meta["split"], s.meta["pipeline"], s.meta["layout"], s.meta["num_classes"]) == (
        "xview",
        "val",
        "hiclr",
        "ntu25",
        60,
    )
    assert len(s.meta["source"]["sha256"]) == 64 and s.meta["source"]["format"] == "aimclr"
    assert sum(s.meta["class_counts"]) == 5


def test_aimclr_keep_suffix_and_no_checksum(tmp_path, ntu, aimclr_files):
    folder, _ = aimclr_files
    s = load_split(
        import_aimclr(
            folder / "val_position.npy", folder / "val_label.pkl", tmp_path / "out", strip_suffix=None, checksum=False
        )
    )
    assert s.names == ntu[0] and s.meta["source"]["sha256"] is None
    assert s.meta["num_classes_inferred"] and s.meta["num_classes"] == max(ntu[1]) + 1


def test_ucla_layout(tmp_path):
    if UCLA is None:
        pytest.skip("shared data absent: ../shared/data/nw_ucla")
    from skelnb.data.ucla import read_ucla_folder

    seqs = read_ucla_folder(UCLA / "all_sqe", views=[1])[::25]
    data = np.stack([resample50(q.xyz[:, None]) for q in seqs])
    np.save(tmp_path / "train_position.npy", data)
    write_pkl(tmp_path / "train_label.pkl", ([q.file_name for q in seqs], [q.label for q in seqs]))
    s = load_split(
        import_aimclr(
            tmp_path / "train_position.npy", tmp_path / "train_label.pkl", tmp_path / "out", dataset="nw-ucla"
        )
    )
    np.testing.assert_array_equal(s.data, data)
    assert s.data.shape[3:] == (20, 1) and s.meta["layout"] == "nw_ucla" and s.meta["num_classes"] == 10
    with pytest.raises(SkeletonDataError, match="ntu60 has 25 joints per body, the data 20"):
        import_aimclr(tmp_path / "train_position.npy", tmp_path / "train_label.pkl", tmp_path / "o", dataset="ntu60")


# ---------------------------------------------------------------- cmd
def test_cmd_round_trip(tmp_path, ntu, cmd_files):
    folder, data = cmd_files
    files = reference_files(folder, "train", "cmd")
    s = load_split(import_cmd(files["data"], files["labels"], files["num_frame"], tmp_path / "out", dataset="ntu60"))
    np.testing.assert_array_equal(s.data, data)
    assert s.num_frames.tolist() == s.lengths.tolist() == [len(b) for b in ntu[2]]
    assert (s.meta["benchmark"], s.meta["split"], s.meta["pipeline"], s.meta["frames"]) == (
        "xsub",
        "train",
        "halp",
        300,
    )


def test_cmd_pku_halp_style(tmp_path, pku):
    "HaLP's PKU-MMD files: names 'NNNN-V.txt_i', float64 labels, num_frame = full length (may exceed T)."
    names, labels, segs = pku
    data = np.stack([to_ctvm(s, 64) for s in segs])  # a short T so that some num_frame exceed it
    nf = np.array([len(s) for s in segs])
    assert (nf > 64).any()
    np.save(tmp_path / "val_data_joint.npy", data)
    np.save(tmp_path / "val_num_frame.npy", nf)
    write_pkl(tmp_path / "val_label.pkl", (names, labels))
    s = load_split(
        import_cmd(
            tmp_path / "val_data_joint.npy",
            tmp_path / "val_label.pkl",
            tmp_path / "val_num_frame.npy",
            tmp_path / "out",
            dataset="pku1",
        )
    )
    np.testing.assert_array_equal(s.data, data)
    assert s.names == names and s.labels.tolist() == [int(l) for l in labels]
    assert s.num_frames.tolist() == nf.tolist() and s.meta["num_frame_above_frames"] == int((nf > 64).sum())


@pytest.mark.parametrize(
    "nf,match",
    [
        (lambda n: n[:3], "5 samples in train_data_joint.npy but 3 frame counts"),
        (lambda n: np.where(np.arange(5) == 4, 0, n), r"frame count 0 < 1 for sample 4 \(S004C002P003R001A017"),
        (lambda n: n + 0.5, "frame counts must be integers"),
        (lambda n: n[:, None], "expected a 1-D frame-count array"),
    ],
)
def test_cmd_bad_num_frame(tmp_path, cmd_files, nf, match):
    folder, _ = cmd_files
    np.save(tmp_path / "nf.npy", nf(np.load(folder / "train_num_frame.npy")))
    with pytest.raises(SkeletonDataError, match=match):
        import_cmd(folder / "train_data_joint.npy", folder / "train_label.pkl", tmp_path / "nf.npy", tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_cmd_integral_float_num_frame(tmp_path, cmd_files):
    folder, _ = cmd_files
    nf = np.load(folder / "train_num_frame.npy")
    np.save(tmp_path / "nf.npy", nf.astype(np.float64))
    s = load_split(
        import_cmd(folder / "train_data_joint.npy", folder / "train_label.pkl", tmp_path / "nf.npy", tmp_path / "o")
    )
    assert s.num_frames.tolist() == nf.tolist()


# ---------------------------------------------------------------- truncated and garbled files
@pytest.mark.parametrize("fraction", [0.0, 0.0005, 0.5, 0.999])
def test_truncated_npy(tmp_path, aimclr_files, fraction):
    folder, _ = aimclr_files
    raw = (folder / "val_position.npy").read_bytes()
    (tmp_path / "val_position.npy").write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(SkeletonDataError, match=r"val_position.npy: not a readable .npy data"):
        import_aimclr(tmp_path / "val_position.npy", folder / "val_label.pkl", tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_truncated_num_frame(tmp_path, cmd_files):
    folder, _ = cmd_files
    raw = (folder / "train_num_frame.npy").read_bytes()
    (tmp_path / "nf.npy").write_bytes(raw[:-8])
    with pytest.raises(SkeletonDataError, match=r"nf.npy: not a readable .npy num_frame"):
        import_cmd(folder / "train_data_joint.npy", folder / "train_label.pkl", tmp_path / "nf.npy", tmp_path / "o")


def test_npy_with_trailing_bytes(tmp_path, aimclr_files):
    folder, _ = aimclr_files
    (tmp_path / "x.npy").write_bytes((folder / "val_position.npy").read_bytes() + b"\0" * 16)
    with pytest.raises(SkeletonDataError, match=r"x.npy: 16 bytes after the \(5, 3, 50, 25, 2\) float32 array"):
        open_npy(tmp_path / "x.npy")


def test_object_npy(tmp_path):
    np.save(tmp_path / "o.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
    with pytest.raises(SkeletonDataError, match="o.npy: not a readable .npy"):
        open_npy(tmp_path / "o.npy")
    with pytest.raises(FileNotFoundError):
        open_npy(tmp_path / "absent.npy")


@pytest.mark.parametrize("keep", [0, 1, 10, -1, -5])
def test_truncated_label_pickle(tmp_path, aimclr_files, keep):
    folder, _ = aimclr_files
    raw = (folder / "val_label.pkl").read_bytes()
    (tmp_path / "val_label.pkl").write_bytes(raw[:keep])
    with pytest.raises(SkeletonDataError, match=r"val_label.pkl: unreadable label pickle"):
        import_aimclr(folder / "val_position.npy", tmp_path / "val_label.pkl", tmp_path / "o")


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.99])
def test_truncated_pyskl_pickle(tmp_path, pyskl_file, cut):
    path, _ = pyskl_file
    raw = path.read_bytes()
    (tmp_path / "cut.pkl").write_bytes(raw[: int(len(raw) * cut)])
    with pytest.raises(SkeletonDataError, match=r"cut.pkl: unreadable annotation pickle"):
        import_pyskl(tmp_path / "cut.pkl", "xsub_train", tmp_path / "o")


def test_garbled_pickle(tmp_path, aimclr_files):
    folder, _ = aimclr_files
    raw = bytearray((folder / "val_label.pkl").read_bytes())
    raw[5:25] = bytes(range(200, 220))
    (tmp_path / "g.pkl").write_bytes(bytes(raw))
    with pytest.raises(SkeletonDataError, match=r"g.pkl: unreadable"):
        read_label_pickle(tmp_path / "g.pkl")


def test_pickle_refuses_code(tmp_path):
    import os

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    write_pkl(tmp_path / "e.pkl", (["a"], [Evil()]))
    with pytest.raises(SkeletonDataError, match="refusing to load posix.system"):
        load_pickle(tmp_path / "e.pkl")


def test_numpy1_pickles(tmp_path, ntu):
    "Pickles written by numpy 1.x name numpy.core.multiarray; they load under numpy 2 without warnings."
    anns = pyskl_annotations(ntu)[:2]
    raw = pickle.dumps(dict(split=dict(a=[x["frame_dir"] for x in anns]), annotations=anns), protocol=2)
    assert b"numpy._core.multiarray" in raw
    (tmp_path / "old.pkl").write_bytes(raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        obj = load_pickle(tmp_path / "old.pkl")
    np.testing.assert_array_equal(obj["annotations"][1]["keypoint"], anns[1]["keypoint"])


# ---------------------------------------------------------------- shapes, dtypes, labels, names
@pytest.mark.parametrize(
    "change,match",
    [
        (lambda d: d[:, :2], r"expected \(N, 3, T, V, M\) with 3 coordinates"),
        (lambda d: d[..., 0], r"expected \(N, 3, T, V, M\)"),
        (lambda d: d.astype(np.int32), "expected floating-point coordinates, got int32"),
        (lambda d: d[:, :, :, :24], "ntu60 has 25 joints per body, the data 24"),
        (lambda d: d[:, :, :0], "empty frame/joint/person axis"),
        (lambda d: d[:0], "d.npy: shape: no samples"),
        (lambda d: d[0, 0, 0, 0, :1], r"expected \(N, 3, T, V, M\) with 3 coordinates, got \(1,\)"),
    ],
)
def test_bad_arrays(tmp_path, aimclr_files, change, match):
    folder, data = aimclr_files
    np.save(tmp_path / "d.npy", np.ascontiguousarray(change(data)))
    with pytest.raises(SkeletonDataError, match=match):
        import_aimclr(tmp_path / "d.npy", folder / "val_label.pkl", tmp_path / "o", dataset="ntu60")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite(tmp_path, aimclr_files, value):
    folder, data = aimclr_files
    bad = data.copy()
    bad[4, 2, 49, 24, 1] = value
    np.save(tmp_path / "d.npy", bad)
    with pytest.raises(SkeletonDataError, match=r"d.npy: data\[4\]: NaN or inf in sample 4 \(S004C002P003R001A017\)"):
        import_aimclr(tmp_path / "d.npy", folder / "val_label.pkl", tmp_path / "o")


def test_float64_overflowing_float32(tmp_path, aimclr_files):
    folder, data = aimclr_files
    bad = data.astype(np.float64)
    bad[0, 0, 0, 0, 0] = 1e300
    np.save(tmp_path / "d.npy", bad)
    with pytest.raises(SkeletonDataError, match=r"NaN or inf in sample 0"):
        import_aimclr(tmp_path / "d.npy", folder / "val_label.pkl", tmp_path / "o")


def test_float16_and_float64_accepted(tmp_path, aimclr_files):
    folder, data = aimclr_files
    for dt in (np.float16, np.float64):
        np.save(tmp_path / "d.npy", data.astype(dt))
        s = load_split(import_aimclr(tmp_path / "d.npy", folder / "val_label.pkl", tmp_path / f"o{np.dtype(dt).name}"))
        np.testing.assert_array_equal(s.data, data.astype(dt).astype(np.float32))


def test_check_samples_chunks_memmap(tmp_path, aimclr_files):
    folder, data = aimclr_files
    arr = open_npy(folder / "val_position.npy")
    assert isinstance(arr, np.memmap)
    check_samples(arr, folder / "val_position.npy", chunk=2)  # uneven last chunk


@pytest.mark.parametrize(
    "labels,kw,match",
    [
        (lambda l: [-1] + l[1:], {}, r"labels\[0\]: label -1 of sample 0 outside 0..59"),
        (lambda l: l[:4] + [60], {"dataset": "ntu60"}, r"labels\[4\]: label 60 of sample 4 outside 0..59"),
        (lambda l: l, {"num_classes": 50}, r"labels\[1\]: label 57 of sample 1 outside 0..49"),
        (lambda l: l[:2] + [2.5] + l[3:], {}, r"labels\[2\] \(S002C001P003R001A003\): label 2.5 is not an integer"),
        (lambda l: l[:3] + ["33"] + l[4:], {}, r"labels\[3\] \(S003C001P015R001A034\): label '33' is not an integer"),
        (lambda l: [True] + l[1:], {}, r"labels\[0\] \(S001C001P001R001A011\): label True is not an integer"),
        (lambda l: l[:3] + [None] + l[4:], {}, r"labels\[3\].*label None is not an integer"),
        (lambda l: l[:4], {}, "5 names but 4 labels"),
        (lambda l: np.array(l).reshape(5, 1), {}, "labels must be a flat list"),
    ],
)
def test_bad_labels(tmp_path, ntu, aimclr_files, labels, kw, match):
    folder, _ = aimclr_files
    write_pkl(tmp_path / "l.pkl", (ntu[0], labels(list(ntu[1]))))
    kw = {"dataset": "ntu60", **kw} if "num_classes" not in kw else kw
    with pytest.raises(SkeletonDataError, match=match):
        import_aimclr(folder / "val_position.npy", tmp_path / "l.pkl", tmp_path / "o", **kw)


def test_numpy_and_integral_float_labels(tmp_path, ntu, aimclr_files):
    folder, data = aimclr_files
    for labels in (np.array(ntu[1], np.int32), [np.float64(l) for l in ntu[1]], np.array(ntu[1], np.float32)):
        write_pkl(tmp_path / "l.pkl", (ntu[0], labels))
        s = load_split(import_aimclr(folder / "val_position.npy", tmp_path / "l.pkl", tmp_path / "o", dataset="ntu60"))
        assert s.labels.tolist() == ntu[1]


@pytest.mark.parametrize(
    "obj,match",
    [
        (lambda n, l: {"names": n, "labels": l}, r"expected a pickled \(names, labels\) pair, got dict"),
        (lambda n, l: (n, l, l), r"pair, got tuple of length 3"),
        (lambda n, l: ("S001", l), r"names: sample names must be a list, got str"),
        (lambda n, l: (n[:4] + [n[0]], l), r"sample name 'S001C001P001R001A011' appears 2 times"),
        (lambda n, l: (n[:4] + [3], l), r"names\[4\]: invalid sample name 3"),
        (lambda n, l: (n[:4] + [""], l), r"names\[4\]: invalid sample name ''"),
        (lambda n, l: (n[:4] + ["a\nb"], l), r"names\[4\]: invalid sample name"),
    ],
)
def test_bad_label_pickles(tmp_path, ntu, aimclr_files, obj, match):
    folder, _ = aimclr_files
    write_pkl(tmp_path / "l.pkl", obj(list(ntu[0]), list(ntu[1])))
    with pytest.raises(SkeletonDataError, match=match):
        import_aimclr(folder / "val_position.npy", tmp_path / "l.pkl", tmp_path / "o")


def test_count_mismatch(tmp_path, ntu, aimclr_files):
    folder, data = aimclr_files
    np.save(tmp_path / "d.npy", np.concatenate([data, data[:1]]))
    with pytest.raises(SkeletonDataError, match=r"val_label.pkl: names: 6 samples in d.npy but 5 names and labels"):
        import_aimclr(tmp_path / "d.npy", folder / "val_label.pkl", tmp_path / "o")


def test_failed_import_keeps_existing_folder(tmp_path, aimclr_files):
    folder, data = aimclr_files
    out = import_aimclr(folder / "val_position.npy", folder / "val_label.pkl", tmp_path / "out")
    bad = data.copy()
    bad[0, 0, 0, 0, 0] = np.nan
    np.save(tmp_path / "d.npy", bad)
    with pytest.raises(SkeletonDataError):
        import_aimclr(tmp_path / "d.npy", folder / "val_label.pkl", tmp_path / "out")
    assert is_complete(out)
    np.testing.assert_array_equal(load_split(out).data, data)


# ---------------------------------------------------------------- pyskl / mmaction2
@pytest.mark.parametrize("split", ["xsub_train", "xsub_val", "xview_train", "xview_val"])
def test_pyskl_round_trip(tmp_path, pyskl_file, split):
    path, anns = pyskl_file
    by_name = {a["frame_dir"]: a for a in anns}
    names = pickle.loads(path.read_bytes())["split"][split]
    s = load_split(import_pyskl(path, split, tmp_path / "out", dataset="ntu60"))
    T = max(by_name[n]["total_frames"] for n in names)
    assert s.names == names and s.data.shape == (len(names), 3, T, 25, 2)
    for i, n in enumerate(names):
        kp = by_name[n]["keypoint"].astype(np.float32)  # (M, T, V, C)
        m, t = kp.shape[:2]
        np.testing.assert_array_equal(s.data[i, :, :t, :, :m], kp.transpose(3, 1, 2, 0))
        assert not s.data[i, :, t:].any() and not s.data[i, :, :, :, m:].any()
        assert s.labels[i] == by_name[n]["label"] and s.num_frames[i] == s.lengths[i] == t
    assert (s.meta["benchmark"], s.meta["split"], s.meta["pyskl_split"]) == tuple(split.split("_")) + (split,)


def test_pyskl_max_frames_and_truncate(tmp_path, pyskl_file):
    path, anns = pyskl_file
    s = load_split(import_pyskl(path, "xsub_val", tmp_path / "a", max_frames=300))
    assert s.data.shape[2] == 300
    with pytest.raises(SkeletonDataError, match=r"S002C001P003R001A003 has 100 frames > max_frames=80"):
        import_pyskl(path, "xsub_val", tmp_path / "b", max_frames=80)
    s = load_split(import_pyskl(path, "xsub_val", tmp_path / "c", max_frames=80, on_long="truncate"))
    assert s.data.shape[2] == 80 and s.num_frames.tolist() == [80, 71, 80] and s.lengths.tolist() == [100, 71, 124]
    assert s.meta["truncated"] == 2
    kp = anns[4]["keypoint"].astype(np.float32)
    np.testing.assert_array_equal(s.data[2, :, :, :, :1], kp[:, :80].transpose(3, 1, 2, 0))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pyskl_pickle_protocols(tmp_path, ntu, protocol):
    anns = pyskl_annotations(ntu, dtype=np.float32)
    path = write_pkl(
        tmp_path / "p.pkl", dict(split=dict(all=[a["frame_dir"] for a in anns]), annotations=anns), protocol
    )
    s = load_split(import_pyskl(path, "all", tmp_path / "out"))
    assert len(s) == 5 and s.meta["benchmark"] is None and s.meta["split"] == "all"


def test_mmaction2_plain_list(tmp_path, ntu):
    names, labels, bodies = ntu
    anns = pyskl_annotations(ntu, dtype=np.float32, drop_empty=False)
    for a in anns:
        a.update(img_shape=(1080, 1920), original_shape=(1080, 1920))
    path = write_pkl(tmp_path / "val.pkl", anns)
    s = load_split(import_pyskl(path, None, tmp_path / "out", dataset="ntu60"))
    expect = np.stack([to_ctvm(b, max(len(b) for b in bodies)) for b in bodies])
    np.testing.assert_array_equal(s.data, expect)
    assert s.meta["pyskl_variant"] == "mmaction2-0.x"
    with pytest.raises(SkeletonDataError, match="plain list of annotations .* pass split=None"):
        import_pyskl(path, "xsub_val", tmp_path / "o")


def test_pyskl_unknown_split(tmp_path, pyskl_file):
    path, _ = pyskl_file
    with pytest.raises(
        SkeletonDataError,
        match=r"split: no split 'xset_train'; the file has \['xsub_train', 'xsub_val', 'xview_train', 'xview_val'\]",
    ):
        import_pyskl(path, "xset_train", tmp_path / "o")
    with pytest.raises(SkeletonDataError, match="no split None"):
        import_pyskl(path, None, tmp_path / "o")


def _bad_ann(i, **change):
    def f(anns):
        anns[i] = {**anns[i], **change}
        return anns

    return f


@pytest.mark.parametrize(
    "modify,match",
    [
        (
            _bad_ann(1, keypoint=np.zeros((2, 70, 25, 2), np.float16)),
            r"annotations\[1\] \(S001C003P008R002A058\): keypoint has C=2; only 3D .* 2D pose file",
        ),
        (_bad_ann(0, keypoint=np.zeros((3, 82, 25, 3), np.float16)), r"annotations\[0\] .*: 3 persons; expected 1..2"),
        (_bad_ann(0, keypoint=np.zeros((0, 82, 25, 3), np.float16)), r"0 persons; expected 1..2"),
        (_bad_ann(0, keypoint=np.zeros((1, 82, 17, 3), np.float16)), r"expected 25 joints, got 17"),
        (
            _bad_ann(0, keypoint=np.zeros((82, 25, 3), np.float16)),
            r"keypoint must be an \(M, T, V, C\) array, got \(82, 25, 3\)",
        ),
        (_bad_ann(0, keypoint=np.zeros((1, 82, 25, 3), np.int16)), r"keypoint dtype int16 is not floating-point"),
        (_bad_ann(0, keypoint=[[0.0]]), r"keypoint must be an \(M, T, V, C\) array, got list"),
        (_bad_ann(0, total_frames=81), r"total_frames 81 but the keypoint array has 82 frames"),
        (_bad_ann(0, label=60), r"labels\[0\]: label 60 of sample 0 outside 0..59"),
        (_bad_ann(0, label="10"), r"label '10' is not an integer"),
        (_bad_ann(0, frame_dir=None), r"annotations\[0\]: missing or invalid frame_dir None"),
        (
            _bad_ann(0, frame_dir="S001C001P001R001A010"),
            r"1 of 2 samples of split 'xsub_train' have no annotation: \['S001C001P001R001A011'\]",
        ),
        (_bad_ann(2, frame_dir="S001C001P001R001A011"), r"frame_dir 'S001C001P001R001A011' annotated twice"),
        (lambda anns: anns + [5], r"annotations\[5\]: expected a dict, got int"),
    ],
)
def test_pyskl_bad_annotations(tmp_path, ntu, modify, match):
    anns = modify(pyskl_annotations(ntu))
    names = [a["frame_dir"] for a in pyskl_annotations(ntu)]
    path = write_pkl(tmp_path / "p.pkl", dict(split=dict(xsub_train=names[:2]), annotations=anns))
    with pytest.raises(SkeletonDataError, match=match):
        import_pyskl(path, "xsub_train", tmp_path / "o", dataset="ntu60")
    assert not (tmp_path / "o").exists()


def test_pyskl_nan_and_kpfile(tmp_path, ntu):
    anns = pyskl_annotations(ntu, dtype=np.float32)
    anns[3]["keypoint"][0, 5, 5, 1] = np.nan
    path = write_pkl(tmp_path / "p.pkl", dict(split=dict(s=[a["frame_dir"] for a in anns]), annotations=anns))
    with pytest.raises(SkeletonDataError, match=r"annotations\[3\] \(S003C001P015R001A034\): NaN or inf in keypoint"):
        import_pyskl(path, "s", tmp_path / "o")
    k400 = [dict(frame_dir="abc", label=1, raw_file="kpfiles/part_0.pkl", total_frames=300)]
    path = write_pkl(tmp_path / "k.pkl", dict(split=dict(train=["abc"]), annotations=k400))
    with pytest.raises(SkeletonDataError, match="no keypoint array .*kpfiles"):
        import_pyskl(path, "train", tmp_path / "o")


@pytest.mark.parametrize(
    "obj,match",
    [
        (dict(annotations=[]), r"expected a dict with 'split' \(dict\) and 'annotations' \(list\)"),
        ("text", "expected a dict .* or a list of annotations, got str"),
        (dict(split=dict(a=[]), annotations=[]), "split 'a' is empty"),
    ],
)
def test_pyskl_bad_top_level(tmp_path, obj, match):
    with pytest.raises(SkeletonDataError, match=match):
        import_pyskl(write_pkl(tmp_path / "p.pkl", obj), "a", tmp_path / "o")


# ---------------------------------------------------------------- entry points
def test_import_files_and_cli(tmp_path, ntu, aimclr_files, cmd_files, pyskl_file):
    from skelnb.cli import main

    folder, data = aimclr_files
    assert (
        main(
            [
                "import",
                "aimclr",
                "--data",
                str(folder / "val_position.npy"),
                "--labels",
                str(folder / "val_label.pkl"),
                "--out",
                str(tmp_path / "cli"),
                "--dataset",
                "ntu60",
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(load_split(tmp_path / "cli").data, data)
    cfolder, cdata = cmd_files
    f = reference_files(cfolder, "train", "cmd")
    np.testing.assert_array_equal(load_split(import_files("cmd", tmp_path / "c", **f)).data, cdata)
    path, _ = pyskl_file
    assert len(load_split(import_files("pyskl", tmp_path / "p", pkl=path, split="xview_train"))) == 3
    with pytest.raises(ValueError, match="cmd import needs --num-frame"):
        import_files("cmd", tmp_path / "x", data=f["data"], labels=f["labels"])
    with pytest.raises(ValueError, match="unknown import format"):
        import_files("ctrgcn", tmp_path / "x")
    with pytest.raises(ValueError, match="aimclr import does not use --num-frame"):
        import_files("aimclr", tmp_path / "x", **f)
    assert (
        main(["import", "cmd", "--data", str(f["data"]), "--labels", str(f["labels"]), "--out", str(tmp_path / "y")])
        == 2
    )
    with pytest.raises(FileNotFoundError):
        reference_files(cfolder, "val", "cmd")
