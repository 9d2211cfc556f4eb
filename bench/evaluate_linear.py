"""Linear evaluation on cached features: training epochs per second of skelnb.evaluate.linear, beside scikit-learn.
    python bench/evaluate_linear.py [--dims 256,2048] [--epochs 3] [--threads 1] [--no-cuda] [--no-sklearn]
                                    [--lbfgs-iter 30] [--no-write]

Data: NTU60 xsub sizes, 40,091 training and 16,487 test features of 256 (ST-GCN/DSTA) or 2,048 (BiGRU)
dimensions, 60 classes, float32, drawn at random: a random class mean per class plus unit Gaussian noise, so that
the classifiers have something to learn and the accuracies printed are a sanity check, not a result.

- `skelnb`: the loop `skelnb.evaluate.linear.fit` runs for `evaluate_linear` with cached features, the `hiclr` recipe
  (SGD lr 3.0, momentum 0.9, batch 128, a fresh permutation per epoch, rows gathered from the cached tensor); one
  epoch = 314 steps. Timed: the median of `--epochs` epochs after one warm-up epoch; scoring the test set is timed
  apart (it runs every 5 epochs in the protocol). On the CPU, and on CUDA when there is a GPU (features on the GPU).
- `sklearn-sgd`: `SGDClassifier(loss="log_loss")`, one `partial_fit` over all samples per epoch (scikit-learn's SGD
  is per-sample, one-vs-rest over 60 classes, one thread); the median of `--epochs` epochs after a first one.
- `sklearn-lbfgs`: `LogisticRegression` (multinomial, L-BFGS) for `--lbfgs-iter` iterations: seconds per
  iteration (one iteration is a full-batch gradient, not comparable to an SGD epoch; given for scale).

Threads: torch and BLAS limited to `--threads` (default 1: the machine is shared; a loaded machine's oversubscribed
OpenMP slows everything). One JSON line per measurement is printed and appended to
bench/results/evaluate_linear.jsonl.
"""

import argparse
import json
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from skelnb.core import versions
from skelnb.evaluate.linear import fit, get_recipe, make_classifier, score

RESULTS = Path(__file__).parent / "results" / "evaluate_linear.jsonl"
N_TRAIN, N_TEST, CLASSES = 40_091, 16_487, 60


def features(dim: int, seed: int = 0) -> tuple:
    "(train x, train y, test x, test y): class means + unit noise, float32, as torch tensors on the CPU."
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(CLASSES, dim, generator=g) * 0.3
    y_train, y_test = (
        torch.randint(0, CLASSES, (N_TRAIN,), generator=g),
        torch.randint(0, CLASSES, (N_TEST,), generator=g),
    )
    x_train = means[y_train] + torch.randn(N_TRAIN, dim, generator=g)
    x_test = means[y_test] + torch.randn(N_TEST, dim, generator=g)
    return x_train, y_train, x_test, y_test


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def bench_skelnb(x, y, xt, yt, epochs: int, device: str) -> dict:
    "Epochs per second of `fit` on cached features (the hiclr recipe), and the seconds to score the test set."
    recipe = get_recipe("hiclr", epochs=1, milestones=())
    g = torch.Generator().manual_seed(0)
    head = make_classifier(x.shape[1], CLASSES, recipe, g).to(device)
    x, xt = x.to(device), xt.to(device)
    params = list(head.parameters())
    times = []
    for _ in range(epochs + 1):  # the first is a warm-up; each call builds its optimizer, as each seed does
        sync(device)
        t0 = time.perf_counter()
        fit(recipe, head, params, y, lambda p: x[p.to(x.device)], lambda: (None, {}), generator=g, eval_every=10**9)
        sync(device)
        times.append(time.perf_counter() - t0)
    sync(device)
    t0 = time.perf_counter()
    _, metrics = score(head, xt, yt, device)
    sync(device)
    t_score = time.perf_counter() - t0
    epoch_s = statistics.median(times[1:])
    return dict(epoch_s=epoch_s, epochs_per_s=1 / epoch_s, score_s=t_score, top1=metrics["top1"])


def bench_sklearn_sgd(x, y, xt, yt, epochs: int) -> dict:
    from sklearn.linear_model import SGDClassifier

    clf = SGDClassifier(loss="log_loss", alpha=1e-4, random_state=0)
    x, y, classes = x.numpy(), y.numpy(), np.arange(CLASSES)
    times = []
    for _ in range(epochs + 1):
        t0 = time.perf_counter()
        clf.partial_fit(x, y, classes=classes)
        times.append(time.perf_counter() - t0)
    top1 = 100.0 * float((clf.predict(xt.numpy()) == yt.numpy()).mean())
    epoch_s = statistics.median(times[1:])
    return dict(epoch_s=epoch_s, epochs_per_s=1 / epoch_s, top1=top1)


def bench_sklearn_lbfgs(x, y, xt, yt, iters: int) -> dict:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=iters, tol=0.0)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x.numpy(), y.numpy())
    seconds = time.perf_counter() - t0
    n_iter = int(np.max(clf.n_iter_))
    top1 = 100.0 * float((clf.predict(xt.numpy()) == yt.numpy()).mean())
    return dict(fit_s=seconds, iterations=n_iter, iteration_s=seconds / max(n_iter, 1), top1=top1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dims", default="256,2048")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--lbfgs-iter", type=int, default=30)
    p.add_argument("--no-cuda", action="store_true")
    p.add_argument("--no-sklearn", action="store_true")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and not args.no_cuda else [])
    common = dict(n_train=N_TRAIN, n_test=N_TEST, classes=CLASSES, threads=args.threads, versions=versions())
    if torch.cuda.is_available():
        common["gpu"] = torch.cuda.get_device_name()
    rows = []
    with threadpool_limits(args.threads):
        for dim in [int(d) for d in args.dims.split(",")]:
            x, y, xt, yt = features(dim)
            for device in devices:
                rows.append(
                    dict(
                        what="skelnb",
                        dim=dim,
                        device=device,
                        batch=128,
                        **bench_skelnb(x, y, xt, yt, args.epochs, device),
                    )
                )
                print(json.dumps(rows[-1]), flush=True)
            if not args.no_sklearn:
                rows.append(
                    dict(what="sklearn-sgd", dim=dim, device="cpu", **bench_sklearn_sgd(x, y, xt, yt, args.epochs))
                )
                print(json.dumps(rows[-1]), flush=True)
                rows.append(
                    dict(
                        what="sklearn-lbfgs",
                        dim=dim,
                        device="cpu",
                        **bench_sklearn_lbfgs(x, y, xt, yt, args.lbfgs_iter),
                    )
                )
                print(json.dumps(rows[-1]), flush=True)
    if not args.no_write:
        RESULTS.parent.mkdir(exist_ok=True)
        with RESULTS.open("a") as f:
            for row in rows:
                f.write(json.dumps({**row, **common}) + "\n")
    return rows


if __name__ == "__main__":
    main()
