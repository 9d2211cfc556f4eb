"""Tests of skelnb.data.ntu: the .skeleton reader on real and damaged files, names, splits, and body selection against
independent, loop-based restatements of the reference readers (HiCLR, HaLP, SGN)."""

import math

import numpy as np
import pytest

from skelnb.core import SkeletonDataError, shared_data
from skelnb.data.ntu import (
    NTU60_XSUB_TRAIN_PERFORMERS,
    NTU120_XSUB_TRAIN_PERFORMERS,
    NTU_ACTIONS,
    NTUName,
    body_energy,
    bodies_by_energy,
    bodies_by_frame_order,
    bodies_denoised,
    ntu_split,
    parse_ntu_name,
    read_name_list,
    read_ntu_skeleton,
)

SAMPLES = shared_data("ntu_samples")
STATS = shared_data("ntu_statistics")
FRAMES = {
    "S001C001P001R001A011": 82,
    "S001C003P008R002A058": 70,
    "S002C001P003R001A003": 100,
    "S003C001P015R001A034": 71,
    "S004C002P003R001A017": 124,
}
TWO = "S001C003P008R002A058"


@pytest.fixture(scope="module")
def samples():
    if SAMPLES is None:
        pytest.skip("shared data absent (ntu_samples)")
    return {n: SAMPLES / f"{n}.skeleton" for n in FRAMES}


# ---------------------------------------------------------------------------------------------------------------
# helpers: a plain reader of the text into frames of (id, info tokens, joint lines), and a writer back to text


def split_frames(path):
    "Frames of a real file as lists of [body id, 9 info tokens, 25 joint lines (str)]."
    lines = path.read_text().splitlines()
    i, frames = 1, []
    for _ in range(int(lines[0])):
        nb = int(lines[i])
        i += 1
        bodies = []
        for _ in range(nb):
            toks = lines[i].split()
            bodies.append([toks[0], toks[1:], lines[i + 2 : i + 27]])
            i += 27
        frames.append(bodies)
    return frames


def write_frames(path, frames, eol="\r\n"):
    out = [str(len(frames))]
    for bodies in frames:
        out.append(str(len(bodies)))
        for bid, info, joints in bodies:
            out += [" ".join([bid, *info]), "25", *joints]
    path.write_text(eol.join(out) + eol)
    return path


def body(frames_, t, k, new_id=None, swap_xy=False, shift_x=0.0):
    "A copy of body k of frame t, optionally with another ID, x and y swapped, or x shifted."
    bid, info, joints = frames_[t][k]
    if swap_xy or shift_x:
        new = []
        for line in joints:
            v = line.split()
            if swap_xy:
                v[0], v[1] = v[1], v[0]
            if shift_x:
                v[0] = repr(float(v[0]) + shift_x)
            new.append(" ".join(v))
        joints = new
    return [new_id or bid, info, joints]


# ---------------------------------------------------------------------------------------------------------------
# the reference readers, restated loop by loop (our own code; HiCLR's tools/utils/ntu_read_skeleton.py, HaLP's
# data_gen/ntu_gendata.py and SGN's scripts)


def ref_hiclr(path, max_body=2):
    "HiCLR read_xyz: (3, T, 25, max_body) float64, body m = m-th body listed in the frame."
    frames = split_frames(path)
    data = np.zeros((3, len(frames), 25, max_body))
    for t, bodies in enumerate(frames):
        for m, (_, _, joints) in enumerate(bodies):
            for j, line in enumerate(joints):
                if m < max_body:
                    data[:, t, j, m] = [float(v) for v in line.split()[:3]]
    return data


def ref_halp(path):
    "HaLP/CMD read_xyz: 4 per-frame bodies, the 2 of largest non-zero-frame std energy, (3, T, 25, 2)."
    frames = split_frames(path)
    data = np.zeros((4, len(frames), 25, 3))
    for t, bodies in enumerate(frames):
        for m, (_, _, joints) in enumerate(bodies):
            for j, line in enumerate(joints):
                if m < 4:
                    data[m, t, j] = [float(v) for v in line.split()[:3]]
    energy = []
    for s in data:
        s = s[s.sum(-1).sum(-1) != 0]
        energy.append(s[:, :, 0].std() + s[:, :, 1].std() + s[:, :, 2].std() if len(s) else 0)
    index = np.array(energy).argsort()[::-1][:2]
    return data[index].transpose(3, 1, 2, 0)


def ref_sgn(path, len_thres=11, spr1=0.8, spr2=0.69754):
    "SGN get_raw_skes_data + get_raw_denoised_data for one file: (T', 150) float32."
    frames = split_frames(path)
    bodies, valid = {}, -1
    for fr in frames:
        if not fr:
            continue
        valid += 1
        for bid, _, joints in fr:
            j = np.array([line.split()[:3] for line in joints], dtype=np.float32)
            if bid not in bodies:
                bodies[bid] = {"joints": [j], "interval": [valid]}
            else:
                bodies[bid]["joints"].append(j)
                bodies[bid]["interval"].append(bodies[bid]["interval"][-1] + 1)
    num_frames = valid + 1
    for b in bodies.values():
        b["joints"] = np.concatenate(b["joints"])  # (n*25, 3)
    if len(bodies) > 1:
        for b in bodies.values():
            b["motion"] = np.sum(np.var(b["joints"], axis=0))

    def place(out, b, col):
        s, e = b["interval"][0], b["interval"][-1]
        out[s : e + 1, col : col + 75] = b["joints"].reshape(-1, 75)

    out = np.zeros((num_frames, 150), dtype=np.float32)
    if len(bodies) == 1:
        place(out, next(iter(bodies.values())), 0)
        return out
    for bid in list(bodies):
        if len(bodies[bid]["interval"]) <= len_thres:
            del bodies[bid]
    if len(bodies) > 1:
        for bid in list(bodies):
            if len(bodies) == 1:
                break
            b = bodies[bid]
            pts = b["joints"].reshape(-1, 25, 3)
            ok = [
                i
                for i in range(len(pts))
                if (pts[i, :, 0].max() - pts[i, :, 0].min()) <= spr1 * (pts[i, :, 1].max() - pts[i, :, 1].min())
            ]
            n_noise = len(b["interval"]) - len(ok)
            if n_noise == 0:
                continue
            if n_noise / float(len(b["interval"])) >= spr2:
                del bodies[bid]
            else:
                b["motion"] = min(b["motion"], np.sum(np.var(pts[ok].reshape(-1, 3), axis=0)))
    ordered = (
        sorted(bodies.values(), key=lambda b: b["motion"], reverse=True) if len(bodies) > 1 else list(bodies.values())
    )
    place(out, ordered[0], 0)
    s1, e1 = ordered[0]["interval"][0], ordered[0]["interval"][-1]
    s2, e2 = 0, 0
    for b in ordered[1:]:
        s, e = b["interval"][0], b["interval"][-1]
        if min(e1, e) - max(s1, s) <= 0:
            place(out, b, 0)
            s1, e1 = min(s, s1), max(e, e1)
        elif min(e2, e) - max(s2, s) <= 0:
            place(out, b, 75)
            s2, e2 = min(s, s2), max(e, e2)
    return out[out.sum(axis=1) != 0]


# ---------------------------------------------------------------------------------------------------------------
# reader on real files


def test_real_samples_every_field(samples):
    for name, path in samples.items():
        sk = read_ntu_skeleton(path)
        assert (sk.name, sk.num_frames) == (name, FRAMES[name])
        frames = split_frames(path)
        for t, bodies in enumerate(frames):
            assert sk.tracked[t].sum() == len(bodies)
            for k, (bid, info, joints) in enumerate(bodies):
                b = sk.body_ids.index(bid)
                assert sk.frame_slot[t, b] == k
                v = np.array([line.split() for line in joints], dtype=np.float64)
                np.testing.assert_array_equal(sk.xyz[t, b], v[:, :3].astype(np.float32))
                np.testing.assert_array_equal(sk.depth_xy[t, b], v[:, 3:5].astype(np.float32))
                np.testing.assert_array_equal(sk.color_xy[t, b], v[:, 5:7].astype(np.float32))
                np.testing.assert_array_equal(sk.orientation[t, b], v[:, 7:11].astype(np.float32))
                np.testing.assert_array_equal(sk.joint_tracking[t, b], v[:, 11].astype(np.int8))
                np.testing.assert_array_equal(sk.body_info[t, b], np.array(info, dtype=np.float64).astype(np.float32))
        assert all(len(i) == 17 and i.isdigit() for i in sk.body_ids)
        assert sk.xyz.dtype == np.float32 and sk.frame_slot.dtype == np.int16 and sk.tracked.dtype == bool


def test_line_endings_do_not_matter(samples, tmp_path):
    path = samples[TWO]
    lf = tmp_path / f"{TWO}.skeleton"
    lf.write_bytes(path.read_bytes().replace(b"\r\n", b"\n") + b"\n\n")  # LF and blank lines at the end
    a, b = read_ntu_skeleton(path), read_ntu_skeleton(lf)
    assert a.body_ids == b.body_ids
    for f in ("xyz", "tracked", "frame_slot", "body_info", "depth_xy", "color_xy", "orientation", "joint_tracking"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))


def test_empty_frames_reordering_and_reappearing_bodies(samples, tmp_path):
    fr = split_frames(samples[TWO])
    new = [[]] + [list(reversed(f)) if 20 <= t < 30 else f for t, f in enumerate(fr)] + [[]]
    for t in range(41, 46):
        new[t] = new[t][:1]  # second-listed body absent in frames 41-45
    sk = read_ntu_skeleton(write_frames(tmp_path / "S001C003P008R002A058.skeleton", new))
    assert sk.num_frames == 72 and sk.num_bodies == 2
    assert not sk.tracked[0].any() and not sk.tracked[-1].any()
    np.testing.assert_array_equal(sk.frame_slot[21:31], [[1, 0]] * 10)  # listing order swapped there
    absent = new[41][0][0] != sk.body_ids[0]
    assert (sk.frame_slot[41:46, int(not absent)] == -1).all()
    assert (sk.xyz[41:46, int(not absent)] == 0).all()


def test_all_frames_empty_is_readable_but_has_no_body(tmp_path):
    p = tmp_path / "S001C001P001R001A001.skeleton"
    p.write_text("3\r\n0\r\n0\r\n0\r\n")
    sk = read_ntu_skeleton(p)
    assert sk.xyz.shape == (3, 0, 25, 3) and sk.body_ids == []
    assert not bodies_by_frame_order(sk).any() and not bodies_by_energy(sk).any()
    with pytest.raises(SkeletonDataError, match="no body in any frame"):
        bodies_denoised(sk)


# ---------------------------------------------------------------------------------------------------------------
# bad files, each built from a real sample


def _lines(samples):
    return samples["S001C001P001R001A011"].read_bytes().splitlines(keepends=True)


def _bad(tmp_path, lines):
    p = tmp_path / "S001C001P001R001A011.skeleton"
    p.write_bytes(b"".join(lines))
    return p


def _expect(path, line, field, match):
    with pytest.raises(SkeletonDataError, match=match) as e:
        read_ntu_skeleton(path)
    assert (e.value.line, e.value.field) == (line, field), str(e.value)
    assert str(path) in str(e.value)


def _edit(lines, i, fn):
    "Replace 1-based line i by fn(list of tokens)."
    out = list(lines)
    out[i - 1] = (" ".join(fn(lines[i - 1].decode().split())) + "\r\n").encode()
    return out


def test_truncated_inside_a_joint_block(samples, tmp_path):
    _expect(_bad(tmp_path, _lines(samples)[:100]), 101, "joint", "unexpected end of file in frame 4")


def test_truncated_inside_a_line(samples, tmp_path):
    ls = _lines(samples)  # the last line is cut: the missing joints are found first, then the short line
    _expect(_bad(tmp_path, ls[:99] + [ls[99][:20]]), 101, "joint", "joint 13 of 25 missing")
    _expect(_bad(tmp_path, ls[:-1] + [ls[-1][:20]]), 2297, "joint", "expected 12 values, got 2")


def test_truncated_at_a_frame_boundary(samples, tmp_path):
    _expect(
        _bad(tmp_path, _lines(samples)[: 1 + 28 * 10]), 1, "frame count", "says 82 frames but the file ends after 10"
    )


def test_frame_count_too_small(samples, tmp_path):
    _expect(_bad(tmp_path, [b"80\r\n"] + _lines(samples)[1:]), 1, "frame count", "says 80 frames but the file holds 82")


def test_trailing_garbage(samples, tmp_path):
    _expect(_bad(tmp_path, _lines(samples) + [b"end of recording\r\n"]), 2298, "trailing data", "trailing data")


def test_zero_frames_and_empty_file(samples, tmp_path):
    _expect(_bad(tmp_path, [b"0\r\n"]), 1, "frame count", "declares 0 frames")
    with pytest.raises(SkeletonDataError, match="empty file"):
        read_ntu_skeleton(_bad(tmp_path, [b"\r\n"]))


def test_wrong_joint_count(samples, tmp_path):
    _expect(
        _bad(tmp_path, _edit(_lines(samples), 32, lambda v: ["24"])), 32, "joint count", "expected 25 joints, got 24"
    )


def test_joint_line_with_too_few_and_too_many_values(samples, tmp_path):
    # 11 values on one line and 13 on the next: the total is right, each line is wrong
    ls = _edit(_edit(_lines(samples), 40, lambda v: v[:-1]), 41, lambda v: v + ["0"])
    _expect(_bad(tmp_path, ls), 40, "joint", "expected 12 values, got 11")
    _expect(_bad(tmp_path, _edit(_lines(samples), 41, lambda v: v + ["0"])), 41, "joint", "expected 12 values, got 13")


def test_body_line_with_wrong_number_of_values(samples, tmp_path):
    _expect(_bad(tmp_path, _edit(_lines(samples), 31, lambda v: v[:-1])), 31, "body info", "expected 10 values")


def test_non_numeric_tokens(samples, tmp_path):
    _expect(
        _bad(tmp_path, _edit(_lines(samples), 50, lambda v: v[:4] + ["abc"] + v[5:])), 50, "joint", "column 5: 'abc'"
    )
    _expect(
        _bad(tmp_path, _edit(_lines(samples), 31, lambda v: v[:8] + ["x"] + v[9:])), 31, "body info", "column 9: 'x'"
    )
    _expect(
        _bad(tmp_path, _edit(_lines(samples), 31, lambda v: ["7205759403793164x"] + v[1:])),
        31,
        "bodyID",
        "not an integer",
    )
    _expect(_bad(tmp_path, _edit(_lines(samples), 30, lambda v: ["one"])), 30, "body count", "not an integer")
    _expect(_bad(tmp_path, _edit(_lines(samples), 30, lambda v: ["-1"])), 30, "body count", "negative body count")
    _expect(_bad(tmp_path, _edit(_lines(samples), 30, lambda v: ["--1"])), 30, "body count", "not an integer")
    _expect(_bad(tmp_path, [b"82.0\r\n"] + _lines(samples)[1:]), 1, "frame count", "not an integer")


def test_non_finite_coordinates(samples, tmp_path):
    _expect(_bad(tmp_path, _edit(_lines(samples), 45, lambda v: ["nan"] + v[1:])), 45, "x y z", "non-finite")
    _expect(_bad(tmp_path, _edit(_lines(samples), 46, lambda v: v[:2] + ["-inf"] + v[3:])), 46, "x y z", "non-finite")


def test_float32_overflow_is_rejected_with_its_line(samples, tmp_path):
    "1e39 is finite in float64 but inf in float32: the reader rejects it, naming file and line (issue 8, defect 4)."
    _expect(_bad(tmp_path, _edit(_lines(samples), 45, lambda v: ["1e39"] + v[1:])), 45, "x y z", "in float32")
    _expect(
        _bad(tmp_path, _edit(_lines(samples), 47, lambda v: v[:2] + ["-3.5e38"] + v[3:])), 47, "x y z", "non-finite"
    )


def test_bad_tracking_state_and_duplicate_body(samples, tmp_path):
    _expect(_bad(tmp_path, _edit(_lines(samples), 47, lambda v: v[:11] + ["3"])), 47, "joint trackingState", "not in")
    fr = split_frames(samples["S001C001P001R001A011"])
    fr[5] = fr[5] + fr[5]
    with pytest.raises(SkeletonDataError, match="listed twice in frame 6") as e:
        read_ntu_skeleton(write_frames(tmp_path / "S001C001P001R001A011.skeleton", fr))
    assert e.value.field == "bodyID"


# ---------------------------------------------------------------------------------------------------------------
# names, splits, lists


def test_names():
    assert parse_ntu_name("/x/y/S017C002P020R001A060.skeleton") == NTUName(17, 2, 20, 1, 60)
    assert parse_ntu_name("S017C002P020R001A060").label == 59
    assert str(NTUName(1, 2, 3, 1, 7)) == "S001C002P003R001A007"
    for bad, msg in (
        ("S01C002P020R001A060", "not an NTU sample name"),
        ("s017c002p020r001a060", "not an NTU"),
        ("S017C002P020R001A060x", "not an NTU"),
        ("S033C001P001R001A001", "setup 33 outside"),
        ("S001C001P107R001A001", "performer 107"),
        ("S001C001P001R003A001", "replication 3"),
        ("S001C001P001R001A121", "action 121"),
    ):
        with pytest.raises(SkeletonDataError, match=msg):
            parse_ntu_name(bad)
    assert (
        len(NTU_ACTIONS) == 120 and NTU_ACTIONS[57] == "handshaking" and NTU_ACTIONS[119].startswith("finger-guessing")
    )


def test_split_rules_and_errors():
    assert set(NTU60_XSUB_TRAIN_PERFORMERS) < set(NTU120_XSUB_TRAIN_PERFORMERS)
    assert ntu_split("S001C001P038R001A001", "ntu60", "xsub") == "train"
    assert ntu_split("S001C001P039R001A001", "ntu60", "xsub") == "val"
    assert ntu_split("S001C001P001R001A001", "ntu60", "xview") == "val"
    assert ntu_split("S020C001P103R001A100", "ntu120", "xsub") == "train"
    assert ntu_split("S031C002P001R001A001", "ntu120", "xset") == "val"
    with pytest.raises(ValueError, match="no benchmark 'xview'"):
        ntu_split("S001C001P001R001A001", "ntu120", "xview")
    with pytest.raises(ValueError, match="unknown dataset"):
        ntu_split("S001C001P001R001A001", "NTU60", "xsub")
    with pytest.raises(SkeletonDataError, match="NTU120-only"):
        ntu_split("S001C001P001R001A061", "ntu60", "xsub")


@pytest.mark.parametrize(
    "dataset,missing,n_missing,expected",
    [
        ("ntu60", "samples_with_missing_skeletons.txt", 302, {"xsub": (40091, 16487), "xview": (37646, 18932)}),
        (
            "ntu120",
            "NTU_RGBD120_samples_with_missing_skeletons.txt",
            535,
            {"xsub": (63026, 50919), "xset": (54468, 59477)},
        ),
    ],
)
def test_statistics(dataset, missing, n_missing, expected):
    if STATS is None:
        pytest.skip("shared data absent (ntu_statistics)")
    names = read_name_list(STATS / dataset / "skes_available_name.txt")
    parsed = np.array([parse_ntu_name(n) for n in names])
    for col, f in enumerate(("setup", "camera", "performer", "replication", "label")):
        np.testing.assert_array_equal(parsed[:, col], np.loadtxt(STATS / dataset / f"{f}.txt", dtype=np.int64))
    gone = read_name_list(STATS / dataset / missing)
    assert len(gone) == n_missing and not set(gone) & set(names)
    for bench, (n_train, n_val) in expected.items():
        s = [ntu_split(NTUName(*p), dataset, bench) for p in parsed.tolist()]
        assert (s.count("train"), s.count("val")) == (n_train, n_val)


def test_read_name_list(tmp_path):
    p = tmp_path / "missing.txt"
    p.write_bytes(b"S001C002P005R002A008\r\n\r\nS001C002P006R001A008\r\n  \r\n")
    assert read_name_list(p) == ["S001C002P005R002A008", "S001C002P006R001A008"]
    p.write_bytes(b"S001C002P005R002A008\r\nS001C002P006R001A08\r\n")
    with pytest.raises(SkeletonDataError, match="not an NTU sample name") as e:
        read_name_list(p)
    assert e.value.line == 2


# ---------------------------------------------------------------------------------------------------------------
# body selection against the restated references, on the real samples and on files built from them


def variants(samples, tmp_path):
    "Real samples and files built from them that exercise every rule of the three selections."
    out = dict(samples)
    two = split_frames(samples[TWO])
    one = split_frames(samples["S001C001P001R001A011"])

    def make(name, frames):
        out[name] = write_frames(tmp_path / f"{name}.skeleton", frames)

    make("swapped", [list(reversed(f)) if 20 <= t < 40 else f for t, f in enumerate(two)])
    make("third_short_first", [[body(two, t, 1, "1")] + f if 10 <= t < 16 else f for t, f in enumerate(two)])
    make("flat_ghost", [f + ([body(two, t, 1, "2", swap_xy=True)] if t < 60 else []) for t, f in enumerate(two)])
    make("split_halves", [[f[0], body(two, t, 1, "11" if t < 40 else "12")] for t, f in enumerate(two)])
    make(
        "touching_halves",
        [
            [f[0], body(two, t, 1, "11" if t < 40 else "12")] + ([body(two, t, 1, "11")] if t == 40 else [])
            for t, f in enumerate(two)
        ],
    )
    make("empty_frames", [[]] * 3 + two[:30] + [[]] * 4 + two[30:] + [[]])
    make("gap", [f[:1] if 30 <= t < 35 else f for t, f in enumerate(two)])
    make(
        "shifted_ghost", [f + ([body(one, t, 0, "3", shift_x=1.0)] if 30 <= t < 50 else []) for t, f in enumerate(one)]
    )
    make(
        "five_bodies",
        [
            f + [body(two, t + 10 * i, 0, str(40 + i), shift_x=0.5 * i) for i in range(1, 4)] if t < 20 else f
            for t, f in enumerate(two)
        ],
    )
    make("overlapping_three", [f + ([body(two, t, 1, "9", shift_x=0.7)] if t < 50 else []) for t, f in enumerate(two)])
    return out


def test_frame_order_matches_hiclr(samples, tmp_path):
    for name, path in variants(samples, tmp_path).items():
        ours = bodies_by_frame_order(read_ntu_skeleton(path))
        np.testing.assert_array_equal(ours, ref_hiclr(path).transpose(1, 3, 2, 0).astype(np.float32), err_msg=name)


def test_energy_matches_halp(samples, tmp_path):
    for name, path in variants(samples, tmp_path).items():
        ours = bodies_by_energy(read_ntu_skeleton(path))
        np.testing.assert_array_equal(ours, ref_halp(path).transpose(1, 3, 2, 0).astype(np.float32), err_msg=name)


def test_denoised_matches_sgn(samples, tmp_path):
    for name, path in variants(samples, tmp_path).items():
        ours, rec = bodies_denoised(read_ntu_skeleton(path))
        ref = ref_sgn(path)
        assert ours.shape == (len(ref), 2, 25, 3), name
        np.testing.assert_array_equal(ours.reshape(len(ours), 150), ref, err_msg=name)
        assert len(rec.frames) == len(ref)


def test_denoised_records(samples, tmp_path):
    v = variants(samples, tmp_path)
    reasons = {
        n: [(r.body_id, r.reason) for r in bodies_denoised(read_ntu_skeleton(v[n]))[1].removed]
        for n in ("third_short_first", "flat_ghost", "overlapping_three", "split_halves")
    }
    assert reasons["third_short_first"] == [("1", "length")]
    assert reasons["flat_ghost"] == [("2", "spread")]
    assert [r for _, r in reasons["overlapping_three"]] == ["overlap"]
    assert reasons["split_halves"] == []
    sk = read_ntu_skeleton(v["split_halves"])
    _, rec = bodies_denoised(sk)
    assert sorted(map(sorted, rec.actors)) == [["11", "12"], [sk.body_ids[0]]]
    # empty frames: dropped by default, kept in place on request
    sk = read_ntu_skeleton(v["empty_frames"])
    x, rec = bodies_denoised(sk)
    np.testing.assert_array_equal(rec.frames, np.flatnonzero(sk.tracked.any(1)))
    full, rec_full = bodies_denoised(sk, drop_missing_frames=False)
    assert len(full) == sk.num_frames and not full[:3].any()
    np.testing.assert_array_equal(full[rec.frames], x)
    # thresholds are parameters: with no length threshold the short body survives and, overlapping both actors,
    # is dropped
    _, rec = bodies_denoised(read_ntu_skeleton(v["third_short_first"]), length_threshold=0)
    assert [(r.body_id, r.reason) for r in rec.removed] == [("1", "overlap")]
    assert math.isnan(rec.removed[0].value)
    with pytest.raises(ValueError):
        bodies_denoised(sk, max_bodies=3)
    assert bodies_denoised(sk, max_bodies=1)[0].shape[1] == 1


def test_denoise_fails_clearly_when_every_body_is_short(samples, tmp_path):
    two = split_frames(samples[TWO])
    p = write_frames(tmp_path / f"{TWO}.skeleton", two[:10])
    with pytest.raises(SkeletonDataError, match="removed every body"):
        bodies_denoised(read_ntu_skeleton(p))


def test_energy_values(samples):
    sk = read_ntu_skeleton(samples[TWO])
    e = body_energy(bodies_by_frame_order(sk, 4))
    x = sk.xyz.astype(np.float64)
    np.testing.assert_allclose(e[:2], [sum(x[:, b, :, c].std() for c in range(3)) for b in range(2)], rtol=1e-12)
    assert (e[2:] == 0).all()
