"""`skelnb run` and `skelnb report` on tiny plans: real papermill runs of the pretrain notebook on real NW-UCLA data."""

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from skelnb.core import shared_data

ROOT = Path(__file__).resolve().parents[1]
SKELNB = Path(sys.executable).parent / "skelnb"

TINY = dict(
    method="moco",
    epochs=2,
    batch_size=4,
    lr=0.05,
    method_params=dict(queue_size=16, dim=8, encoder_hidden_channels=4, encoder_hidden_dim=16),
    trainer_params=dict(progress=False, checkpoint_every_steps=2, device="cpu"),
)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    "A data root holding nw-ucla-hiclr/xview/train: 16 real NW-UCLA sequences (4 actions x 4), 50 frames."
    if shared_data("nw_ucla") is None:
        pytest.skip("shared data (../shared/data or $SKELNB_DATA) absent")
    from skelnb.data.samples import ucla_samples
    from skelnb.data.store import write_split

    names = [f"a{a:02d}_s{s:02d}_e00_v01" for a in (1, 2, 3, 4) for s in (1, 2, 3, 4)]
    names = [n for n in names if shared_data("nw_ucla", "all_sqe", n + ".json") is not None]
    b = ucla_samples(names)
    root = tmp_path_factory.mktemp("data")
    write_split(
        root / "nw-ucla-hiclr" / "xview" / "train", b.x.numpy(), b.labels.numpy(), names, b.num_frames.numpy(),
        meta=dict(layout="nw_ucla", num_classes=12),
    )  # fmt: skip
    return root


def entry(name, paper=None, after=None, **params) -> dict:
    e = dict(name=name, notebook="pretrain", parameters=copy.deepcopy(TINY) | params)
    return e | ({"paper": paper} if paper else {}) | ({"after": after} if after else {})


def write_plan(folder: Path, name: str, runs: list, data_root) -> Path:
    plan = dict(plan=name, paper="none", table="none", title="tiny", runs=runs)
    plan["defaults"] = dict(data_root=str(data_root), dataset="nw-ucla", pipeline="hiclr", split="xview")
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps(plan))  # JSON is YAML
    return path


def skelnb(*args, cwd, env=None) -> subprocess.CompletedProcess:
    env = os.environ | dict(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1") | (env or {})
    return subprocess.run([str(SKELNB), *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True)


def loss_paper(value):
    return dict(row="MoCo", column="NW-UCLA joint", metric="loss", value=value)


def test_failure_is_reported_others_complete_then_skipped_and_reported(data_root, tmp_path):
    runs = [
        entry("good", paper=loss_paper(5.0)),
        entry("bad", paper=loss_paper(4.0), lr=-1.0),  # refused by the trainer: lr must be positive
        entry("needs-bad", after=["bad"]),
    ]
    plan = write_plan(tmp_path, "tiny", runs, data_root)
    r = skelnb("run", plan, "--jobs", "2", "--quiet", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "good: complete" in r.stdout and "bad: failed (exit 1" in r.stdout
    assert "needs-bad: blocked (needs bad, which failed)" in r.stdout
    assert "2 of 3 entries did not complete: bad, needs-bad" in r.stdout
    base = tmp_path / "papermill_runs" / "tiny"
    result = json.loads((base / "good" / "result.json").read_text())
    assert result["protocol"] == "pretrain" and result["card"]["parameters"]["epochs"] == 2
    assert Path(result["checkpoint"]).exists() and result["metrics"]["loss"] > 0
    assert (base / "good.ipynb").exists() and (base / "good" / "loss.png").exists()
    assert "lr: expected a positive value" in (base / "bad.log").read_text()
    status = json.loads((base / "status.json").read_text())
    assert status["good"]["exit"] == 0 and status["good"]["duration_s"] > 0 and status["bad"]["exit"] == 1
    assert status["good"]["start"] <= status["good"]["end"]

    again = skelnb("run", "tiny", "--only", "good", "--quiet", cwd=tmp_path)  # a name: papermill_runs/plans/...
    assert again.returncode == 2 and "no plan 'tiny'" in again.stderr  # ... which holds no such plan here
    again = skelnb("run", plan, "--only", "good", "--quiet", cwd=tmp_path)
    assert again.returncode == 0 and "good: skipped" in again.stdout, again.stdout + again.stderr
    assert json.loads((base / "status.json").read_text())["good"]["status"] == "skipped"
    dry = skelnb("run", plan, "--dry-run", cwd=tmp_path)
    assert dry.stdout.splitlines() == [
        "good: complete (skipped) [pretrain, gpus 1]",
        "bad: would run [pretrain, gpus 1]",
        "needs-bad: would run [pretrain, gpus 1] after bad",
    ]

    rep = skelnb("report", plan, cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    table = pd.read_csv(base / "report" / "report.csv")
    assert list(table["entry"]) == ["good", "bad"] and list(table["status"]) == ["done", "failed"]
    assert table["ours"][0] == pytest.approx(result["metrics"]["loss"])
    assert table["diff"][0] == pytest.approx(result["metrics"]["loss"] - 5.0, abs=0.01)
    assert table["epochs"][0] == 2 and table["batch"][0] == 4
    assert {p.name for p in (base / "report").iterdir()} == {"report.csv", "report.md", "accuracy.png", "curves.png"}
    assert "| good | MoCo | NW-UCLA joint | loss |" in (base / "report" / "report.md").read_text()


def test_killed_pretraining_resumes_from_its_checkpoint(data_root, tmp_path):
    "Killed after step 7 of 12 (checkpoints every 2 steps): failed; the next run resumes at step 6 and completes."
    plan = write_plan(tmp_path, "resume", [entry("cut", epochs=3)], data_root)
    killed = skelnb("run", plan, "--quiet", cwd=tmp_path, env=dict(SKELNB_TRAIN_KILL_AT="7"))
    assert killed.returncode == 1 and "cut: failed" in killed.stdout, killed.stdout + killed.stderr
    base = tmp_path / "papermill_runs" / "resume"
    assert not (base / "cut" / "result.json").exists()
    assert sorted(p.name for p in (base / "cut" / "checkpoints").glob("ckpt-*.pt"))
    resumed = skelnb("run", plan, "--quiet", cwd=tmp_path)
    assert resumed.returncode == 0 and "cut: complete" in resumed.stdout, resumed.stdout + resumed.stderr
    assert "resuming from" in (base / "cut.log").read_text()
    steps = pd.read_csv(base / "cut" / "steps.csv")
    assert sorted(set(steps["iteration"])) == list(range(1, 13))
    from skelnb.train import load_checkpoint, newest_checkpoint

    state = load_checkpoint(newest_checkpoint(base / "cut" / "checkpoints"))
    assert state["position"]["iteration"] == 12


def test_print_commands_one_line_per_entry_in_dependency_order(data_root, tmp_path):
    runs = [entry("b", after=["a"]), entry("a"), entry("c", method_params=dict(dim=8), epochs=1)]
    plan = write_plan(tmp_path, "cmds", runs, data_root)
    r = skelnb("run", plan, "--print-commands", "--data-root", "/elsewhere", cwd=tmp_path)
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and len(lines) == 3
    assert [line.split(" > ")[1].split("/")[-1].split(" ")[0] for line in lines] == ["a.log", "c.log", "b.log"]
    assert all("-m papermill" in line and "-r data_root /elsewhere" in line for line in lines)
    assert "-p epochs 1" in lines[1] and "-r out " + str(tmp_path / "papermill_runs" / "cmds" / "c") in lines[1]
    assert """-y '{"method_params": {"dim": 8}""" in lines[1]
    assert not (tmp_path / "papermill_runs" / "cmds").exists()  # nothing ran


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r[1].update(after=["zz"]), "cmds.yaml: b: needs unknown entry 'zz'"),
        (lambda r: r[1].update(name="a"), "duplicate entry name 'a'"),
        (lambda r: r[0].update(after=["b"]), "dependency cycle among a, b"),
        (lambda r: r[0].update(notebook="pretrian"), "a: unknown notebook 'pretrian'"),
        (lambda r: r[0]["parameters"].update(epoch=3), "a: parameter 'epoch' not in pretrain.ipynb's"),
        (lambda r: r[0]["parameters"]["method_params"].update(qsize=3), "a: method_params.qsize: not a parameter"),
        (lambda r: r[1].update(paper=dict(row="x")), "runs[1] (b): paper needs exactly"),
        (lambda r: r[1]["parameters"].update(checkpoint="{run:nope}"), "b: needs unknown entry 'nope'"),
    ],
)
def test_plan_errors_name_the_file_and_entry(data_root, tmp_path, change, message):
    runs = [entry("a"), entry("b", after=["a"])]
    change(runs)
    from skelnb.experiments.plan import load_plan

    with pytest.raises(ValueError, match=re.escape(message)):
        load_plan(write_plan(tmp_path, "cmds", runs, data_root))


def test_a_broken_plan_fails_the_command_naming_file_and_entry(data_root, tmp_path):
    runs = [entry("a"), entry("b", after=["zz"])]
    r = skelnb("run", write_plan(tmp_path, "cmds", runs, data_root), "--dry-run", cwd=tmp_path)
    assert r.returncode == 2 and "cmds.yaml: b: needs unknown entry 'zz'" in r.stderr, r.stderr
