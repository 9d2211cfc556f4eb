"""`prepare` where a notebook cannot check it: with worker processes (prepare's and a DataLoader's), through the
command line's `main` (the CLI's unit, nbs/90_cli.ipynb), and with FIFOs and sockets, run in a subprocess so that a
hang fails instead of blocking. Its other checks live in nbs/17_data.prepare.ipynb, under the units they check."""

import json
import shutil

import pytest

from skelnb.data import prepare as P


@pytest.fixture
def ntu_raw(tmp_path, shared):
    raw = tmp_path / "raw"
    shutil.copytree(shared / "ntu_samples", raw)
    return raw


def run(dataset, raw, out, **kw):
    return P.prepare(dataset, raw, out, workers=kw.pop("workers", 1), progress=False, **kw)


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
