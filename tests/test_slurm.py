"""`skelnb run --executor submitit-local`: submitit's path without sbatch, on real NW-UCLA data, in processes."""

import json
import os
import sys
from pathlib import Path

import pytest
import torch

from conftest import ucla_split
from test_runner import entry, skelnb, write_plan  # noqa: F401  (skelnb: the fixture)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    "nw-ucla-hiclr/xview: train, 16 real NW-UCLA sequences (4 actions x 4 subjects, view 1); val, the same in view 2."
    root = tmp_path_factory.mktemp("data")
    ucla_split(root / "nw-ucla-hiclr" / "xview" / "train", actions=(1, 2, 3, 4), num_classes=12)
    ucla_split(root / "nw-ucla-hiclr" / "xview" / "val", actions=(1, 2, 3, 4), views=(2,), num_classes=12)
    return root


def test_submitit_local_runs_dependants_after_parents_reports_failures_and_skips_complete(data_root, tmp_path, skelnb):
    "A good pretraining and its kNN evaluation, a failing pretraining and its dependant: records, job ids, exit code."
    knn = dict(name="knn", notebook="evaluate",
               parameters=dict(protocol="knn", checkpoint="{run:good}", figures=False, device="cpu"))  # fmt: skip
    runs = [entry("good"), knn, entry("bad", batch_size=32), entry("needs-bad", after=["bad"])]  # bad: 16 samples
    plan = write_plan(tmp_path, "tiny", runs, data_root)
    code, out, err = skelnb("run", plan, "--executor", "submitit-local", "--jobs", "2", "--quiet")
    base = tmp_path / "papermill_runs" / "tiny"
    logs = "".join(p.read_text()[-2000:] for p in base.glob("*.log"))
    assert code == 1, out + err + logs
    failed, blocked = f"bad: failed (exit 1; see {base / 'bad.log'})", "needs-bad: blocked (needs bad, which failed)"
    assert sorted(out.splitlines()[:4]) == [failed, "good: complete", "knn: complete", blocked], out + err + logs
    assert out.splitlines()[4:] == ["2 of 4 entries did not complete: bad, needs-bad"], out
    status = json.loads((base / "status.json").read_text())
    assert [status[n]["status"] for n in ("good", "knn", "bad", "needs-bad")] == ["complete", "complete", "failed",
                                                                                  "blocked"]  # fmt: skip
    ids = [status[n]["job_id"] for n in ("good", "knn", "bad")]
    assert all(i.isdigit() for i in ids) and len(set(ids)) == 3 and "job_id" not in status["needs-bad"]
    assert all(status[n]["executor"] == "local" for n in ("good", "knn", "bad"))
    assert status["knn"]["submitted"] >= status["good"]["end"], status  # submitit-local: after its parent ended
    assert status["good"]["exit"] == 0 and status["bad"]["exit"] == 1 and status["good"]["duration_s"] > 0
    assert "16 samples, fewer than one batch of 32" in (base / "bad.log").read_text()
    result = json.loads((base / "knn" / "result.json").read_text())
    assert result["protocol"] == "knn" and 0 <= result["metrics"]["top1"] <= 100
    assert (base / "_submitit").is_dir() and (base / "good.ipynb").exists()

    code, out, err = skelnb("run", plan, "--executor", "submitit-local", "--only", "good", "knn", "--quiet")
    assert code == 0 and out.splitlines() == ["good: skipped", "knn: skipped"], out + err
    status = json.loads((base / "status.json").read_text())
    assert status["good"]["status"] == "skipped" and status["bad"]["job_id"] == ids[2]  # the others' records kept
    code, out, err = skelnb("run", plan, "--executor", "submitit-local", "--dry-run")
    lines = {line.split(":")[0]: line for line in out.splitlines()}
    assert lines["good"] == "good: complete (skipped) [pretrain, gpus 1]"
    assert lines["knn"] == "knn: complete (skipped) [evaluate, gpus 1] after good"
    gpus = int(torch.cuda.is_available())  # submitit-local: this machine's GPUs, none without CUDA
    assert lines["needs-bad"] == "needs-bad: would run [pretrain, gpus 1] after bad; local job: --nodes=1 " \
        f"--ntasks-per-node=1 --gpus-per-node={gpus} --time=10080"  # fmt: skip


@pytest.mark.slow
def test_an_entry_with_two_gpus_runs_one_task_per_rank(data_root, tmp_path, skelnb):
    "gpus: 2 through submitit-local: two tasks (gloo on CPU), rank 0 the notebook, rank 1 the trainer, one run."
    runs = [entry("two", trainer_params=dict(progress=False, device="cpu"), batch_size=8)]
    runs[0]["gpus"] = 2
    code, out, err = skelnb("run", write_plan(tmp_path, "two", runs, data_root), "--executor", "submitit-local",
                            "--quiet")  # fmt: skip
    base = tmp_path / "papermill_runs" / "two"
    assert code == 0 and "two: complete" in out, out + err + "".join(p.read_text()[-3000:] for p in base.glob("*.log"))
    assert json.loads((base / "two" / "run.json").read_text())["processes"] == 2
    assert json.loads((base / "two" / "result.json").read_text())["card"]["processes"] == 2
    assert (base / "two.rank1.log").exists()


def test_a_signal_stops_submitit_local_entries_at_a_checkpoint(data_root, tmp_path):
    "SIGINT to `skelnb run --executor submitit-local` (to it alone): the kernel saves where it stands, nothing is left."
    import signal
    import subprocess
    import time

    import pandas as pd
    import psutil

    from skelnb.checkpoint import load_checkpoint, newest_checkpoint
    from test_runner import ROOT, _wait_for_steps

    long = entry("cut", epochs=500, trainer_params=dict(progress=False, checkpoint_every=1000, device="cpu"))
    plan = write_plan(tmp_path, "sig", [long], data_root)
    code = "import sys; from skelnb.cli import main; sys.exit(main())"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    line = [sys.executable, "-c", code, "run", str(plan), "--executor", "submitit-local", "--quiet"]
    runner = subprocess.Popen(line, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = tmp_path / "papermill_runs" / "sig"
    _wait_for_steps(base / "cut" / "steps.csv", 40, runner)
    children = psutil.Process(runner.pid).children(recursive=True)
    assert any("ipykernel" in " ".join(p.cmdline()) for p in children)
    start = time.time()
    runner.send_signal(signal.SIGINT)
    out, err = runner.communicate(timeout=300)
    assert runner.returncode == 128 + signal.SIGINT and "cut: interrupted (stopped by SIGINT" in out, out + err
    status = json.loads((base / "status.json").read_text())["cut"]
    assert status["status"] == "interrupted" and status["job_id"].isdigit()
    steps = pd.read_csv(base / "cut" / "steps.csv")["iteration"]
    state = load_checkpoint(newest_checkpoint(base / "cut" / "checkpoints"))
    assert state["position"]["iteration"] == steps.max() >= 2  # saved at the point of interruption
    assert "SIGINT: stopped at step" in (base / "cut.log").read_text()
    alive = [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive and time.time() - start < 60, [p.cmdline() for p in alive]


def _fake_slurm(folder: Path, monkeypatch, sacct: str) -> Path:
    "srun, sbatch (which only notes that it was called) and `sacct` (a shell body) on PATH; the note's path."
    (folder / "bin").mkdir()
    called = folder / "sbatch-called"
    for name, body in (("srun", "exit 1"), ("sbatch", f'echo "$@" >> {called}; exit 1'), ("sacct", sacct)):
        (folder / "bin" / name).write_text(f"#!/bin/sh\n{body}\n")
        (folder / "bin" / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder / 'bin'}{os.pathsep}{os.environ['PATH']}")
    return called


def test_a_rerun_watches_the_live_slurm_job_instead_of_submitting_it_again(data_root, tmp_path, skelnb, monkeypatch):
    "status.json names a live Slurm job of unchanged parameters: watched to its end (a fake sacct), not resubmitted."
    from skelnb.experiments.plan import load_plan
    from skelnb.experiments.runner import make_jobs, record_parameters

    plan = write_plan(tmp_path, "live", [entry("good")], data_root)
    job = make_jobs(load_plan(plan), tmp_path / "papermill_runs")["good"]
    job.folder.mkdir(parents=True)
    record_parameters(job)  # as the first `skelnb run` did before it submitted job 4242
    base = job.folder.parent
    (base / "status.json").write_text(json.dumps({"good": dict(status="running", job_id="4242", executor="slurm")}))
    pickle = base / "_submitit" / "4242_0_result.pkl"  # the job ends while it is watched: its result, its result.json
    write = f"import pickle; pickle.dump(('success', 0), open('{pickle}', 'wb'))"
    end = f"mkdir -p {pickle.parent}; {sys.executable} -c \"{write}\"; echo '{{}}' > {job.folder / 'result.json'}"
    sacct = f"[ -f {pickle} ] || {{ {end}; }}\necho 'JobID|State|NodeList'\necho '4242|RUNNING|node1'"
    called = _fake_slurm(tmp_path, monkeypatch, sacct)
    code, out, err = skelnb("run", plan, "--executor", "slurm", "--time", "10", "--quiet")
    assert code == 0 and out.splitlines() == ["good: complete"], out + err
    assert not called.exists()  # nothing submitted
    status = json.loads((base / "status.json").read_text())["good"]
    assert status["status"] == "complete" and status["job_id"] == "4242" and status["exit"] == 0

    write_plan(tmp_path, "live", [entry("good", epochs=3)], data_root)  # changed while its old job still runs
    (job.folder / "result.json").unlink()
    (base / "status.json").write_text(json.dumps({"good": dict(status="running", job_id="4242", executor="slurm")}))
    pickle.unlink()
    code, out, err = skelnb("run", plan, "--executor", "slurm", "--time", "10", "--quiet")
    assert code == 2 and "good: Slurm job 4242 of its earlier parameters is still queued or running; scancel" in err
    assert not called.exists()
