"""`prepare` on real files with bad ones among them: every bad file is reported with its reason, nothing
half-written looks complete, re-running skips finished work, and --strict fails."""

import json
import shutil

import numpy as np
import pytest

from skelnb.core import SkeletonDataError
from skelnb.data import prepare as P
from skelnb.data.store import SplitWriter, is_complete, load_split


@pytest.fixture
def ntu_raw(tmp_path, shared):
    raw = tmp_path / "raw"
    shutil.copytree(shared / "ntu_samples", raw)
    return raw


def run(dataset, raw, out, **kw):
    return P.prepare(dataset, raw, out, workers=kw.pop("workers", 1), progress=False, **kw)


def test_truncated_file_is_skipped_and_reported(ntu_raw, tmp_path):
    f = ntu_raw / "S002C001P003R001A003.skeleton"
    f.write_bytes(f.read_bytes()[:5000])  # cut inside a frame
    rep = run("ntu60", ntu_raw, tmp_path / "out", pipeline="hiclr")
    assert [s["file"] for s in rep["skipped"]] == [str(f)]
    assert "S002C001P003R001A003.skeleton:" in rep["skipped"][0]["reason"]
    assert rep["counts"]["xsub"] == {"train": 3, "val": 1}
    text = (tmp_path / "out" / "ntu60-hiclr" / "report.txt").read_text()
    assert "skipped (unreadable or invalid): 1" in text and str(f) in text
    with pytest.raises(SkeletonDataError, match="--strict"):
        run("ntu60", ntu_raw, tmp_path / "strict", pipeline="hiclr", strict=True)


def test_nothing_valid_fails(ntu_raw, tmp_path):
    for f in ntu_raw.glob("*.skeleton"):
        f.write_text("0\r\n")
    with pytest.raises(SkeletonDataError, match="no valid sample remains"):
        run("ntu60", ntu_raw, tmp_path / "out")


def test_missing_list_excludes_by_name(ntu_raw, tmp_path, monkeypatch):
    lst = tmp_path / "missing.txt"
    lst.write_text("S001C001P001R001A011\r\nS004C002P003R001A017\r\n")
    rep = run("ntu60", ntu_raw, tmp_path / "out", missing_list=str(lst))
    assert sorted(e["file"].rsplit("/", 1)[1] for e in rep["excluded"]) == [
        "S001C001P001R001A011.skeleton",
        "S004C002P003R001A017.skeleton",
    ]
    assert all(e["reason"] == "in the missing-sample list" for e in rep["excluded"])
    assert sum(rep["counts"]["xsub"].values()) == 3
    monkeypatch.setenv("SKELNB_DATA", str(tmp_path / "no-shared-data"))  # no list anywhere: say so
    with pytest.raises(FileNotFoundError, match="missing-sample list not found"):
        run("ntu60", ntu_raw, tmp_path / "o2")
    assert sum(run("ntu60", ntu_raw, tmp_path / "o3", no_missing_list=True)["counts"]["xsub"].values()) == 5


def test_interrupted_assembly_leaves_nothing_complete_and_resumes(ntu_raw, tmp_path, monkeypatch):
    out = tmp_path / "out"
    calls = {"n": 0}
    finish = SplitWriter.finish

    def crash_on_second(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated interruption")
        return finish(self, *a, **k)

    monkeypatch.setattr(SplitWriter, "finish", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        run("ntu60", ntu_raw, out, pipeline="halp")
    root = out / "ntu60-halp"
    complete = [p for p in root.glob("*/*") if is_complete(p)]
    assert len(complete) <= 1  # only the split finished before the interruption
    assert not list(root.glob("*/*/*.tmp")) and not list(root.glob("*/*/.data.npy.*"))
    cached = sorted((root / ".cache").glob("*.npz"))
    assert cached  # worker results survive for the re-run
    mtimes = [p.stat().st_mtime_ns for p in cached]
    monkeypatch.setattr(SplitWriter, "finish", finish)
    rep = run("ntu60", ntu_raw, out, pipeline="halp", keep_cache=True)
    assert [p.stat().st_mtime_ns for p in sorted((root / ".cache").glob("*.npz"))] == mtimes  # not recomputed
    assert all(is_complete(root / b / s) for b in ("xsub", "xview") for s in ("train", "val"))
    assert rep["counts"]["xview"] == {"train": 2, "val": 3}
    assert run("ntu60", ntu_raw, out, pipeline="halp")["resumed"] is True
    assert run("ntu60", ntu_raw, out, pipeline="halp", frames=120)["resumed"] is False  # other parameters: redone
    assert load_split(root / "xsub" / "train").data.shape[2] == 120


def test_meta_records_pipeline_sources_and_versions(ntu_raw, tmp_path):
    run("ntu60", ntu_raw, tmp_path / "out", pipeline="hiclr")
    meta = json.loads((tmp_path / "out" / "ntu60-hiclr" / "xsub" / "val" / "meta.json").read_text())
    assert meta["pipeline"] == "hiclr" and meta["params"]["frames"] == 50 and meta["params"]["bodies"] == "order"
    assert meta["source"]["files"] == 5 and len(meta["source"]["sha256"]) == 64
    assert meta["versions"]["numpy"] == np.__version__
    assert meta["num_samples"] == 2 and sum(meta["class_counts"]) == 2


def test_pku_bad_label_row_is_reported_with_line(tmp_path, shared):
    raw = tmp_path / "pku"
    shutil.copytree(shared / "pku_mmd_samples", raw)
    lab = raw / "label" / "0206-R.txt"
    rows = lab.read_text().splitlines()
    rows[2] = "77," + rows[2].split(",", 1)[1]
    lab.write_text("\n".join(rows) + "\n")
    rep = run("pku1", raw, tmp_path / "out", pipeline="halp")
    assert len(rep["skipped"]) == 1 and "0206-R.txt:3" in rep["skipped"][0]["reason"]
    assert rep["skipped"][0]["sample"] == "0206-R_02"
    assert sum(rep["counts"]["xsub"].values()) == 23  # that segment only; the video's 7 others are kept


def test_dataset_with_workers(tmp_path, shared):
    import torch
    from skelnb.data.store import SkeletonDataset

    run("nw-ucla", shared / "nw_ucla", tmp_path / "out", pipeline="halp", workers=2)
    ds = SkeletonDataset(tmp_path / "out" / "nw-ucla-halp" / "xview" / "val", stream="bone")
    loader = torch.utils.data.DataLoader(ds, batch_size=64, num_workers=2)
    xs, ys = zip(*loader)
    x = torch.cat(xs)
    assert x.shape == (464, 3, 300, 20, 1) and torch.isfinite(x).all()
    assert torch.cat(ys).tolist() == ds.labels.tolist()


def test_pku2_uses_its_v2_split_files(tmp_path, shared):
    raw = tmp_path / "pku2"
    shutil.copytree(shared / "pku_mmd_samples" / "skeleton", raw / "skeleton")
    shutil.copytree(shared / "pku_mmd_samples" / "label", raw / "label")
    (raw / "cross_subject_v2.txt").write_text("Training videos: \n0105-M, 0206-R\nValidataion videos: \n0310-R\n")
    (raw / "cross_view_v2.txt").write_text("Training videos: \n0206-R, 0310-R\nValidataion videos: \n0105-M\n")
    rep = run("pku2", raw, tmp_path / "out", pipeline="halp")
    assert rep["counts"] == {"xsub": {"train": 16, "val": 8}, "xview": {"train": 16, "val": 8}}
    val = load_split(tmp_path / "out" / "pku2-halp" / "xsub" / "val")
    assert all(n.startswith("0310-R_") for n in val.names) and val.data.shape == (8, 3, 300, 25, 2)
    assert (val.num_frames == val.lengths).all()  # HaLP records the full segment length
    with pytest.raises(FileNotFoundError, match="cross_subject_v2.txt"):
        run("pku2", shared / "pku_mmd_samples", tmp_path / "o2")  # v1 split files do not stand in for v2


# ---------------------------------------------------------------------------------------------------------------
# issue 8: defects found on unseen real files and malformed inputs


@pytest.fixture
def ucla_raw(tmp_path, shared):
    "Twelve real NW-UCLA sequences (views 1-3, two actions, two subjects) and the real val_label.pkl."
    raw = tmp_path / "ucla"
    (raw / "all_sqe").mkdir(parents=True)
    for a in ("a01", "a02"):
        for s in ("s01", "s02"):
            for v in ("v01", "v02", "v03"):
                src = shared / "nw_ucla" / "all_sqe" / f"{a}_{s}_e00_{v}.json"
                shutil.copy(src, raw / "all_sqe" / src.name)
    shutil.copy(shared / "nw_ucla" / "val_label.pkl", raw / "val_label.pkl")
    return raw


def _pku_segment_frames(raw, video, i):
    "HiCLR's frames [start-1, end) of label row i (0-based) of `video`."
    row = (raw / "label" / f"{video}.txt").read_text().splitlines()[i].split(",")
    return int(row[1]) - 1, int(row[2])


def test_pku_failing_segment_is_skipped_alone_and_named(tmp_path, shared):
    "Defects 1 and 5: per segment; the report names the segment, the label file and its line."
    raw = tmp_path / "pku"
    shutil.copytree(shared / "pku_mmd_samples", raw)
    skel = raw / "skeleton" / "0206-R.txt"
    lines = skel.read_text().splitlines()
    lo, hi = _pku_segment_frames(raw, "0206-R", 2)
    for t in range(lo, hi):  # segment 2 becomes all zeros: the pipeline rejects it
        lines[t] = " ".join(["0"] * 150)
    skel.write_text("\n".join(lines) + "\n")
    lab = raw / "label" / "0310-R.txt"  # and a row of another video that HiCLR cannot cut (start 0)
    rows = lab.read_text().splitlines()
    rows[4] = ",".join([rows[4].split(",")[0], "0", *rows[4].split(",")[2:]])
    lab.write_text("\n".join(rows) + "\n")
    rep = run("pku1", raw, tmp_path / "out", pipeline="hiclr")
    by_sample = {s["sample"]: s for s in rep["skipped"]}
    assert sorted(by_sample) == ["0206-R_02", "0310-R_04"]
    assert by_sample["0206-R_02"]["file"] == str(skel)
    assert f"{raw / 'label' / '0206-R.txt'}:3: " in by_sample["0206-R_02"]["reason"]
    assert "0206-R_02: hiclr pipeline" in by_sample["0206-R_02"]["reason"]
    assert f"{lab}:5: segment: hiclr cut [-1," in by_sample["0310-R_04"]["reason"]
    assert sum(rep["counts"]["xsub"].values()) == 22  # the 22 other segments, those after the bad ones included
    names = [n for p in ("train", "val") for n in load_split(tmp_path / "out" / "pku1-hiclr" / "xsub" / p).names]
    assert "0206-R_02" not in names and {"0206-R_01", "0206-R_03", "0310-R_05"} <= set(names)
    text = (tmp_path / "out" / "pku1-hiclr" / "report.txt").read_text()
    assert f"{skel} [0206-R_02]: " in text and "skipped (unreadable or invalid): 2" in text


def test_every_bad_path_is_listed_and_skipped(ntu_raw, tmp_path):
    "Defect 2: a dangling symlink, a directory named like a data file and an unreadable file do not stop prepare."
    dangling = ntu_raw / "S009C001P001R001A001.skeleton"
    dangling.symlink_to(tmp_path / "gone.skeleton")
    folder = ntu_raw / "S010C001P002R001A002.skeleton"
    folder.mkdir()
    rep = run("ntu60", ntu_raw, tmp_path / "out", no_missing_list=True)
    reasons = {s["file"]: s["reason"] for s in rep["skipped"]}
    assert reasons == {
        str(dangling): f"{dangling}: dangling symbolic link (to {tmp_path / 'gone.skeleton'})",
        str(folder): f"{folder}: a directory, not a data file",
    }
    assert sum(rep["counts"]["xsub"].values()) == 5
    assert str(dangling) in (tmp_path / "out" / "ntu60-hiclr" / "report.txt").read_text()


def test_unreadable_file_is_skipped(ntu_raw, tmp_path, monkeypatch):
    "Defect 2: a file that cannot be opened (no permission; simulated, since root reads anything) is skipped."
    import skelnb.data.prepare as prep

    locked = ntu_raw / "S002C001P003R001A003.skeleton"
    real = prep.sha256_file

    def deny(p, *a, **k):
        if str(p) == str(locked):
            raise PermissionError(13, "Permission denied", str(p))
        return real(p, *a, **k)

    monkeypatch.setattr(prep, "sha256_file", deny)
    rep = run("ntu60", ntu_raw, tmp_path / "out")
    assert rep["skipped"] == [{"file": str(locked), "reason": f"{locked}: cannot read (Permission denied)"}]
    assert sum(rep["counts"]["xsub"].values()) == 4


def test_resume_keeps_the_skipped_list_and_removes_stale_tmp(ntu_raw, tmp_path):
    "Defect 3: killed after the splits but before report.json; .tmp files of killed runs are removed."
    bad = ntu_raw / "S002C001P003R001A003.skeleton"
    bad.write_bytes(bad.read_bytes()[:5000])
    first = run("ntu60", ntu_raw, tmp_path / "out", pipeline="halp")
    root = tmp_path / "out" / "ntu60-halp"
    (root / "report.json").unlink()  # as if killed before the report was written
    (root / "report.txt").unlink()
    stale = [root / "xsub" / "train" / ".data.npy.4242.tmp", root / ".cache" / ".chunk_00000_x.npz.abc.tmp"]
    for p in stale:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\0" * 1000)
    again = run("ntu60", ntu_raw, tmp_path / "out", pipeline="halp")
    assert again["resumed"] is True
    assert again["skipped"] == first["skipped"] and len(again["skipped"]) == 1
    assert sorted(again["removed_tmp"]) == sorted(map(str, stale)) and not any(p.exists() for p in stale)
    assert "skipped (unreadable or invalid): 1" in (root / "report.txt").read_text()


def test_pipeline_errors_name_the_file(ucla_raw, tmp_path):
    "Defect 5: a reason raised in the pipeline stage names the file and the sample."
    f = ucla_raw / "all_sqe" / "a02_s01_e00_v01.json"
    seq = json.loads(f.read_text())
    for frame in seq["skeletons"]:
        frame[0] = [0.0, 0.0, 0.0]  # hip centre zero in every frame: HiCLR has no frame to resize
    f.write_text(json.dumps(seq))
    rep = run("nw-ucla", ucla_raw, tmp_path / "out")
    assert len(rep["skipped"]) == 1
    reason = rep["skipped"][0]["reason"]
    assert reason.startswith(f"{f}: frames: a02_s01_e00_v01: hiclr pipeline: person 0's spine_base"), reason


def test_prepared_files_follow_the_umask(ucla_raw, tmp_path):
    "Defect 6: every file of a prepared folder gets the usual umask-based mode, not mkstemp's 0600."
    import os

    old = os.umask(0o022)
    try:
        run("nw-ucla", ucla_raw, tmp_path / "out", keep_cache=True)
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "out" / "nw-ucla-hiclr").rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {
        "data.npy",
        "labels.npy",
        "meta.json",
        "names.txt",
        "report.json",
        "skipped.json",
    }
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {"0o644"}


def test_val_label_pkl_disagreement_is_shown(ucla_raw, tmp_path, capsys):
    "Defect 7: report.txt and the command's output state the disagreement, not only report.json."
    from skelnb.cli import main

    assert (
        main(
            ["prepare", "nw-ucla", "--raw", str(ucla_raw), "--out", str(tmp_path / "out"), "--quiet", "--workers", "1"]
        )
        == 0
    )
    out = capsys.readouterr().out
    text = (tmp_path / "out" / "nw-ucla-hiclr" / "report.txt").read_text()
    for shown in (out, text):
        assert f"WARNING: {ucla_raw / 'val_label.pkl'} disagrees with the view-3 files" in shown
        assert "460 names only in the pickle" in shown and "0 view-3 files not in it" in shown


def test_unreadable_val_label_pkl_is_a_warning_not_an_abort(ucla_raw, tmp_path):
    "Defect 2 for the side file: an unreadable val_label.pkl is reported, the sequences are still prepared."
    (ucla_raw / "val_label.pkl").write_bytes(b"not a pickle")
    rep = run("nw-ucla", ucla_raw, tmp_path / "out")
    assert rep["counts"] == {"xview": {"train": 8, "val": 4}}
    assert "could not be read" in (tmp_path / "out" / "nw-ucla-hiclr" / "report.txt").read_text()


# ---------------------------------------------------------------------------------------------------------------
# nothing silent in the data: malformed label rows, special files, odd names, NaN in any field, truncated arrays


def _edit_lines(path, edits: dict, append=()) -> None:
    "Replace lines (0-based index -> new text) of a real file, keeping its line endings; append lines."
    nl = "\r\n" if b"\r\n" in path.read_bytes() else "\n"
    lines = path.read_text().splitlines()
    for i, text in edits.items():
        lines[i] = text
    path.write_text(nl.join([*lines, *append]) + nl)


def test_pku_malformed_label_rows_skip_their_segment_only(tmp_path, shared):
    "A bad label row (class out of range, end before start, not a number) costs its segment, not the video."
    raw = tmp_path / "pku"
    shutil.copytree(shared / "pku_mmd_samples", raw)
    lab = raw / "label" / "0206-R.txt"
    rows = lab.read_text().splitlines()
    label, start, end, conf = rows[3].split(",")
    _edit_lines(lab, {1: "52," + rows[1].split(",", 1)[1], 3: f"{label},{end},{start},{conf}", 5: "x1,2,3,4"})
    rep = run("pku1", raw, tmp_path / "out", pipeline="halp")
    reasons = {s["sample"]: s["reason"] for s in rep["skipped"]}
    assert reasons == {
        "0206-R_01": f"{lab}:2: label: label 52 out of range 1..51",
        "0206-R_03": f"{lab}:4: end: start {end} > end {start}",
        "0206-R_05": f"{lab}:6: label: not an integer: 'x1'",
    }
    assert sum(rep["counts"]["xsub"].values()) == 21  # 24 segments less the 3 bad rows
    names = [n for p in ("train", "val") for n in load_split(tmp_path / "out" / "pku1-halp" / "xsub" / p).names]
    assert {"0206-R_00", "0206-R_02", "0206-R_04", "0206-R_06", "0206-R_07"} <= set(names)
    assert f"[0206-R_03]: {lab}:4: end: start" in (tmp_path / "out" / "pku1-halp" / "report.txt").read_text()


def test_pku_overlapping_and_duplicated_label_rows_are_warned(tmp_path, shared):
    "Two rows over the same frames are reported with the file and both lines; the segments are kept."
    raw = tmp_path / "pku"
    shutil.copytree(shared / "pku_mmd_samples", raw)
    lab = raw / "label" / "0105-M.txt"
    rows = lab.read_text().splitlines()
    l2, s2, e2, c2 = rows[2].split(",")
    _edit_lines(lab, {2: f"{l2},{int(rows[1].split(',')[2]) - 5},{e2},{c2}"}, append=[rows[0]])
    rep = run("pku1", raw, tmp_path / "out", pipeline="hiclr")
    assert [(w["file"], w["lines"]) for w in rep["warnings"]] == [(str(lab), [1, 9]), (str(lab), [2, 3])]
    assert "line 9 repeats line 1" in rep["warnings"][0]["reason"]
    assert "overlap" in rep["warnings"][1]["reason"]
    assert sum(rep["counts"]["xsub"].values()) == 25  # kept: the duplicate too, as the reference keeps it
    text = (tmp_path / "out" / "pku1-hiclr" / "report.txt").read_text()
    assert "warnings: 2" in text and f"{lab}:9: segment: line 9 repeats line 1" in text


def _prepare_in_subprocess(args, timeout=120):
    "`skelnb prepare ARGS` in a fresh process; a hang fails the test instead of blocking it."
    import subprocess
    import sys

    code = "import sys; from skelnb.cli import main; sys.exit(main(sys.argv[1:]))"
    try:
        return subprocess.run(
            [sys.executable, "-c", code, "prepare", *map(str, args), "--quiet", "--workers", "1"],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"skelnb prepare {' '.join(map(str, args))} still running after {timeout} s (reading a FIFO?)")


def test_special_files_named_like_data_are_skipped_not_read(ntu_raw, ucla_raw, tmp_path, shared, monkeypatch):
    "A FIFO (opening it would wait for a writer forever) or a socket named like a data file is listed, never opened."
    import os
    import socket

    fifo = ntu_raw / "S009C001P001R001A001.skeleton"
    os.mkfifo(fifo)
    monkeypatch.chdir(ntu_raw)  # a relative name keeps the socket path under the 108-byte limit
    sock = socket.socket(socket.AF_UNIX)
    sock.bind("S010C001P002R001A002.skeleton")
    sock_path = ntu_raw / "S010C001P002R001A002.skeleton"
    try:
        r = _prepare_in_subprocess(["ntu60", "--raw", ntu_raw, "--out", tmp_path / "o1", "--no-missing-list"])
    finally:
        sock.close()
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "o1" / "ntu60-hiclr" / "report.json").read_text())
    assert {s["file"]: s["reason"] for s in rep["skipped"]} == {
        str(fifo): f"{fifo}: a FIFO (named pipe), not a regular file; not opened",
        str(sock_path): f"{sock_path}: a socket, not a regular file; not opened",
    }
    assert sum(rep["counts"]["xsub"].values()) == 5 and f"{fifo}: a FIFO" in r.stdout

    ufifo = ucla_raw / "all_sqe" / "a01_s03_e00_v01.json"
    os.mkfifo(ufifo)
    r = _prepare_in_subprocess(["nw-ucla", "--raw", ucla_raw, "--out", tmp_path / "o2"])
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "o2" / "nw-ucla-hiclr" / "report.json").read_text())
    assert rep["skipped"] == [
        {"file": str(ufifo), "reason": f"{ufifo}: a FIFO (named pipe), not a regular file; not opened"}
    ]

    raw = tmp_path / "pku"
    shutil.copytree(shared / "pku_mmd_samples", raw)
    lab = raw / "label" / "0206-R.txt"
    lab.unlink()
    os.mkfifo(lab)  # the video is real, its label file a FIFO
    r = _prepare_in_subprocess(["pku1", "--raw", raw, "--out", tmp_path / "o3"])
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "o3" / "pku1-hiclr" / "report.json").read_text())
    assert [s["reason"] for s in rep["skipped"]] == [f"{lab}: a FIFO (named pipe), not a regular file; not opened"]
    assert sum(rep["counts"]["xsub"].values()) == 16


def test_backup_copy_beside_a_sample_is_not_a_second_sample(ntu_raw, tmp_path):
    "`…A011.orig.skeleton` is the same recording as `…A011.skeleton`: listed with the reason, not prepared."
    orig = ntu_raw / "S001C001P001R001A011.orig.skeleton"
    shutil.copy(ntu_raw / "S001C001P001R001A011.skeleton", orig)
    rep = run("ntu60", ntu_raw, tmp_path / "out")
    assert sum(rep["counts"]["xsub"].values()) == 5
    names = [n for p in ("train", "val") for n in load_split(tmp_path / "out" / "ntu60-hiclr" / "xsub" / p).names]
    assert sorted(names) == sorted(p.stem for p in ntu_raw.glob("S???????????????????.skeleton"))
    reason = f"not an NTU sample file name: expected S###C###P###R###A###.skeleton, got {orig.name!r}"
    assert {"file": str(orig), "reason": reason} in rep["excluded"]
    assert f"{orig}: {reason}" in (tmp_path / "out" / "ntu60-hiclr" / "report.txt").read_text()


def test_undecodable_file_name_is_listed_and_the_report_written(ntu_raw, ucla_raw, tmp_path):
    "A file name that is not UTF-8 is listed in report.txt (its bytes escaped) instead of breaking the report."
    import os

    src = (ntu_raw / "S001C001P001R001A011.skeleton").read_bytes()
    with open(os.path.join(os.fsencode(ntu_raw), b"S001\xff.skeleton"), "wb") as f:
        f.write(src)
    rep = run("ntu60", ntu_raw, tmp_path / "out")
    assert sum(rep["counts"]["xsub"].values()) == 5
    text = (tmp_path / "out" / "ntu60-hiclr" / "report.txt").read_text()
    assert f"{ntu_raw}/S001\\xff.skeleton: file name is not valid UTF-8" in text
    assert json.loads((tmp_path / "out" / "ntu60-hiclr" / "report.json").read_text())["excluded"] == rep["excluded"]

    with open(os.path.join(os.fsencode(ucla_raw / "all_sqe"), b"a01_s03_e00_v01\xe9.json"), "wb") as f:
        f.write((ucla_raw / "all_sqe" / "a01_s01_e00_v01.json").read_bytes())
    run("nw-ucla", ucla_raw, tmp_path / "o2")
    assert (
        "a01_s03_e00_v01\\xe9.json: file name is not valid UTF-8"
        in (tmp_path / "o2" / "nw-ucla-hiclr" / "report.txt").read_text()
    )


def test_nan_in_an_unused_ntu_field_is_reported_and_the_sample_kept(ntu_raw, tmp_path):
    "NaN/inf in depth, colour, orientation or body info: named by file, line and field; the coordinates still count."
    clean = run("ntu60", ntu_raw, tmp_path / "clean")
    f = ntu_raw / "S002C001P003R001A003.skeleton"
    lines = f.read_text().splitlines()  # line 3: body info; lines 5..29: the 25 joints of frame 1
    info, joint, joint2 = lines[2].split(), lines[4].split(), lines[10].split()
    info[7] = "nan"  # leanX
    joint[3], joint2[9] = "nan", "inf"  # depthX of joint 1, orientationY of joint 7
    _edit_lines(f, {2: " ".join(info), 4: " ".join(joint), 10: " ".join(joint2)})
    rep = run("ntu60", ntu_raw, tmp_path / "out")
    assert rep["skipped"] == [] and rep["counts"] == clean["counts"]
    assert [(w["file"], w["lines"], w["reason"]) for w in rep["warnings"]] == [
        (str(f), [3], f"{f}:3: leanX: 'nan' is not a finite float32; kept: prepare does not use this field"),
        (str(f), [5], f"{f}:5: depthX: 'nan' is not a finite float32; kept: prepare does not use this field"),
        (str(f), [11], f"{f}:11: orientationY: 'inf' is not a finite float32; kept: prepare does not use this field"),
    ]
    for p in ("train", "val"):  # the numbers are those of the clean file
        a, b = (load_split(tmp_path / o / "ntu60-hiclr" / "xsub" / p) for o in ("clean", "out"))
        assert np.array_equal(a.data, b.data) and a.names == b.names
    assert (
        f"{f}:5: depthX: 'nan' is not a finite float32; kept"
        in (tmp_path / "out" / "ntu60-hiclr" / "report.txt").read_text()
    )
    joint[0] = "nan"  # x is used: the sample is skipped, named
    _edit_lines(f, {4: " ".join(joint)})
    rep = run("ntu60", ntu_raw, tmp_path / "o2")
    assert [s["reason"] for s in rep["skipped"]] == [
        f"{f}:5: x y z: non-finite coordinate in float32: [nan, -0.08822607, 2.788731]"
    ]


def test_truncated_split_array_is_rebuilt_by_prepare(ntu_raw, tmp_path):
    "A finished split whose data.npy lost its end is not taken as finished: prepare writes it again."
    run("ntu60", ntu_raw, tmp_path / "out")
    data = tmp_path / "out" / "ntu60-hiclr" / "xsub" / "train" / "data.npy"
    good = data.read_bytes()
    data.write_bytes(good[: len(good) // 2])
    rep = run("ntu60", ntu_raw, tmp_path / "out")
    assert rep["resumed"] is False
    assert data.read_bytes() == good
    assert load_split(data.parent).data.shape == (3, 3, 50, 25, 2)


def test_ntu120_only_files_under_ntu60_are_counted(ntu_raw, tmp_path):
    "Files of NTU120's new setups or actions are not part of NTU60: the report says how many there were."
    shutil.copy(ntu_raw / "S001C001P001R001A011.skeleton", ntu_raw / "S018C001P001R001A011.skeleton")
    shutil.copy(ntu_raw / "S001C001P001R001A011.skeleton", ntu_raw / "S001C001P001R001A061.skeleton")
    rep = run("ntu60", ntu_raw, tmp_path / "out")
    assert sum(rep["counts"]["xsub"].values()) == 5 and rep["notes"]["ntu120_only"] == 2
    text = (tmp_path / "out" / "ntu60-hiclr" / "report.txt").read_text()
    assert "not part of ntu60: 2 NTU120-only files (setup > 17 or action > 60)" in text


def test_nan_joint_tracking_state_is_an_invalid_file(ntu_raw, tmp_path):
    "A tracking state is a code (0, 1, 2), not a measurement: NaN there makes the file invalid, skipped and named."
    f = ntu_raw / "S002C001P003R001A003.skeleton"
    joint = f.read_text().splitlines()[4].split()
    joint[11] = "nan"
    _edit_lines(f, {4: " ".join(joint)})
    rep = run("ntu60", ntu_raw, tmp_path / "out")
    assert [s["reason"] for s in rep["skipped"]] == [
        f"{f}:5: joint trackingState: joint tracking state nan not in {{0, 1, 2}}"
    ]
