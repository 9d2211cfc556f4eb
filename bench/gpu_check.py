"""The prepared GPU check: one command on a GPU machine, a table of figures and goals, gpu_check.json.
    python bench/gpu_check.py [--out gpu_check.json] [--raw NW_UCLA_RAW] [--only SECTIONS] [--pretrain-seconds 60]
    python bench/gpu_check.py --cpu-smoke        (tiny sizes on the CPU, well under a minute: CI runs it)

Sections (`--only`, comma-separated; all by default), each a few rows of the table, each goal shown as pass/fail:
- `tests`: the `cuda` tests (pytest -m cuda on the test files that have them) and the notebooks' `#| cuda` cells
  (nbdev_test --flags cuda on the notebooks that have them); goal: no failure.
- `views`: HiCLR's four views (`GrowingAugmentation()`: BA, BA+NA, BA+NA+Mask and the key view) and HaLP's two views
  (`halp_view_augmentation`, twice) of (3, 50, 25, 2) sequences at batch 128 and 1024, drawn on the device; samples
  per second. Goal at batch 1024: >= 200,000 samples/s (batch 128 is shown for the launch overhead, no goal).
- `encoders`: each encoder's forward + backward samples/s (bench/encoders.py's step: batch 128 for ST-GCN and
  DSTA-Net at 50 frames, 64 for the BiGRU at 64 frames, 60 classes), float32 and bf16 autocast; no goal.
- `epoch`: one HiCLR pretraining epoch at NTU60 xsub size (40,091 sequences of (3, 50, 25, 2), real NTU samples
  tiled when the shared data is there, random otherwise) with ST-GCN, batch 128, through `skelnb.train.train`
  (bench/train.py): the epoch's step time (goal <= 10 s) and the data path's share of a step (goal <= 5 %).
- `fit`: HaLP's prototype fit on the device (256 keys in R^128 into 20 prototypes, bench/methods.py); goal <= 5 ms.
- `knn`: 1-NN at NTU60 xsub sizes (40,091 x 16,487 features of 256 dimensions, bench/evaluate.py); seconds, no goal.
- `ucla`: a short full-width NW-UCLA xview pretraining of MoCo, HiCLR and HaLP (ST-GCN, batch 64, about
  `--pretrain-seconds` each: one epoch, then as many more as the measured epoch time allows), each evaluated by
  1-NN and linear evaluation beside the raw-coordinate floor (`skelnb.evaluate.baselines.raw_floor`); goal: each
  method's 1-NN above the floor's. The raw NW-UCLA files (`--raw`, default: the shared data's nw_ucla) are prepared
  into a temporary folder; without them the section is skipped, and says so.
On one H100 the whole check is sized for at most 8 minutes (estimated, not yet measured: the notebooks' cuda cells
~2, the epoch ~1, NW-UCLA ~4.5 with 60 s of pretraining per method; `--pretrain-seconds 90` when time allows).
`--cpu-smoke` runs every section at tiny sizes on the CPU (the figures mean nothing; the goals are shown but not
judged), so that the script never rots: tests/test_gpu_check.py runs it in CI.
"""

import argparse
import contextlib
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))  # the other bench scripts' helpers

import encoders as bench_encoders  # noqa: E402
import evaluate as bench_evaluate  # noqa: E402
import methods as bench_methods  # noqa: E402
import train as bench_train  # noqa: E402

SECTIONS = ("tests", "views", "encoders", "epoch", "fit", "knn", "ucla")
NTU60_XSUB = (40091, 16487)  # training and test sequences
FULL = dict(views_batches=(128, 1024), epoch_samples=NTU60_XSUB[0], epoch_batch=128, knn=NTU60_XSUB, repeat=10)
SMOKE = dict(views_batches=(4, 16), epoch_samples=16, epoch_batch=4, knn=(64, 32), repeat=2)
TINY_ENCODERS = {
    "stgcn": dict(hidden_channels=2, hidden_dim=8),
    "dsta": dict(config=((8, 8, 4, 1), (8, 16, 4, 2))),
    "bigru": dict(hidden_size=8, num_layers=1),
}


def row(section, check, value, unit, goal=None, passed=None, note=""):
    "One row of the table; `passed` None: no goal, or not judged (smoke mode)."
    return dict(section=section, check=check, value=value, unit=unit, goal=goal, passed=passed, note=note)


def judged(ok: bool, ctx) -> bool | None:
    return None if ctx.smoke else bool(ok)


# --- tests -----------------------------------------------------------------------------------------------------------
def files_with(folder: Path, pattern: str, marker: str) -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in folder.glob(pattern) if marker in p.read_text())


def section_tests(ctx) -> list:
    tests = files_with(ROOT / "tests", "test_*.py", "pytest.mark.cuda")
    line = [sys.executable, "-m", "pytest", "-q", "-m", "cuda", *tests] + (["--collect-only"] if ctx.smoke else [])
    done = subprocess.run(line, cwd=ROOT, capture_output=True, text=True)
    summary = (done.stdout.strip().splitlines() or [""])[-1]
    rows = [row("tests", f"pytest -m cuda ({len(tests)} files)", summary, "", "no failure", done.returncode == 0)]
    notebooks = files_with(ROOT / "nbs", "*.ipynb", "#| cuda")
    if ctx.smoke:  # whole notebooks take minutes on a CPU: the smoke only lists them
        return rows + [row("tests", "notebooks with #| cuda cells", len(notebooks), "notebooks", note="not run")]
    names = "|".join(Path(n).name.replace(".", r"\.") for n in notebooks)
    nbdev_test = Path(sys.executable).with_name("nbdev_test")  # this environment's, activated or not
    line = [str(nbdev_test), "--path", "nbs", "--flags", "cuda", "--file_re", f"({names})", "--n_workers", "4"]
    done = subprocess.run(line, cwd=ROOT, capture_output=True, text=True)
    tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or [""]
    return rows + [row("tests", f"#| cuda cells ({len(notebooks)} notebooks)", tail[0][:60], "", "no failure",
                       done.returncode == 0)]  # fmt: skip


# --- views ------------------------------------------------------------------------------------------------------------
def section_views(ctx) -> list:
    from skelnb.augment import GrowingAugmentation, halp_view_augmentation
    from skelnb.batch import SkeletonBatch

    hiclr = GrowingAugmentation().to(ctx.device)
    halp = halp_view_augmentation()
    g = torch.Generator(ctx.device).manual_seed(0)
    calls = {
        "HiCLR 4 views": lambda b: hiclr(b, g),
        "HaLP 2 views": lambda b: [halp(b, generator=g) for _ in range(2)],
    }
    rows = []
    for batch_size in ctx.sizes["views_batches"]:
        x = torch.randn(batch_size, 3, 50, 25, 2, generator=torch.Generator("cpu").manual_seed(0)).to(ctx.device)
        batch = SkeletonBatch(x, layout="ntu25")
        for name, call in calls.items():
            times = bench_methods.timed(lambda _: call(batch), lambda i: None, ctx.device, ctx.sizes["repeat"])
            rate = batch_size / times["wall_ms_median"] * 1e3
            goal = ">= 200,000" if batch_size == max(ctx.sizes["views_batches"]) else None
            rows.append(row("views", f"{name}, batch {batch_size}", round(rate), "samples/s", goal,
                            judged(rate >= 200_000, ctx) if goal else None))  # fmt: skip
    return rows


# --- encoders ---------------------------------------------------------------------------------------------------------
def section_encoders(ctx) -> list:
    from skelnb.encoders import build_encoder

    rows = []
    for name, (_, _, shape, batch) in bench_encoders.ENCODERS.items():
        batch = 2 if ctx.smoke else batch
        torch.manual_seed(0)
        model = build_encoder(name, num_class=60, **(TINY_ENCODERS[name] if ctx.smoke else {})).to(ctx.device)
        x = torch.randn(batch, *shape, device=ctx.device)
        for label, dtype in (("float32", None), ("bf16 autocast", torch.bfloat16)):
            step = bench_encoders.training_step(model, x, dtype)
            seconds = bench_encoders.time_steps(step, ctx.device, 1 if ctx.smoke else 5)
            rows.append(row("encoders", f"{name} fwd+bwd, batch {batch}, {label}", round(batch / seconds), "samples/s"))
    return rows


# --- one HiCLR epoch --------------------------------------------------------------------------------------------------
def section_epoch(ctx) -> list:
    n, batch = ctx.sizes["epoch_samples"], ctx.sizes["epoch_batch"]
    args = SimpleNamespace(batch=batch, width=0.125 if ctx.smoke else 1.0, device=str(ctx.device))
    with tempfile.TemporaryDirectory() as d:
        data = bench_train.tiled_split(Path(d) / "split", n)
        res = bench_train.bench_method("hiclr", data, Path(d) / "run", args)
    rows = [
        row("epoch", f"HiCLR epoch, {n:,} x (3, 50, 25, 2), ST-GCN, batch {batch}", round(res["epoch_step_s"], 2),
            "s", "<= 10", judged(res["epoch_step_s"] <= 10, ctx), note=f"run wall {res['run_wall_s']:.1f} s"),
        row("epoch", "data path share of a step (median)", round(100 * res["data_wait_median"], 2), "%", "<= 5",
            judged(res["data_wait_median"] <= 0.05, ctx)),
    ]  # fmt: skip
    return rows


# --- HaLP's prototype fit ---------------------------------------------------------------------------------------------
def section_fit(ctx) -> list:
    from skelnb.methods.halp import spherical_kmeans

    def fit(inputs):
        keys, g = inputs
        spherical_kmeans(keys, bench_methods.CLUSTERS, g)

    times = bench_methods.timed(fit, lambda i: bench_methods.random_keys(1000 + i, ctx.device), ctx.device,
                                ctx.sizes["repeat"])  # fmt: skip
    ms = times["wall_ms_median"]
    what = f"HaLP prototype fit, {bench_methods.KEYS} keys -> {bench_methods.CLUSTERS}"
    return [row("fit", what, ms, "ms", "<= 5", judged(ms <= 5, ctx))]


# --- kNN --------------------------------------------------------------------------------------------------------------
def section_knn(ctx) -> list:
    from skelnb.evaluate.knn import knn

    n_train, n_test = ctx.sizes["knn"]
    train, test = bench_evaluate.features(n_train, n_test, 256, 60)
    device = str(ctx.device)
    best, median, out = bench_evaluate.timed(lambda: knn(train, test, k=1, device=device), 2, device)
    note = f"top-1 {out['top1']:.1f} % (synthetic features)"
    return [row("knn", f"1-NN, {n_train:,} x {n_test:,} x 256", median, "s", note=note)]


# --- NW-UCLA pretraining and evaluation -------------------------------------------------------------------------------
UCLA_COMMON = dict(encoder="stgcn", batch_size=64, lr=0.1, checkpoint_every=0, progress=False, encoder_dropout=0.0,
                   queue_size=512, encoder_init="default", key_init="copy")  # fmt: skip
UCLA_METHODS = {
    "moco": dict(momentum=0.99),
    "hiclr": dict(momentum=0.999),
    "halp": dict(momentum=0.99, num_prototypes=10, prototype_keys=128, num_positives=16, halp_start_epoch=2,
                 warmup_samples=512, warmup_from="run"),
}  # fmt: skip
UCLA_SMOKE = dict(batch_size=4, queue_size=16, encoder_hidden_channels=2, encoder_hidden_dim=8, dim=8)
UCLA_SMOKE_HALP = dict(num_prototypes=3, prototype_keys=8, num_positives=4, warmup_samples=8)
LINEAR = dict(recipe="hiclr", lr=0.1, standardize="train")


def prepared_ucla(raw: Path, out: Path, ctx) -> tuple[Path, Path]:
    "NW-UCLA prepared (HiCLR's pipeline) into `out`: (xview train, xview val); the smoke's from a few raw files."
    from skelnb.data.prepare import prepare

    if ctx.smoke:  # 3 actions x 2 subjects x 3 views: both xview splits, in seconds
        subset = out / "raw" / "all_sqe"
        subset.mkdir(parents=True)
        for path in sorted((raw / "all_sqe").glob("a0[1-3]_s0[1-2]_e00_v0?.json")):
            (subset / path.name).symlink_to(path)
        raw = subset.parent
    prepare("nw-ucla", raw, out, pipeline="hiclr", workers=1 if ctx.smoke else os.cpu_count(), progress=False)
    return out / "nw-ucla-hiclr" / "xview" / "train", out / "nw-ucla-hiclr" / "xview" / "val"


def pretrain_for(method: str, train_split: Path, out: Path, ctx) -> tuple[float, int]:
    "Pretrain one epoch, then resume for as many epochs as fit in the budget; (seconds, epochs)."
    from skelnb.train import train

    settings = dict(method=method, data=str(train_split), output=str(out), device=str(ctx.device))
    settings |= UCLA_COMMON | UCLA_METHODS[method] | (UCLA_SMOKE if ctx.smoke else {})
    settings |= UCLA_SMOKE_HALP if ctx.smoke and method == "halp" else {}
    start = time.perf_counter()
    train(**settings, epochs=1)
    first = time.perf_counter() - start
    epochs = 2 if ctx.smoke else max(2, int(ctx.pretrain_seconds / first))
    train(**settings, epochs=epochs, resume="auto")
    return time.perf_counter() - start, epochs


def section_ucla(ctx) -> list:
    from skelnb.core import shared_data
    from skelnb.evaluate.baselines import raw_floor
    from skelnb.evaluate.knn import evaluate_knn
    from skelnb.evaluate.linear import evaluate_linear

    raw = Path(ctx.raw) if ctx.raw else shared_data("nw_ucla")
    if raw is None or not Path(raw).is_dir():
        return [row("ucla", "NW-UCLA pretraining", "skipped", "", note="raw NW-UCLA not found (--raw)")]
    device, linear = str(ctx.device), LINEAR | (dict(epochs=2, eval_every=1) if ctx.smoke else {})
    with tempfile.TemporaryDirectory() as d:
        train_split, test_split = prepared_ucla(Path(raw), Path(d) / "prepared", ctx)
        floor = {p: raw_floor(train_split, test_split, protocol=p, device=device, **(linear if p == "linear" else {}))
                 for p in ("knn", "linear")}  # fmt: skip
        floor_1nn = floor["knn"]["top1"]
        rows = [row("ucla", "raw-coordinate floor: 1-NN / linear", f"{floor_1nn:.1f} / {floor['linear']['top1']:.1f}",
                    "% top-1")]  # fmt: skip
        for method in UCLA_METHODS:
            seconds, epochs = pretrain_for(method, train_split, Path(d) / method, ctx)
            run = Path(d) / method
            nn1 = evaluate_knn(run, train_split, test_split, k=(1,), device=device).metrics["top1"]
            lin = evaluate_linear(run, train_split, test_split, device=device, **linear).metrics["top1"]
            rows.append(row("ucla", f"{method}: 1-NN / linear ({epochs} epochs, {seconds:.0f} s)",
                            f"{nn1:.1f} / {lin:.1f}", "% top-1", f"1-NN > floor {floor_1nn:.1f}",
                            judged(nn1 > floor_1nn, ctx)))  # fmt: skip
    return rows


# --- the table --------------------------------------------------------------------------------------------------------
def table(rows: list) -> str:
    mark = {True: "pass", False: "FAIL", None: ""}
    cells = [(r["section"], r["check"], f"{r['value']:,}" if isinstance(r["value"], int) else str(r["value"]),
              r["unit"], r["goal"] or "", mark[r["passed"]], r["note"]) for r in rows]  # fmt: skip
    head = ("section", "check", "value", "unit", "goal", "", "note")
    widths = [max(len(str(c[i])) for c in [head, *cells]) for i in range(len(head))]
    lines = [" | ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in [head, *cells]]
    return "\n".join([lines[0], "-+-".join("-" * w for w in widths), *lines[1:]])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on the CPU (CI)")
    p.add_argument("--out", default="gpu_check.json", help="the JSON written (default gpu_check.json)")
    p.add_argument("--raw", help="raw NW-UCLA folder (default: the shared data's nw_ucla)")
    p.add_argument("--only", default=",".join(SECTIONS), help=f"sections: {', '.join(SECTIONS)}")
    p.add_argument("--pretrain-seconds", type=float, default=60.0, help="ucla: seconds of pretraining per method")
    args = p.parse_args(argv)
    only = [s for s in args.only.split(",") if s]
    if set(only) - set(SECTIONS):
        raise SystemExit(
            f"--only: unknown {', '.join(sorted(set(only) - set(SECTIONS)))}; known: {', '.join(SECTIONS)}"
        )
    if not args.cpu_smoke and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device here; --cpu-smoke runs the check's code at tiny sizes on the CPU")
    device = torch.device("cpu" if args.cpu_smoke else "cuda")
    if args.cpu_smoke:
        torch.set_num_threads(1)  # tiny sizes gain nothing from more; a shared machine's busy cores slow OpenMP a lot
    ctx = SimpleNamespace(smoke=args.cpu_smoke, device=device, sizes=SMOKE if args.cpu_smoke else FULL, raw=args.raw,
                          pretrain_seconds=args.pretrain_seconds)  # fmt: skip
    rows, started = [], time.perf_counter()
    for name in only:
        t = time.perf_counter()
        try:
            rows += globals()[f"section_{name}"](ctx)
        except Exception as e:  # one broken section is a failed row; the others still run
            rows.append(row(name, f"{name}: {type(e).__name__}", str(e)[:80], "", "runs", False))
        print(f"[{name}: {time.perf_counter() - t:.1f} s]", file=sys.stderr, flush=True)
    report = dict(rows=rows, mode="cpu-smoke" if ctx.smoke else "gpu", seconds=round(time.perf_counter() - started, 1),
                  device=torch.cuda.get_device_name() if device.type == "cuda" else "cpu", torch=torch.__version__,
                  when=time.strftime("%Y-%m-%dT%H:%M:%S"))  # fmt: skip
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(table(rows))
    print(f"{report['device']}, torch {report['torch']}, {report['seconds']} s; wrote {args.out}")
    return 1 if any(r["passed"] is False for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
