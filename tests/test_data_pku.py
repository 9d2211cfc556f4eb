"Tests of skelnb.data.pku on the real PKU-MMD samples and on bad files cut from them."

import numpy as np
import pytest

from skelnb.core import SkeletonDataError, shared_data
from skelnb.data.pku import (
    PKU_ACTIONS,
    PKU_NUM_CLASSES,
    PKUVideo,
    assign_pku_split,
    center_crop_frames,
    check_split_videos,
    cut_pku_segments,
    parse_pku_video_name,
    pku_segment_name,
    read_pku_labels,
    read_pku_skeleton,
    read_pku_split,
)

VIDEOS = ("0105-M", "0206-R", "0310-R")
FRAMES = {"0105-M": 1254, "0206-R": 1222, "0310-R": 1158}


@pytest.fixture
def pku(shared):
    return shared / "pku_mmd_samples"


@pytest.fixture
def lines(pku):
    return (pku / "skeleton" / "0105-M.txt").read_text().splitlines()


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


# ---------------------------------------------------------------- classes and names
def test_actions_match_official_spreadsheet(pku):
    openpyxl = pytest.importorskip("openpyxl")
    rows = list(
        openpyxl.load_workbook(pku / "split" / "Actions.xlsx", read_only=True).active.iter_rows(values_only=True)
    )
    assert rows[0][:2] == ("Label", "Action")
    assert [(int(r[0]), r[1]) for r in rows[1:] if r[0] is not None] == list(enumerate(PKU_ACTIONS, start=1))
    assert len(PKU_ACTIONS) == PKU_NUM_CLASSES == 51


def test_package_does_not_import_openpyxl():
    import subprocess, sys

    code = "import sys, skelnb.data.pku; print('openpyxl' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


@pytest.mark.parametrize(
    "name,expected",
    [
        ("0105-M", PKUVideo("0105-M", 1, "M", number=105)),
        ("0364-L", PKUVideo("0364-L", 1, "L", number=364)),
        ("A01N01-L", PKUVideo("A01N01-L", 2, "L", a=1, n=1)),
        ("A26N13-R", PKUVideo("A26N13-R", 2, "R", a=26, n=13)),
    ],
)
def test_parse_video_names(name, expected):
    assert parse_pku_video_name(name) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0105",
        "0105-m",
        "0105-MM",
        "00105-M",
        "0105-M.txt",
        "A1N01-L",
        "A01-L",
        "A01N01-X",
        "F105V002C026L001",
        " 0105-M",
    ],
)
def test_bad_video_names(bad):
    with pytest.raises(SkeletonDataError, match="expected NNNN-L/M/R .* or AxxNyy-L/M/R"):
        parse_pku_video_name(bad)


# ---------------------------------------------------------------- skeleton files
@pytest.mark.parametrize("video", VIDEOS)
def test_read_real_videos(pku, video):
    x = read_pku_skeleton(pku / "skeleton" / f"{video}.txt")
    assert x.shape == (FRAMES[video], 2, 25, 3) and x.dtype == np.float32
    ref = np.loadtxt(pku / "skeleton" / f"{video}.txt", dtype=np.float64).astype(np.float32)  # what the reference reads
    np.testing.assert_array_equal(x.reshape(len(x), 150), ref)
    assert np.isfinite(x).all()


def test_absent_second_body_is_zero(pku, lines, tmp_path):
    one_body = [" ".join(l.split()[:75] + ["0"] * 75) for l in lines[:5]]
    x = read_pku_skeleton(write(tmp_path, "one.txt", "\n".join(one_body) + "\n"))
    assert x.shape == (5, 2, 25, 3)
    assert not x[:, 1].any() and x[:, 0].any()


def test_crlf_and_trailing_blank_lines(pku, lines, tmp_path):
    a = read_pku_skeleton(write(tmp_path, "lf.txt", "\n".join(lines[:4]) + "\n"))
    b = read_pku_skeleton(write(tmp_path, "crlf.txt", "\r\n".join(lines[:4]) + "\r\n\r\n"))
    np.testing.assert_array_equal(a, b)


def test_truncated_file(pku, tmp_path):
    raw = (pku / "skeleton" / "0206-R.txt").read_bytes()
    cut = raw[: len(raw) // 2]  # cut in the middle of a line
    p = tmp_path / "0206-R.txt"
    p.write_bytes(cut)
    line = cut.count(b"\n") + 1
    with pytest.raises(SkeletonDataError, match=rf"0206-R.txt:{line}: value count: expected 150 values"):
        read_pku_skeleton(p)


@pytest.mark.parametrize("drop", [1, 75, 149])
def test_wrong_value_count(lines, tmp_path, drop):
    bad = " ".join(lines[6].split()[:-drop])
    p = write(tmp_path, "v.txt", "\n".join(lines[:6] + [bad] + lines[7:9]))
    with pytest.raises(SkeletonDataError, match=rf"v.txt:7: value count: .* got {150 - drop}"):
        read_pku_skeleton(p)


def test_too_many_values(lines, tmp_path):
    p = write(tmp_path, "v.txt", "\n".join(lines[:2] + [lines[2] + " 0.5"]))
    with pytest.raises(SkeletonDataError, match=r"v.txt:3: value count: .* got 151"):
        read_pku_skeleton(p)


def test_blank_line_inside(lines, tmp_path):
    p = write(tmp_path, "v.txt", "\n".join(lines[:2] + [""] + lines[2:4]))
    with pytest.raises(SkeletonDataError, match=r"v.txt:3: value count: .* got 0"):
        read_pku_skeleton(p)


@pytest.mark.parametrize("token", ["abc", "1,5", "0x1F", "1_0", "--1"])
def test_non_numeric(lines, tmp_path, token):
    vals = lines[3].split()
    vals[100] = token  # value 101: body 2, joint 9, y
    p = write(tmp_path, "v.txt", "\n".join(lines[:3] + [" ".join(vals)]))
    with pytest.raises(SkeletonDataError, match=r"v.txt:4: value 101 \(body 2, joint 9, y\): not a number"):
        read_pku_skeleton(p)


@pytest.mark.parametrize("token", ["nan", "NaN", "inf", "-inf", "1e39"])
def test_non_finite(lines, tmp_path, token):
    vals = lines[0].split()
    vals[2] = token
    p = write(tmp_path, "v.txt", "\n".join([" ".join(vals)] + lines[1:3]))
    with pytest.raises(SkeletonDataError, match=r"v.txt:1: value 3 \(body 1, joint 1, z\): not a finite float32"):
        read_pku_skeleton(p)


@pytest.mark.parametrize("text", ["", "\n", "  \n\n"])
def test_empty_file(tmp_path, text):
    with pytest.raises(SkeletonDataError, match="e.txt: empty file: no frames"):
        read_pku_skeleton(write(tmp_path, "e.txt", text))


def test_binary_file(tmp_path):
    p = tmp_path / "b.txt"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SkeletonDataError, match="b.txt: not a UTF-8 text file"):
        read_pku_skeleton(p)


# ---------------------------------------------------------------- label files
@pytest.mark.parametrize("video", VIDEOS)
def test_read_real_labels(pku, video):
    labels = read_pku_labels(pku / "label" / f"{video}.txt", num_frames=FRAMES[video])
    ref = np.loadtxt(pku / "label" / f"{video}.txt", delimiter=",").astype(np.int64)
    np.testing.assert_array_equal(labels, ref)
    assert labels.dtype == np.int64 and labels.shape == (8, 4)


@pytest.mark.parametrize(
    "row,match",
    [
        ("26,103,194", r"l.txt:2: field count: expected 4"),
        ("26,103,194,2,7", r"l.txt:2: field count: expected 4"),
        ("26 103 194 2", r"l.txt:2: field count: expected 4"),
        ("0,103,194,2", r"l.txt:2: label: label 0 out of range 1..51"),
        ("52,103,194,2", r"l.txt:2: label: label 52 out of range 1..51"),
        ("26,194,103,2", r"l.txt:2: end: start 194 > end 103"),
        ("26,-3,103,2", r"l.txt:2: start: negative start frame -3"),
        ("x,103,194,2", r"l.txt:2: label: not an integer: 'x'"),
        ("26,103.0,194,2", r"l.txt:2: start: not an integer: '103.0'"),
        ("26,103,,2", r"l.txt:2: end: not an integer: ''"),
        ("26,103,194,high", r"l.txt:2: confidence: not an integer: 'high'"),
    ],
)
def test_bad_label_rows(pku, tmp_path, row, match):
    first = (pku / "label" / "0105-M.txt").read_text().splitlines()[0]
    with pytest.raises(SkeletonDataError, match=match):
        read_pku_labels(write(tmp_path, "l.txt", f"{first}\n{row}\n"))


def test_label_range_follows_num_classes(tmp_path):
    p = write(tmp_path, "l.txt", "41,1,5,2\n")
    assert read_pku_labels(p, num_classes=41)[0, 0] == 41
    with pytest.raises(SkeletonDataError, match="label 41 out of range 1..40"):
        read_pku_labels(p, num_classes=40)


def test_segment_beyond_video(pku):
    with pytest.raises(
        SkeletonDataError, match=r"0310-R.txt:8: end: segment 1045..1134 ends beyond the video's 1100 frames"
    ):
        read_pku_labels(pku / "label" / "0310-R.txt", num_frames=1100)
    assert len(read_pku_labels(pku / "label" / "0310-R.txt", num_frames=1134)) == 8  # end == frame count is fine


def test_empty_and_truncated_label_file(pku, tmp_path):
    with pytest.raises(SkeletonDataError, match="empty label file"):
        read_pku_labels(write(tmp_path, "l.txt", "\n"))
    raw = (pku / "label" / "0105-M.txt").read_text()
    with pytest.raises(SkeletonDataError, match=r"l.txt:8: field count"):
        read_pku_labels(write(tmp_path, "l.txt", raw[: raw.rindex(",")]))  # last line cut before its confidence


# ---------------------------------------------------------------- splits
def test_real_split_files(pku):
    xsub, xview = read_pku_split(pku / "split" / "cross-subject.txt"), read_pku_split(pku / "split" / "cross-view.txt")
    assert (len(xsub["train"]), len(xsub["val"])) == (944, 132)
    assert (len(xview["train"]), len(xview["val"])) == (717, 359)
    assert set(xsub) == {"train", "val"} and xsub.path.name == "cross-subject.txt"
    # the same as HiCLR's reading of lines 2 and 4 (pku_part1_gendata.py:L44-L56)
    ref_lines = (pku / "split" / "cross-subject.txt").read_text().split("\n")
    ref = [[s.strip() for s in ref_lines[i].split(",") if s.strip()] for i in (1, 3)]
    assert [xsub["train"], xsub["val"]] == ref
    assert {v: assign_pku_split(v, xsub) for v in VIDEOS} == {"0105-M": "train", "0206-R": "train", "0310-R": "val"}
    assert {v: assign_pku_split(v, xview) for v in VIDEOS} == {"0105-M": "val", "0206-R": "train", "0310-R": "train"}


def test_split_segment_counts(pku):
    splits = {
        b: read_pku_split(pku / "split" / f) for b, f in (("xsub", "cross-subject.txt"), ("xview", "cross-view.txt"))
    }
    counts = {b: {"train": 0, "val": 0} for b in splits}
    for v in VIDEOS:
        n = len(read_pku_labels(pku / "label" / f"{v}.txt", num_frames=FRAMES[v]))
        for b, sp in splits.items():
            counts[b][assign_pku_split(v, sp)] += n
    assert counts == {"xsub": {"train": 16, "val": 8}, "xview": {"train": 16, "val": 8}}


def test_v2_split_and_correct_spelling(tmp_path):
    text = "Training videos: \nA01N01-L, A01N01-M, A01N01-R, \nValidataion videos: \nA02N05-L, A02N05-M\n"
    sp = read_pku_split(write(tmp_path, "cross_view_v2.txt", text))
    assert dict(sp) == {"train": ["A01N01-L", "A01N01-M", "A01N01-R"], "val": ["A02N05-L", "A02N05-M"]}
    sp2 = read_pku_split(write(tmp_path, "s.txt", text.replace("Validataion", "Validation")))
    assert sp2 == sp


@pytest.mark.parametrize(
    "text,match",
    [
        ("0002-L, 0003-L\nValidataion videos:\n0004-L\n", r"s.txt:1: header: video names before"),
        ("Training videos:\n0002-L\n", r"s.txt: header: no 'Validataion videos:' header"),
        ("Validataion videos:\n0002-L\n", r"s.txt: header: no 'Training videos:' header"),
        ("Training videos:\n\nValidataion videos:\n0002-L\n", r"s.txt: train: the 'Training videos:' list is empty"),
        (
            "Training videos:\n0002-L, 0002-L\nValidataion videos:\n0003-L\n",
            r"s.txt:2: train: video 0002-L is listed twice in the training list",
        ),
        (
            "Training videos:\n0002-L\nValidataion videos:\n0003-L, 0002-L\n",
            r"s.txt:4: val: video 0002-L is listed in both lists",
        ),
        (
            "Training videos:\n0002-L\nValidataion videos:\n0003-L\nTraining videos:\n0004-L\n",
            r"s.txt:5: header: second 'train' header",
        ),
        (
            "Training videos:\n0002-L; 0003-L\nValidataion videos:\n0004-L\n",
            r"s.txt:2: video name: not a PKU-MMD video name: '0002-L; 0003-L'",
        ),
        (
            "Training videos:\n0002-L, A01N01-L\nValidataion videos:\n0004-L\n",
            r"s.txt:2: video name: mixes Part I and Part II",
        ),
    ],
)
def test_bad_split_files(tmp_path, text, match):
    with pytest.raises(SkeletonDataError, match=match):
        read_pku_split(write(tmp_path, "s.txt", text))


def test_truncated_split_file(pku, tmp_path):
    raw = (pku / "split" / "cross-view.txt").read_text()
    with pytest.raises(SkeletonDataError, match="no 'Validataion videos:' header"):
        read_pku_split(write(tmp_path, "cross-view.txt", raw[: raw.index("Valid")]))
    cut = raw[: raw.rindex(", ") + 4]  # the last name cut to '03'
    with pytest.raises(SkeletonDataError, match=r"cross-view.txt:4: video name: not a PKU-MMD video name: '03'"):
        read_pku_split(write(tmp_path, "cross-view.txt", cut))


def test_check_split_videos(pku):
    xsub = read_pku_split(pku / "split" / "cross-subject.txt")
    with pytest.raises(
        SkeletonDataError,
        match=r"cross-subject.txt: videos: 942 of 944 training and 131 of 132 validation videos are not available: "
        r"0002-L, .* and 1053 more",
    ):
        check_split_videos(xsub, (pku / "skeleton").glob("*.txt"))
    rep = check_split_videos(xsub, (pku / "skeleton").glob("*.txt"), on_missing="report")
    assert "0105-M" not in rep["missing_train"] and "0310-R" not in rep["missing_val"] and rep["unlisted"] == []
    small = dict(train=["0105-M"], val=["0310-R", "0002-L"])
    with pytest.raises(
        SkeletonDataError, match=r"0 of 1 training and 1 of 2 validation videos are not available: 0002-L$"
    ):
        check_split_videos(small, VIDEOS)
    assert check_split_videos(small, VIDEOS, on_missing="report") == dict(
        missing_train=[], missing_val=["0002-L"], unlisted=["0206-R"]
    )
    assert assign_pku_split("0206-R", small, unlisted="val") == "val"
    with pytest.raises(SkeletonDataError, match="in neither list"):
        assign_pku_split("0206-R", small)


# ---------------------------------------------------------------- cutting
@pytest.mark.parametrize("video", VIDEOS)
def test_cut_conventions_differ_by_one_frame(pku, video):
    x = read_pku_skeleton(pku / "skeleton" / f"{video}.txt")
    labels = read_pku_labels(pku / "label" / f"{video}.txt", num_frames=len(x))
    hiclr, halp = cut_pku_segments(x, labels, "hiclr"), cut_pku_segments(x, labels, "halp")
    raw = np.loadtxt(pku / "skeleton" / f"{video}.txt").astype(np.float32)
    for (_, s, e, _), h, c in zip(labels, hiclr, halp):
        # HiCLR pku_part1_skeleton.py:L47 and HaLP pku_gendata.py:L25, restated
        np.testing.assert_array_equal(h.reshape(len(h), 150), raw[s - 1 : e, :150])
        np.testing.assert_array_equal(c.reshape(len(c), 150), raw[s:e])
        assert len(h) == e - s + 1 and len(c) == e - s
        np.testing.assert_array_equal(h[1:], c)
        assert not np.array_equal(h[0], c[0])


def test_cut_errors():
    x = np.zeros((100, 2, 25, 3), np.float32)
    with pytest.raises(SkeletonDataError, match=r"l.txt:2: segment: hiclr cut \[-1, 5\)"):
        cut_pku_segments(x, [[1, 1, 5, 2], [1, 0, 5, 2]], path="l.txt")
    with pytest.raises(SkeletonDataError, match=r"halp cut \[90, 101\) .* outside the video's 100 frames"):
        cut_pku_segments(x, [[1, 90, 101, 2]], "halp")
    with pytest.raises(SkeletonDataError, match=r"halp cut \[9, 9\) of segment 9..9 is empty"):
        cut_pku_segments(x, [[1, 9, 9, 2]], "halp")
    assert len(cut_pku_segments(x, [[1, 9, 9, 2]], "hiclr")[0]) == 1
    assert len(cut_pku_segments(x, [[1, 1, 100, 2]], "hiclr")[0]) == 100
    with pytest.raises(ValueError, match="convention"):
        cut_pku_segments(x, [[1, 1, 5, 2]], "aimclr")


def test_segments_are_copies():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    seg = cut_pku_segments(x, [[1, 2, 4, 2]])[0]
    seg[:] = -1
    assert x.min() == 0


# ---------------------------------------------------------------- centre crop
@pytest.mark.parametrize(
    "n,first,last", [(300, 0, 299), (301, 0, 299), (302, 1, 300), (303, 1, 300), (304, 2, 301), (1254, 477, 776)]
)
def test_center_crop(n, first, last):
    kept = center_crop_frames(np.arange(n))
    assert len(kept) == min(n, 300) and kept[0] == first and kept[-1] == last
    start, end = (n - 300) // 2, 300 + (n - 300) // 2  # HiCLR pku_read_skeleton.py:L60-L61
    assert kept.tolist() == ([i for i in range(n) if i in range(start, end)] if n > 300 else list(range(n)))


def test_center_crop_short_and_axis(pku):
    x = np.zeros((3, 420, 25, 2))
    assert center_crop_frames(x, axis=1).shape == (3, 300, 25, 2)
    short = np.zeros((5, 2, 25, 3))
    assert center_crop_frames(short) is short
    assert center_crop_frames(np.arange(10), max_frames=4).tolist() == [3, 4, 5, 6]
    with pytest.raises(ValueError):
        center_crop_frames(short, max_frames=0)


# ---------------------------------------------------------------- names
def test_segment_names():
    assert [pku_segment_name("0105-M", i) for i in (0, 3, 99, 100)] == [
        "0105-M_00",
        "0105-M_03",
        "0105-M_99",
        "0105-M_100",
    ]
    assert pku_segment_name("A01N01-L", 2) == "A01N01-L_02"
    assert pku_segment_name("0105-M", 0, label=26, style="hiclr") == "F105V002C026L001"
    assert pku_segment_name("0364-R", 19, label=51, style="hiclr") == "F364V003C051L020"
    assert pku_segment_name("A05N02-M", 4, label=7, style="hiclr") == "A005N002V002C007L005"
    assert pku_segment_name("0105-M", 7, style="halp") == "0105-M.txt_7"
    with pytest.raises(ValueError):
        pku_segment_name("0105-M", -1)
    with pytest.raises(ValueError):
        pku_segment_name("0105-M", 0, style="hiclr")
    with pytest.raises(ValueError):
        pku_segment_name("0105-M", 0, style="ntu")
    with pytest.raises(SkeletonDataError):
        pku_segment_name("0105", 0)


def test_segment_names_unique_over_samples(pku):
    names = [pku_segment_name(v, i) for v in VIDEOS for i in range(len(read_pku_labels(pku / "label" / f"{v}.txt")))]
    assert len(names) == len(set(names)) == 24


def test_byte_order_mark_is_tolerated(pku, tmp_path):
    p = tmp_path / "cross-view.txt"
    p.write_bytes(b"\xef\xbb\xbf" + (pku / "split" / "cross-view.txt").read_bytes())
    assert read_pku_split(p) == read_pku_split(pku / "split" / "cross-view.txt")
