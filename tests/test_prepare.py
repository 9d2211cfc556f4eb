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
    assert sum(rep["counts"]["xsub"].values()) == 16


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
