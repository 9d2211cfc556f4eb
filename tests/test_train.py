"""The trainer (skelnb.train) where a notebook cannot check it: resume after a SIGKILL, signals and a second writer
(real processes, killed from outside), 2 gloo processes, checks over ~10 s (a 40-step collapse; a crafted checkpoint
refused by evaluate, --resume and the automatic resume, ~30 s) and long real-data runs (slow).
The units' own checks (run folder, refusals, checkpoints, budgets, the optimiser) are in nbs/50_train.ipynb."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from skelnb.methods import METHODS
from skelnb.methods.moco import MoCo, Views
from skelnb.streams import to_stream
from skelnb.checkpoint import load_checkpoint, newest_checkpoint
from skelnb.train import train

from conftest import BRIEF_MOCO, ucla_split


def board(folder, kind: str = "steps") -> dict:
    "The scalars of a run folder's TensorBoard events: {tag: [(step, value), ...]}."
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(Path(folder) / "tensorboard" / kind)).Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(encoder="stgcn", encoder_hidden_channels=4, encoder_hidden_dim=16, queue_size=16, dim=8)


@pytest.fixture(scope="module")
def ucla(tmp_path_factory):
    "A prepared split of 16 real NW-UCLA sequences (4 actions x 4), HiCLR's pipeline, 50 frames."
    return ucla_split(tmp_path_factory.mktemp("ucla") / "split", actions=(1, 2, 3, 4), num_classes=12)


def args(ucla, out, **kw):
    return (
        dict(
            method="moco",
            data=str(ucla),
            output=str(out),
            epochs=3,
            batch_size=4,
            lr=0.05,
            seed=1,
            progress=False,
            **TINY,
        )
        | kw
    )


def cli(ucla, out, **kw) -> list:
    "The `python -m skelnb.train` command line of `args(ucla, out, **kw)`."
    line = [sys.executable, "-m", "skelnb.train"]
    for k, v in args(ucla, out, **kw).items():
        line += [f"--{k.replace('_', '-')}", str(v)]
    return line


# A trainer process that pauses at a chosen point (after the row of step or epoch N is written and flushed, or right
# after the logs are opened), touches a marker file and waits while it exists; the test then kills it from outside by
# PID (or signals it and removes the marker to let it go on). The trainer itself has no test switch.
PAUSING = """
import os, sys, time
import skelnb.train as t

kind, at, marker, entry = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def pause():
    open(marker, "w").close()
    while os.path.exists(marker):
        time.sleep(0.01)

if kind == "open":
    init = t.MetricsLog.__init__
    def opened(self, *a):
        init(self, *a)
        pause()
    t.MetricsLog.__init__ = opened
else:
    write = t.MetricsLog.write
    def written(self, name, row, values):
        write(self, name, row, values)
        if name == kind and row["iteration" if kind == "steps" else "epoch"] == at:
            pause()
    t.MetricsLog.write = written
if entry == "pretrain":
    from skelnb.cli import main
    sys.exit(main(["pretrain", *sys.argv[5:]]))
sys.exit(t.exit_code(t.main(sys.argv[5:])))
"""


def start_paused(line, kind, at, tmp_path, entry="train"):
    "The trainer of command `line` (`cli`) in a process paused at (`kind`, `at`): (process, marker)."
    marker = tmp_path / f"paused-{kind}-{at}-{time.monotonic_ns()}"
    code = [sys.executable, "-c", PAUSING, kind, str(at), str(marker), entry, *line[3:]]
    proc = subprocess.Popen(code, env=os.environ | dict(OMP_NUM_THREADS="1"), stderr=subprocess.PIPE, text=True)
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before pausing at {kind} {at}: {proc.stderr.read()}")
        time.sleep(0.01)
    return proc, marker


def kill_at(line, kind, at, tmp_path) -> str:
    "Run `line` until it pauses at (`kind`, `at`), SIGKILL it by PID; its stderr."
    proc, marker = start_paused(line, kind, at, tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    err = proc.communicate()[1]
    assert proc.returncode == -signal.SIGKILL
    marker.unlink()
    return err


def final_state(out) -> dict:
    return load_checkpoint(newest_checkpoint(Path(out) / "checkpoints"))


def assert_same_state(a: dict, b: dict):
    assert a["position"] == b["position"]
    for k, v in a["method"].items():
        if isinstance(v, torch.Tensor):
            assert torch.equal(v, b["method"][k]), k
        else:
            assert v == b["method"][k], k
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert torch.equal(a["rng"][0]["generator"], b["rng"][0]["generator"])
    assert torch.equal(a["rng"][0]["torch"], b["rng"][0]["torch"])


@pytest.mark.parametrize("method", ["moco", "halp"])
def test_sigkill_mid_epoch_then_resume_is_bit_identical(ucla, tmp_path, method):
    "4 steps an epoch, 3 epochs; killed after step 7 (mid epoch 2, checkpoints every 2 steps), resumed: same end."
    extra = dict(method=method, checkpoint_every_steps=2)
    if method == "halp":  # prototypes from epoch 2, refit every 2 steps, so the kill and resume cross them
        extra |= dict(halp_start_epoch=2, num_prototypes=2, prototype_keys=8, prototype_every=2, num_positives=2)
        extra |= dict(warmup_samples=8)  # prototypes fitted at step 6, refitted every 2 steps: across the kill
    env = os.environ | dict(OMP_NUM_THREADS="1")
    subprocess.run(cli(ucla, tmp_path / "whole", **extra), check=True, env=env)
    kill_at(cli(ucla, tmp_path / "cut", **extra), "steps", 7, tmp_path)
    assert final_state(tmp_path / "cut")["position"] == dict(epoch=2, step=2, iteration=6)
    resumed = subprocess.run(cli(ucla, tmp_path / "cut", **extra), check=True, env=env, capture_output=True, text=True)
    assert f"resuming from {tmp_path / 'cut' / 'checkpoints' / 'ckpt-000000006.pt'}: step 6 done" in resumed.stderr
    assert "continuing at epoch 2, batch 3" in resumed.stderr
    assert_same_state(final_state(tmp_path / "whole"), final_state(tmp_path / "cut"))
    steps = [(tmp_path / r / "steps.csv").read_text() for r in ("whole", "cut")]
    strip = lambda t: [l for l in t.splitlines() if "samples_per_s" not in l and "data_wait" not in l]
    assert strip(steps[0]) == strip(steps[1])
    # TensorBoard: step 7 was written before the kill and again after the resume; the reader sees it once
    boards = [board(tmp_path / r) for r in ("whole", "cut")]
    assert [s for s, _ in boards[1]["loss"]] == list(range(1, 13))
    assert boards[0]["loss"] == boards[1]["loss"] and boards[0]["lr"] == boards[1]["lr"]
    if method == "halp":  # HaLP's term was on before and after the kill
        generated = [line for line in steps[0].splitlines() if ",generated," in line]
        assert [int(line.split(",")[0]) for line in generated if float(line.split(",")[3]) == 1] == [
            7,
            8,
            9,
            10,
            11,
            12,
        ]


def _train_rank(rank, world, port, folder):
    "One gloo process of `test_two_processes_*`: train, then save what this rank holds to folder/rank<r>.pt."
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    kw = json.loads((Path(folder) / "args.json").read_text())
    run = train(**kw)
    torch.save(dict(method=run.method.state_dict(), optimizer=run.optimizer.state_dict()), f"{folder}/rank{rank}.pt")
    torch.distributed.destroy_process_group()


def test_two_gloo_processes_hold_identical_parameters_and_queues(ucla, tmp_path):
    "2 ranks x 2 samples, 2 epochs (8 steps): parameters, BatchNorm statistics, queue, pointer, optimiser state equal."
    from conftest import run_two_processes

    kw = args(ucla, tmp_path / "run", epochs=2)
    (tmp_path / "args.json").write_text(json.dumps(kw))
    states = run_two_processes(_train_rank, tmp_path)
    for k, v in states[0]["method"].items():
        assert torch.equal(v, states[1]["method"][k]) if isinstance(v, torch.Tensor) else v == states[1]["method"][k], k
    assert int(states[0]["method"]["iterations"]) == 8
    for sa, sb in zip(states[0]["optimizer"]["state"].values(), states[1]["optimizer"]["state"].values(), strict=True):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    saved = final_state(tmp_path / "run")
    assert saved["world"] == 2 and len(saved["rng"]) == 2
    assert not torch.equal(saved["rng"][0]["generator"], saved["rng"][1]["generator"])  # seeded from (seed, rank)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["processes"] == 2


def _sync_bn_rank(rank, world, port, folder):
    "One gloo process of `test_cpu_sync_batchnorm_*`: its half of the batch through SyncBatchNormCPU, then backward."
    from skelnb.distributed import SyncBatchNormCPU

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    data = torch.load(f"{folder}/data.pt")
    half = slice(rank * 3, (rank + 1) * 3)
    out = {}
    for name, x, bn in (("2d", data["x2d"], SyncBatchNormCPU(4)), ("1d", data["x1d"], SyncBatchNormCPU(4))):
        bn.load_state_dict(data[f"bn{name}"])
        x = x[half].clone().requires_grad_(True)
        y = bn(x)
        (y * data[f"w{name}"][half]).sum().backward()
        out[name] = dict(y=y.detach(), grad=x.grad, weight=bn.weight.grad, bias=bn.bias.grad, state=bn.state_dict())
        out[name]["eval"] = bn.eval()(x.detach())
    torch.save(out, f"{folder}/rank{rank}.pt")
    torch.distributed.destroy_process_group()


def test_cpu_sync_batchnorm_matches_batchnorm_over_the_whole_batch(tmp_path):
    "2 ranks x 3 samples: outputs, input gradients, summed parameter gradients, running stats = BatchNorm on all 6."
    from conftest import run_two_processes

    torch.manual_seed(0)
    bn2, bn1 = torch.nn.BatchNorm2d(4), torch.nn.BatchNorm1d(4)
    for bn in (bn2, bn1):  # a non-trivial affine map and running statistics to start from
        bn.weight.data.uniform_(0.5, 1.5), bn.bias.data.normal_(), bn.running_mean.normal_()
    data = dict(
        x2d=torch.randn(6, 4, 5, 3) * 3 + 1, x1d=torch.randn(6, 4, 7), bn2d=bn2.state_dict(), bn1d=bn1.state_dict()
    )
    data |= dict(w2d=torch.randn(6, 4, 5, 3), w1d=torch.randn(6, 4, 7))
    torch.save(data, tmp_path / "data.pt")
    ranks = run_two_processes(_sync_bn_rank, tmp_path)
    for name, bn in (("2d", bn2), ("1d", bn1)):
        x = data[f"x{name}"].clone().requires_grad_(True)
        y = bn(x)
        (y * data[f"w{name}"]).sum().backward()
        close = lambda a, b: torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        close(torch.cat([r[name]["y"] for r in ranks]), y.detach())
        close(torch.cat([r[name]["grad"] for r in ranks]), x.grad)
        close(ranks[0][name]["weight"] + ranks[1][name]["weight"], bn.weight.grad)
        close(ranks[0][name]["bias"] + ranks[1][name]["bias"], bn.bias.grad)
        for r in ranks:
            for k, v in bn.state_dict().items():  # running mean, unbiased running variance, batches tracked
                close(r[name]["state"][k], v)
        close(torch.cat([r[name]["eval"] for r in ranks]), bn.eval()(data[f"x{name}"]))


class PlainViewsMoCo(MoCo):
    "MoCo without augmentation: the query and key views are the batch itself (in the method's stream)."

    def views(self, batch, generator=None):
        view = batch.replace(x=to_stream(batch.x, self.stream, self.layout), stream=self.stream)
        return Views([view], view, [{}], {})


def _train_plain_rank(rank, world, port, folder):
    "`_train_rank` with `PlainViewsMoCo` registered as 'moco_plain' in this process."
    METHODS["moco_plain"] = PlainViewsMoCo
    _train_rank(rank, world, port, folder)


def test_two_gloo_processes_with_sync_batchnorm_equal_one_process(ucla, tmp_path, monkeypatch):
    """No augmentation or dropout, SyncBatchNorm, global batch 4: 2 ranks x 2 end where 1 process x 4 ends (1e-5).

    4 steps at lr 0.01 (differences ~2e-7). Longer, this tiny model drifts towards collapse under identical views
    (the loss rises, embeddings align) and amplifies float32 rounding about 10x a step (1e-5 after ~6 steps)."""
    from conftest import run_two_processes

    kw = args(ucla, tmp_path / "two", method="moco_plain", epochs=1, lr=0.01, encoder_dropout=0.0, sync_batchnorm=True)
    (tmp_path / "args.json").write_text(json.dumps(kw))
    monkeypatch.setitem(METHODS, "moco_plain", PlainViewsMoCo)
    two = run_two_processes(_train_plain_rank, tmp_path)
    one = train(**(kw | dict(output=str(tmp_path / "one"))))
    assert int(one.method.iterations) == 4 and int(two[0]["method"]["iterations"]) == 4
    # samples_seen counts each rank's own samples (2 of the 4 a step)
    assert int(two[0]["method"]["samples_seen"]) * 2 == int(one.method.samples_seen) == 16
    for k, v in one.method.state_dict().items():
        if k == "samples_seen":
            continue
        if isinstance(v, torch.Tensor) and v.is_floating_point():  # weights, BatchNorm statistics, the queue
            torch.testing.assert_close(two[0]["method"][k], v, atol=1e-5, rtol=0)
        else:
            assert torch.equal(two[0]["method"][k], v) if isinstance(v, torch.Tensor) else two[0]["method"][k] == v, k
    state = one.optimizer.state_dict()["state"]
    for sa, sb in zip(two[0]["optimizer"]["state"].values(), state.values(), strict=True):
        for k in sa:
            torch.testing.assert_close(sa[k], sb[k], atol=1e-5, rtol=0)
    # the logged loss is the global batch's (the mean over both ranks), as one process of batch 4 logs it
    logged = [
        {int(r.split(",")[0]): float(r.split(",")[3]) for r in rows(tmp_path / f, "steps")[1:] if ",loss," in r}
        for f in ("two", "one")
    ]
    assert list(logged[0]) == [1, 2, 3, 4]
    np.testing.assert_allclose(list(logged[0].values()), list(logged[1].values()), rtol=1e-5)


def knn_top1(source, train_folder, test_folder) -> float:
    "Test -> train 1-NN accuracy (%), cosine on L2-normalised pooled features (skelnb.evaluate.knn; BiGRU: its crop)."
    from skelnb.evaluate import evaluate_knn

    return evaluate_knn(source, train_folder, test_folder).metrics["top1"]


# Short runs of every method: a narrow encoder, queue 512, batch 64 (15 steps an epoch on the 1,020 training sequences);
# ST-GCN methods 2-3 epochs (MoCo ~40-60 s, HiCLR ~100 s on one shared core), BiGRU methods 15-20 epochs (~30-60 s).
QUICK_GCN = dict(encoder="stgcn", encoder_hidden_channels=8, encoder_hidden_dim=32, encoder_dropout=0.0)
QUICK_GRU = dict(encoder="bigru", encoder_hidden_size=32, encoder_num_layers=1, encoder_num_persons=1)
QUICK_HALP = dict(num_prototypes=10, prototype_keys=128, num_positives=16)
# HaLP on in epoch 2: its warm-up (512 keys) counted from the run start (the default, 1,025 from epoch 2, outlasts it)
HALP_FROM_EPOCH_2 = dict(halp_start_epoch=2, warmup_samples=512, warmup_from="run")
QUICK = dict(batch_size=64, queue_size=512, dim=32, checkpoint_every=0, progress=False)
# HiCLR with the quickstart plan's recipe (papermill_runs/plans/quickstart.yaml says why): with HiCLR's released
# start (N(0, 0.02²), a re-drawn key) at lr 0.1 its queries align within ~10 steps (cosine 0.99, loss at 2 ln 513).
QUICKSTART_RECIPE = dict(epochs=1000, max_steps=90, lr=0.01, momentum=0.99, encoder_init="default", key_init="copy")
QUICKSTART = {
    "moco": BRIEF_MOCO,  # conftest.py: the session's `briefly_pretrained` run, reused rather than trained again
    "hiclr": QUICK | QUICK_GCN | QUICKSTART_RECIPE | dict(sets="BA|NA"),
    "hiclr_halp": QUICK | QUICK_GCN | QUICK_HALP | dict(epochs=2, lr=0.1, momentum=0.999) | HALP_FROM_EPOCH_2,
    "halp": QUICK | QUICK_GRU | QUICK_HALP | dict(epochs=20, lr=0.01, momentum=0.99, halp_start_epoch=10),
    "cmd": QUICK | QUICK_GRU | dict(epochs=15, lr=0.01, momentum=0.99, topk=64),
    "halp_cmd": QUICK | QUICK_GRU | QUICK_HALP | dict(epochs=15, lr=0.01, momentum=0.99, topk=64, halp_start_epoch=8),
}


@pytest.mark.slow
@pytest.mark.parametrize("method", list(QUICKSTART))
def test_short_nw_ucla_run_loss_falls_and_1nn_beats_initialisation(ucla_prepared, tmp_path, method, request):
    "The whole NW-UCLA (1,020 train, 464 test), short runs: the loss falls, 1-NN beats the initial encoder."
    # HiCLR's last epoch: not collapsed (batch query cosine 0.67-0.83 over seeds 0-2 in 90-step runs of this recipe;
    # 1.000 when it collapses), and its InfoNCE below its first epoch's (5.1-5.4 -> 4.5-4.6)
    from skelnb.train import build_run, resolve

    train_folder, test_folder = ucla_prepared / "train", ucla_prepared / "val"
    if method == "moco":
        brief = request.getfixturevalue("briefly_pretrained")
        folder, initial = brief.run, brief.initial
    else:
        folder = tmp_path / "r"
        kw = QUICKSTART[method] | dict(method=method, data=str(train_folder), output=str(folder))
        _, built = build_run(*resolve(**kw), torch.device("cpu"))  # the trainer's initial weights (seeded alike)
        initial = built.encoder_q
        train(**kw)
    before = knn_top1(initial, train_folder, test_folder)
    after = knn_top1(folder, train_folder, test_folder)  # the run's final checkpoint
    rows = [line.split(",") for line in (folder / "epochs.csv").read_text().splitlines()[1:]]
    loss = [float(v) for _, name, v in rows if name == "loss"]
    assert after > before, (before, after)
    assert loss[-1] < loss[0], loss
    if method == "hiclr":
        cosine, info = ([float(v) for _, n, v in rows if n == name] for name in ("query_cosine", "info"))
        assert cosine[-1] < 0.95 and info[-1] < info[0], (cosine, info)


def rows(folder, name: str) -> list:
    "The rows of a run's steps.csv or epochs.csv, without the timing columns (which differ run to run)."
    text = (Path(folder) / f"{name}.csv").read_text().splitlines()
    return [line for line in text if "samples_per_s" not in line and "data_wait" not in line]


def test_logs_survive_a_second_kill(ucla, tmp_path):
    "Killed, resumed and killed again at once (right after the logs open, or a step in): the logs equal a whole run's."
    extra = dict(checkpoint_every_steps=3)
    train(**args(ucla, tmp_path / "whole", **extra))
    for n, (kind, at) in enumerate([("steps", 7), ("epochs", 1)]):  # mid-epoch; after epoch 1's row, before its ckpt
        out = tmp_path / f"cut{n}"
        line = cli(ucla, out, **extra)
        kill_at(line, kind, at, tmp_path)
        kill_at(line, "open", 0, tmp_path)  # the resumed run killed as soon as its logs are open
        kill_at(line, "steps", 8, tmp_path)  # and again one or more steps in
        subprocess.run(line, check=True, env=os.environ | dict(OMP_NUM_THREADS="1"))
        for name in ("steps", "epochs"):
            assert rows(out, name) == rows(tmp_path / "whole", name), (kind, at, name)


class CodeRunner:
    "What a crafted checkpoint could hold: unpickling it runs a shell command (here: touch a marker file)."

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_crafted_checkpoint_runs_no_code(ucla, tmp_path, capsys):
    "A .pt whose pickle would run a command is refused by evaluate, --resume and automatic resume; nothing runs."
    from skelnb.cli import main

    marker = tmp_path / "code-ran"
    train(**args(ucla, tmp_path / "run", epochs=1))
    crafted = tmp_path / "crafted.pt"
    torch.save(dict(format="skelnb.checkpoint/2", payload=CodeRunner(marker)), crafted)
    refused = f"{crafted}: refused: loading it would call posix.system"
    assert main(["evaluate", "knn", "--checkpoint", str(crafted), "--train", str(ucla), "--test", str(ucla)]) == 2
    assert refused in capsys.readouterr().err
    line = [a for k, v in args(ucla, tmp_path / "other").items() for a in (f"--{k.replace('_', '-')}", str(v))]
    assert main(["pretrain", *line, "--resume", str(crafted)]) == 2
    assert refused in capsys.readouterr().err
    planted = tmp_path / "run" / "checkpoints" / "ckpt-999999999.pt"
    planted.write_bytes(crafted.read_bytes())
    run = train(**args(ucla, tmp_path / "run", epochs=2))  # resumes from its own checkpoint, the planted one set aside
    assert "ckpt-999999999.pt: refused: loading it would call posix.system" in capsys.readouterr().err
    assert run.iteration == 8 and planted.with_suffix(".broken").exists()
    assert not marker.exists()


def test_a_second_writer_is_refused_naming_the_holder(ucla, tmp_path, capsys):
    "Two trainers on one output (real processes): the second exits 2 naming the first; a killed holder is taken over."
    from skelnb.cli import main
    from skelnb.core import FolderLocked

    line = cli(ucla, tmp_path / "r")
    first, marker = start_paused(line, "steps", 2, tmp_path)
    try:
        assert main(["pretrain", *line[3:]]) == 2
        err = capsys.readouterr().err
        assert f"{tmp_path / 'r'} is in use by another process (skelnb pretrain (moco); pid {first.pid}" in err
        with pytest.raises(FolderLocked):
            train(**args(ucla, tmp_path / "r"))
        assert first.poll() is None  # the holder runs on, untouched
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.communicate()
        marker.unlink()
    run = train(**args(ucla, tmp_path / "r"))
    assert f"took over the lock of process {first.pid}" in capsys.readouterr().err and run.iteration == 12


@pytest.mark.parametrize("entry", ["pretrain", "train"])
def test_a_signal_stops_with_a_checkpoint_and_exit_status_128_plus_signal(ucla, tmp_path, entry):
    "SIGTERM (skelnb pretrain) or SIGINT (python -m skelnb.train): checkpoint at the step, exit 143 or 130."
    sig = signal.SIGTERM if entry == "pretrain" else signal.SIGINT
    proc, marker = start_paused(cli(ucla, tmp_path / "r"), "steps", 2, tmp_path, entry=entry)
    os.kill(proc.pid, sig)
    marker.unlink()  # let it go on: it finishes the step, saves and stops
    err = proc.communicate()[1]
    assert proc.returncode == 128 + sig, err
    assert f"{sig.name}: stopped at step 2" in err
    assert final_state(tmp_path / "r")["position"] == dict(epoch=1, step=2, iteration=2)


def test_a_collapsed_run_is_warned_about_once(ucla, tmp_path, capsys):
    "HiCLR's released init on a narrow MoCo collapses at once: one warning, at the 20th collapsed step in a row."
    collapsing = dict(encoder_init="reference", key_init="redraw", epochs=20, max_steps=40, batch_size=8, lr=0.1)
    train(**args(ucla, tmp_path / "r", **collapsing))
    said = capsys.readouterr().err
    assert said.count("the embedding has collapsed") == 1, said
    steps = [line.split(",") for line in (tmp_path / "r" / "steps.csv").read_text().splitlines()[1:]]
    cosines = [float(v) for _, _, name, v in steps if name == "query_cosine"]
    assert len(cosines) == 40 and min(cosines[1:]) > 0.99  # collapsed from step 2 on
    at = next(i for i in range(19, 40) if min(cosines[i - 19 : i + 1]) > 0.99)  # 0-based: the 20th in a row
    assert f"query_cosine = {cosines[at]:.4f}" in said and f"at step {at + 1}." in said, said
    assert "identical keys" in said and "ln(K+1) = 2.83 for K = 16" in said
