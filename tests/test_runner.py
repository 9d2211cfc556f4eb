"""`skelnb run` and `skelnb report` on tiny plans: real papermill runs of the pretrain notebook on real NW-UCLA data."""

import copy
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from skelnb.cli import main
from skelnb.core import shared_data
from conftest import ucla_split

ROOT = Path(__file__).resolve().parents[1]

TINY = dict(
    method="moco",
    epochs=2,
    batch_size=4,
    lr=0.05,
    method_params=dict(queue_size=16, dim=8, encoder_hidden_channels=4, encoder_hidden_dim=16),
    trainer_params=dict(checkpoint_every_steps=2, device="cpu"),  # progress: a line per epoch in the log
)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    "A data root holding nw-ucla-hiclr/xview/train: 16 real NW-UCLA sequences (4 actions x 4), 50 frames."
    root = tmp_path_factory.mktemp("data")
    ucla_split(root / "nw-ucla-hiclr" / "xview" / "train", actions=(1, 2, 3, 4), num_classes=12)
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


@pytest.fixture
def skelnb(tmp_path, monkeypatch, capsys):
    "`skelnb ARGS` in this process (its papermill runs are subprocesses) from tmp_path: (exit code, stdout, stderr)."
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernels import this checkout's skelnb
    monkeypatch.setenv("OMP_NUM_THREADS", "1")

    def call(*args, env=None):
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        code = main([str(a) for a in args])
        for k in env or {}:
            monkeypatch.delenv(k)
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


def loss_paper(value):
    return dict(row="MoCo", column="NW-UCLA joint", metric="loss", value=value)


def test_failure_is_reported_others_complete_then_skipped_and_reported(data_root, tmp_path, skelnb):
    runs = [
        entry("good", paper=loss_paper(5.0)),
        entry("bad", paper=loss_paper(4.0), batch_size=32),  # fails once running: 16 samples, not one batch
        entry("needs-bad", after=["bad"]),
        dict(name="summary", notebook="report", after=["good"]),  # its parameters below
    ]
    runs[3]["parameters"] = dict(plan=str(tmp_path / "tiny.yaml"), runs_root=str(tmp_path / "papermill_runs"))
    plan = write_plan(tmp_path, "tiny", runs, data_root)
    code, out, err = skelnb("run", plan, "--jobs", "2", "--quiet")
    assert code == 1, out + err
    assert "good: complete" in out and "bad: failed (exit 1" in out
    assert "needs-bad: blocked (needs bad, which failed)" in out
    assert "2 of 4 entries did not complete: bad, needs-bad" in out
    # the report notebook ran after `good`, into its own folder (bad may not have ended by then)
    report = json.loads((tmp_path / "papermill_runs" / "tiny" / "summary" / "result.json").read_text())
    assert report["protocol"] == "report" and report["metrics"]["done"] == 1
    assert (tmp_path / "papermill_runs" / "tiny" / "summary" / "report.md").exists()
    base = tmp_path / "papermill_runs" / "tiny"
    result = json.loads((base / "good" / "result.json").read_text())
    assert result["protocol"] == "pretrain" and result["card"]["parameters"]["epochs"] == 2
    assert Path(result["checkpoint"]).exists() and result["metrics"]["loss"] > 0
    assert (base / "good.ipynb").exists() and (base / "good" / "loss.png").exists()
    log = (base / "good.log").read_text()  # a line per epoch (16 samples, batch 4: 4 steps), no frozen bar
    assert re.search(r"\nepoch 1/2: loss \d\.\d{4}, [\d,]+ samples/s, 4 steps, elapsed \d:\d\d:\d\d\n", log), log
    assert re.search(r"\nepoch 2/2: loss \d\.\d{4}, ", log) and "step/s" not in log and "0step" not in log, log
    assert "epoch 2/2: loss" in json.dumps(json.loads((base / "good.ipynb").read_text())["cells"])
    assert "16 samples, fewer than one batch of 32" in (base / "bad.log").read_text()
    status = json.loads((base / "status.json").read_text())
    assert status["good"]["exit"] == 0 and status["good"]["duration_s"] > 0 and status["bad"]["exit"] == 1
    assert status["good"]["start"] <= status["good"]["end"]

    code, out, err = skelnb("run", plan, "--only", "good", "--quiet")
    assert code == 0 and "good: skipped" in out, out + err
    assert json.loads((base / "status.json").read_text())["good"]["status"] == "skipped"
    code, out, err = skelnb("run", plan, "--dry-run")
    assert out.splitlines() == [
        "good: complete (skipped) [pretrain, gpus 1]",
        "bad: would run [pretrain, gpus 1]",
        "needs-bad: would run [pretrain, gpus 1] after bad",
        "summary: complete (skipped) [report, gpus 1] after good",
    ]

    code, out, err = skelnb("report", plan)
    assert code == 0 and "wrote" in out, err
    table = pd.read_csv(base / "report" / "report.csv")
    assert list(table["entry"]) == ["good", "bad"] and list(table["status"]) == ["done", "failed"]
    assert table["ours"][0] == pytest.approx(result["metrics"]["loss"])
    assert table["diff"][0] == pytest.approx(result["metrics"]["loss"] - 5.0, abs=0.01)
    assert table["epochs"][0] == 2 and table["batch"][0] == 4
    assert {p.name for p in (base / "report").iterdir()} == {
        "report.csv",
        "report.md",
        "accuracy.png",
        "curves.png",
        "collapse.csv",
    }
    assert "| good | MoCo | NW-UCLA joint | loss |" in (base / "report" / "report.md").read_text()


def test_without_prepared_data_the_run_stops_before_any_kernel_with_the_command_that_prepares_it(
    tmp_path, skelnb, shared
):
    "An empty data root: exit 2 within 2 s, one message with a `skelnb prepare` command that then prepares the data."
    import psutil

    empty = tmp_path / "data root"  # a space: the command must quote it
    empty.mkdir()
    knn = dict(name="a-knn", notebook="evaluate", after=["a"], parameters=dict(protocol="knn", checkpoint="{run:a}"))
    plan = write_plan(tmp_path, "nodata", [entry("a"), entry("b", after=["a"]), knn], empty)
    start = time.perf_counter()
    code, out, err = skelnb("run", plan, "--quiet")
    seconds = time.perf_counter() - start
    print(f"stopped after {seconds:.2f} s:\n{err}")
    assert code == 2 and seconds < 2, (seconds, err)
    command = f"skelnb prepare nw-ucla --raw PATH/TO/NW-UCLA --out '{empty}' --pipeline hiclr"
    assert err.count("skelnb prepare") == 1 and f"\n    {command}\n" in err, err
    assert "read by 3 entries (a, b, a-knn)" in err and "xview/train or xview/val" in err, err
    assert "checkpoint" not in err  # a-knn's checkpoint comes from entry a: not checked beforehand
    assert not (tmp_path / "papermill_runs").exists()  # no folder, no log, no kernel
    assert not [p for p in psutil.Process().children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]

    raw = tmp_path / "raw"  # the command as printed, on a few real raw files: the data is then there
    (raw / "all_sqe").mkdir(parents=True)
    for name in [f"a{a:02d}_s01_e00_v0{v}.json" for a in (1, 2) for v in (1, 2, 3)]:
        (raw / "all_sqe" / name).write_bytes((shared / "nw_ucla" / "all_sqe" / name).read_bytes())
    line = shlex.split(command.replace("PATH/TO/NW-UCLA", str(raw)))
    main_ = "import sys; from skelnb.cli import main; sys.exit(main())"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", main_, *line[1:], "--workers", "1", "--quiet"],
                          capture_output=True, text=True, cwd=tmp_path, env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    from skelnb.experiments.plan import load_plan
    from skelnb.experiments.runner import make_jobs, missing_inputs, select

    the_plan = load_plan(plan)
    assert missing_inputs(make_jobs(the_plan, tmp_path / "papermill_runs"), select(the_plan), tmp_path) is None


def test_killed_pretraining_resumes_from_its_checkpoint(data_root, tmp_path, skelnb):
    "The training kernel killed (SIGKILL, from outside) after a checkpoint: failed; the next run resumes and completes."
    import psutil

    plan = write_plan(tmp_path, "resume", [entry("cut", epochs=500)], data_root)  # checkpoints every 2 steps
    base = tmp_path / "papermill_runs" / "resume"
    runner = _runner(plan, tmp_path)
    _wait_for_files(base / "cut" / "checkpoints", "ckpt-*.pt", runner)  # the kill comes after a checkpoint
    kernels = [p for p in psutil.Process(runner.pid).children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]
    assert len(kernels) == 1
    kernels[0].kill()
    out, err = runner.communicate(timeout=300)
    assert runner.returncode == 1 and "cut: failed" in out, out + err
    assert not (base / "cut" / "result.json").exists()
    assert sorted(p.name for p in (base / "cut" / "checkpoints").glob("ckpt-*.pt"))
    epochs = int(pd.read_csv(base / "cut" / "steps.csv")["epoch"].max()) + 1  # an epochs-only change: resumes
    write_plan(tmp_path, "resume", [entry("cut", epochs=epochs)], data_root)
    code, out, err = skelnb("run", plan, "--quiet")
    assert code == 0 and "cut: complete" in out, out + err
    assert "resuming from" in (base / "cut.log").read_text()
    steps = pd.read_csv(base / "cut" / "steps.csv")
    assert sorted(set(steps["iteration"])) == list(range(1, 4 * epochs + 1))  # 16 samples / batch 4: 4 steps an epoch
    from skelnb.checkpoint import load_checkpoint, newest_checkpoint

    state = load_checkpoint(newest_checkpoint(base / "cut" / "checkpoints"))
    assert state["position"]["iteration"] == 4 * epochs


def test_print_commands_one_line_per_entry_in_dependency_order(data_root, tmp_path, skelnb):
    runs = [entry("b", after=["a"]), entry("a"), entry("c", method_params=dict(dim=8), epochs=1)]
    plan = write_plan(tmp_path, "cmds", runs, data_root)
    code, out, err = skelnb("run", plan, "--print-commands", "--data-root", "/elsewhere")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert [line.split(" > ")[1].split("/")[-1].split(" ")[0] for line in lines] == ["a.log", "c.log", "b.log"]
    assert all("-m papermill" in line and "-r data_root /elsewhere" in line for line in lines)
    assert "-p epochs 1" in lines[1] and "-r out " + str(tmp_path / "papermill_runs" / "cmds" / "c") in lines[1]
    assert """-y '{"method_params": {"dim": 8}""" in lines[1]
    assert not (tmp_path / "papermill_runs" / "cmds").exists()  # nothing ran


def test_a_broken_plan_fails_the_command_naming_file_and_entry(data_root, tmp_path, skelnb):
    runs = [entry("a"), entry("b", after=["zz"])]
    code, out, err = skelnb("run", write_plan(tmp_path, "cmds", runs, data_root), "--dry-run")
    assert code == 2 and "cmds.yaml: b: needs unknown entry 'zz'" in err, err
    code, out, err = skelnb("run", "no-such-plan")  # a name: papermill_runs/plans/<name>.yaml
    assert code == 2 and "no plan 'no-such-plan'" in err, err


@pytest.mark.slow
def test_an_entry_with_two_gpus_runs_torchrun(data_root, tmp_path, skelnb):
    "gpus: 2 launches torchrun with two processes (gloo on CPU here): run.json records 2 processes."
    runs = [entry("two", trainer_params=dict(progress=False, device="cpu"), batch_size=8)]
    runs[0]["gpus"] = 2
    code, out, err = skelnb("run", write_plan(tmp_path, "two", runs, data_root), "--quiet")
    assert code == 0 and "two: complete" in out, out + err
    base = tmp_path / "papermill_runs" / "two" / "two"
    assert json.loads((base / "run.json").read_text())["processes"] == 2
    assert json.loads((base / "result.json").read_text())["card"]["processes"] == 2


@pytest.mark.parametrize(
    "change, args, message",
    [
        (lambda r: r[0].update(notebook="/etc/passwd"), [], "runs[0] (a): notebook '/etc/passwd': a plan runs only"),
        (lambda r: r[0].update(notebook="../../nbs/00_core"), [], "notebook '../../nbs/00_core': a plan runs only"),
        (lambda r: r[0]["parameters"].update(lr=-1), [], "bad.yaml: a: lr: expected a value >= 0"),
        (lambda r: r[0]["parameters"].update(dataset="ntu61"), [], "bad.yaml: a: dataset: unknown 'ntu61'; known:"),
        (lambda r: None, ["--jobs", "0"], "--jobs: expected an integer >= 1, got 0"),
        (lambda r: None, ["--runs-root", "a_file"], "a_file is a file, not a folder"),
        (lambda r: None, ["--runs-root", "a_file/runs"], "a_file is a file, not a folder"),
    ],
)
def test_bad_plans_and_flags_are_refused_before_anything_is_written(data_root, tmp_path, skelnb, change, args, message):
    "Each refusal: exit 2, one message naming the value, nothing written (no runs folder) by --dry-run or a run."
    runs = [entry("a")]
    change(runs)
    plan = write_plan(tmp_path, "bad", runs, data_root)
    (tmp_path / "a_file").write_text("not a folder")
    for mode in (["--dry-run"], ["--quiet"]):
        code, out, err = skelnb("run", plan, *mode, *args)
        if "--runs-root" in args and mode == ["--dry-run"]:
            continue  # a dry run writes nothing, so it does not need a writable runs folder
        assert code == 2 and message in err and "Traceback" not in err, (mode, code, out, err)
        assert not (tmp_path / "papermill_runs").exists()


def test_yaml_syntax_error_and_report_out_are_refused(tmp_path, skelnb):
    plan = tmp_path / "broken.yaml"
    plan.write_text("plan: broken\nruns:\n  - name: a\n   notebook: pretrain\n")
    code, out, err = skelnb("run", plan, "--dry-run")
    assert code == 2 and f"{plan}:4: not valid YAML" in err, err
    (tmp_path / "a_file").write_text("not a folder")
    code, out, err = skelnb("report", "quickstart", "--out", tmp_path / "a_file" / "report")
    assert code == 2 and "--out" in err and "a_file is a file, not a folder" in err, err


def test_changed_parameters_rerun_the_entry_and_what_needs_it(data_root, tmp_path, skelnb):
    "epochs 1 -> 2 resumes the same training; lr changed: another training, the old folder is moved aside."
    report = dict(name="r", notebook="report", after=["p"])
    report["parameters"] = dict(plan=str(tmp_path / "chg.yaml"), runs_root=str(tmp_path / "papermill_runs"))
    plan = write_plan(tmp_path, "chg", [entry("p", epochs=1), report], data_root)
    code, out, err = skelnb("run", plan, "--quiet")
    assert code == 0 and "p: complete" in out and "r: complete" in out, out + err
    base = tmp_path / "papermill_runs" / "chg"
    assert json.loads((base / "p" / "parameters.json").read_text())["parameters"]["epochs"] == 1

    write_plan(tmp_path, "chg", [entry("p", epochs=2), report], data_root)
    code, out, err = skelnb("run", plan, "--dry-run")
    lines = out.splitlines()
    assert lines[0].startswith("p: would run [pretrain, gpus 1]; again: epochs: 1 -> 2; the same training: resumes")
    assert lines[1] == (
        "r: would run [report, gpus 1] after p; again: needs p, which changed; "
        "moved aside: r.stale-<time>, r.stale-<time>.ipynb, r.stale-<time>.log"
    )
    code, out, err = skelnb("run", plan, "--quiet")
    assert code == 0 and "p: complete" in out and "r: complete" in out, out + err
    assert "resuming from" in (base / "p.log").read_text()
    assert sorted(set(pd.read_csv(base / "p" / "steps.csv")["iteration"])) == list(range(1, 9))  # 4 steps an epoch
    assert sorted(p.name.split(".stale-")[0] for p in base.glob("*.stale-*")) == ["r"] * 3  # folder, notebook, log
    assert len(list((base / "p").glob("result.stale-*.json"))) == 1

    write_plan(tmp_path, "chg", [entry("p", epochs=2, lr=0.01), report], data_root)
    code, out, err = skelnb("run", plan, "--dry-run")
    assert "again: lr: 0.05 -> 0.01; moved aside: p.stale-<time>, p.stale-<time>.ipynb, p.stale-<time>.log" in out
    code, out, err = skelnb("run", plan, "--quiet")
    assert code == 0 and "p: complete" in out, out + err
    assert "starting from scratch" in (base / "p.log").read_text()
    (stale,) = [p for p in base.glob("p.stale-*") if p.is_dir()]
    assert (stale / "run.json").exists() and json.loads((base / "p" / "run.json").read_text())["parameters"][
        "lr"
    ] == 0.01
    code, out, err = skelnb("run", plan, "--dry-run")
    assert out.splitlines() == [
        "p: complete (skipped) [pretrain, gpus 1]",
        "r: complete (skipped) [report, gpus 1] after p",
    ]


def _runner(plan, cwd) -> subprocess.Popen:
    "`skelnb run PLAN --quiet` as its own process, like one started in a terminal."
    code = "import sys; from skelnb.cli import main; sys.exit(main())"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", code, "run", str(plan), "--quiet"], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _wait_for_steps(path: Path, lines: int, proc, timeout: float = 300) -> None:
    "Wait until steps.csv has more than `lines` lines (a row per metric and step): training is well under way."
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if path.exists() and len(path.read_text().splitlines()) > lines:
            return
        time.sleep(0.2)
    raise AssertionError(f"{path}: {lines} lines or fewer after {timeout} s; runner exit {proc.poll()}")


def _wait_for_files(folder: Path, pattern: str, proc, timeout: float = 300) -> None:
    "Wait until `folder` holds a file matching `pattern` (the row count of steps.csv a step varies with the method)."
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if any(folder.glob(pattern)):
            return
        time.sleep(0.2)
    raise AssertionError(f"{folder}: no {pattern} after {timeout} s; runner exit {proc.poll()}")


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_signal_to_the_runner_stops_the_training_at_a_checkpoint(data_root, tmp_path, skelnb, signame):
    "Ctrl-C or SIGTERM to `skelnb run`: checkpoint at the step reached, recorded interrupted, exit 128+n, no orphan."
    import psutil

    from skelnb.checkpoint import load_checkpoint, newest_checkpoint

    long = entry("cut", epochs=500, trainer_params=dict(progress=False, checkpoint_every=1000, device="cpu"))
    plan = write_plan(tmp_path, "sig", [long], data_root)
    runner = _runner(plan, tmp_path)
    base = tmp_path / "papermill_runs" / "sig"
    _wait_for_steps(base / "cut" / "steps.csv", 40, runner)
    code, out, err = skelnb("run", plan, "--quiet")  # a second runner on the same plan: refused, naming the first
    assert code == 2 and f"is in use by another process (skelnb run sig; pid {runner.pid}" in err, err
    children = psutil.Process(runner.pid).children(recursive=True)
    assert any("ipykernel" in " ".join(p.cmdline()) for p in children)
    runner.send_signal(getattr(signal, signame))
    out, err = runner.communicate(timeout=300)
    assert runner.returncode == 128 + getattr(signal, signame), out + err
    assert "cut: interrupted (stopped by" in out and f"stopped by {signame}" in err, out + err
    status = json.loads((base / "status.json").read_text())["cut"]
    assert status["status"] == "interrupted" and status["signal"] == signame
    steps = pd.read_csv(base / "cut" / "steps.csv")["iteration"]
    state = load_checkpoint(newest_checkpoint(base / "cut" / "checkpoints"))
    assert state["position"]["iteration"] == steps.max() >= 2  # saved at the point of interruption
    assert f"{signame}: stopped at step {steps.max()}" in (base / "cut.log").read_text()
    assert not (base / "cut" / "result.json").exists() and not (base / "cut" / ".skelnb.lock").exists()
    alive = [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, [p.cmdline() for p in alive]
    if signame == "SIGINT":  # run again with fewer epochs (an epochs-only change): resumes where it stopped
        epochs = state["position"]["epoch"]
        long["parameters"]["epochs"] = epochs
        write_plan(tmp_path, "sig", [long], data_root)
        code, out, err = skelnb("run", plan, "--quiet")
        assert code == 0 and "cut: complete" in out, out + err
        assert f"resuming from" in (base / "cut.log").read_text()
        assert sorted(set(pd.read_csv(base / "cut" / "steps.csv")["iteration"])) == list(range(1, 4 * epochs + 1))


@pytest.mark.slow
def test_a_signal_reaches_every_rank_of_a_torchrun_entry(data_root, tmp_path):
    "SIGTERM to `skelnb run` with a 2-process entry: both ranks stop together at a checkpoint, nothing left running."
    import psutil

    from skelnb.checkpoint import load_checkpoint, newest_checkpoint

    long = entry(
        "two", epochs=500, batch_size=8, trainer_params=dict(progress=False, checkpoint_every=1000, device="cpu")
    )
    long["gpus"] = 2
    runner = _runner(write_plan(tmp_path, "two", [long], data_root), tmp_path)
    base = tmp_path / "papermill_runs" / "two"
    _wait_for_steps(base / "two" / "steps.csv", 40, runner)
    children = psutil.Process(runner.pid).children(recursive=True)
    runner.send_signal(signal.SIGTERM)
    out, err = runner.communicate(timeout=300)
    assert runner.returncode == 128 + signal.SIGTERM and "two: interrupted" in out, out + err
    steps = pd.read_csv(base / "two" / "steps.csv")["iteration"]
    state = load_checkpoint(newest_checkpoint(base / "two" / "checkpoints"))
    assert state["position"]["iteration"] == steps.max() >= 2
    assert not [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


PLUGIN = """# a lab's own dataset: NW-UCLA files in another skeleton order (a layout of its own), split by subject
import json
from pathlib import Path

import numpy as np

from skelnb.data.prepare import file_dataset, register_dataset
from skelnb.layouts import KINECT_V1, register_layout

ORDER = tuple(reversed(KINECT_V1.joints))
LAYOUT = register_layout(KINECT_V1.reordered(ORDER, name="lab_reversed"))
TO_LAB = [KINECT_V1.index(n) for n in ORDER]  # NW-UCLA files hold the Kinect v1 order


def read(path):
    "(label, bodies (T, 1, 20, 3)) of one file: actions a01-a04 are classes 0-3."
    seq = json.loads(Path(path).read_text())
    return int(Path(path).name[1:3]) - 1, np.asarray(seq["skeletons"], np.float32)[:, TO_LAB][:, None]


def by_subject(name):
    return {"xsub": "train" if int(name.split("_")[1][1:]) <= 6 else "val"}


register_dataset(file_dataset("lab-four", LAYOUT, 4, ("xsub",), "*.json", read, by_subject))
"""


def test_plugins_reach_the_kernels_of_run_and_report(tmp_path, skelnb, monkeypatch):
    "A plugin's dataset and layout (real NW-UCLA files): prepared, pretrained and evaluated per seed, reported."
    raw = shared_data("nw_ucla", "all_sqe")
    if raw is None:
        pytest.skip("shared data (../shared/data or $SKELNB_DATA) absent")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "lab_four_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(plugins))  # this process (skelnb's own --plugin import)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(plugins)]))  # the kernels
    (tmp_path / "raw").mkdir()
    for f in sorted(raw.glob("a0[1-4]_s0[1-8]_e00_v01.json")):
        (tmp_path / "raw" / f.name).write_bytes(f.read_bytes())  # copies: the plugin reads its own folder
    code, out, err = skelnb("--plugin", "lab_four_plugin", "prepare", "lab-four", "--raw", "raw", "--out", "prepared",
                            "--workers", "1", "--quiet")  # fmt: skip
    assert code == 0 and "xsub: train" in out, out + err
    pretrain = entry("p", epochs=1, dataset="lab-four", split="xsub")
    pretrain["seeds"] = [0, 1]
    knn = dict(name="knn", notebook="evaluate", seeds=[0, 1],
               parameters=dict(dataset="lab-four", split="xsub", protocol="knn", checkpoint="{run:p}", figures=False),
               paper=dict(row="MoCo", column="lab 1-NN", metric="top1", value=None))  # fmt: skip
    plan = write_plan(tmp_path, "lab", [pretrain, knn], "prepared")
    code, out, err = skelnb("--plugin", "lab_four_plugin", "run", plan, "--quiet", "--jobs", "2")
    base = tmp_path / "papermill_runs" / "lab"
    logs = "".join(p.read_text()[-3000:] for p in base.glob("*.log"))
    assert code == 0, out + err + logs
    assert sorted(out.splitlines()) == ["knn@s0: complete", "knn@s1: complete", "p@s0: complete", "p@s1: complete"]
    for seed in (0, 1):
        run = json.loads((base / f"p@s{seed}" / "run.json").read_text())
        assert run["parameters"]["seed"] == seed
        result = json.loads((base / f"knn@s{seed}" / "result.json").read_text())
        given = json.loads((base / f"knn@s{seed}" / "parameters.json").read_text())["parameters"]
        assert given["seeds"] == [seed] and given["checkpoint"] == f"{{run:p@s{seed}}}"  # paired by seed
        assert f"p@s{seed}" in json.dumps(result["card"])
    assert "lab_reversed" in (base / "p@s0" / "run.json").read_text()

    code, out, err = skelnb("--plugin", "lab_four_plugin", "run", plan, "--dry-run", "--only", "p", "knn@s1")
    assert out.splitlines() == [  # --only: an entry as written (every seed) or one seed's run
        "p@s0: complete (skipped) [pretrain, gpus 1]",
        "p@s1: complete (skipped) [pretrain, gpus 1]",
        "knn@s1: complete (skipped) [evaluate, gpus 1] after p@s1",
    ], out + err
    code, out, err = skelnb("--plugin", "lab_four_plugin", "run", plan, "--print-commands", "--only", "knn@s0")
    assert code == 0 and out.count("SKELNB_PLUGINS=lab_four_plugin ") == 1, out + err
    code, out, err = skelnb("--plugin", "lab_four_plugin", "report", plan)
    assert code == 0, err
    table = pd.read_csv(base / "report" / "report.csv")
    values = [json.loads((base / f"knn@s{s}" / "result.json").read_text())["metrics"]["top1"] for s in (0, 1)]
    assert list(table["entry"]) == ["knn"] and table["n"][0] == 2 and table["seeds"][0] == "0,1"
    assert table["ours"][0] == pytest.approx(sum(values) / 2)
    assert table["ours_sd"][0] == pytest.approx(abs(values[0] - values[1]) / 2**0.5)
    assert table["vs_best"][0] == "best" and table["sd_over"][0] == "seeds"  # alone in its column: the best
    assert "Seeds: 0, 1." in (base / "report" / "report.md").read_text()

    # in a fresh process: without the plugin the plan is refused; a plan that names its plugin needs no --plugin
    command = [sys.executable, "-c", "import sys; from skelnb.cli import main; sys.exit(main())", "report", str(plan)]
    r = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 2 and "lab.yaml: p@s0: dataset: unknown 'lab-four'" in r.stderr, r.stdout + r.stderr
    plan.write_text(plan.read_text().replace('"runs":', '"plugins": ["lab_four_plugin"], "runs":'))
    r = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0 and "| knn | MoCo | lab 1-NN | top1 |" in r.stdout, r.stdout + r.stderr
    code, out, err = skelnb("--plugin", "../lab_four_plugin.py", "run", plan, "--dry-run")
    assert code == 2 and "--plugin: plugins: a list of module names" in err, err
