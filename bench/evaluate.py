"""Speed of the evaluation protocols (skelnb.evaluate): kNN, and linear evaluation on cached features.
    python bench/evaluate.py [--only knn,linear] [--train 40091] [--test 16487] [--dims 256,2048] [--classes 60]
                             [--chunk 8192] [--repeat 2] [--epochs 3] [--lbfgs-iter 30] [--threads 1]
                             [--no-cuda] [--no-sklearn] [--no-write]

Data: NTU60 xsub sizes by default, 40,091 training and 16,487 test features of 256 (ST-GCN/DSTA's pooled feature)
and 2,048 (BiGRU's) dimensions, 60 classes, float32, drawn once per dimension outside the timing: a random mean per
class plus unit Gaussian noise, so that the classifiers have something to learn (the accuracies are a sanity check,
not a result) and no two features are exactly tied.

- `knn`: `skelnb.evaluate.knn.knn` with k = 1 (cosine on L2-normalised features, CMD/HaLP) and with k = 20, τ = 0.1
  (the AimCLR family's weighted vote), the test features in chunks of `--chunk` rows; beside it scikit-learn's
  `KNeighborsClassifier(n_neighbors=1, metric="cosine", algorithm="brute")` (fit + predict) on the same features,
  and the fraction of test samples where the two 1-NN predictions agree (1.0 expected). Seconds: best and median
  over `--repeat` calls after one warm-up call. With CUDA (and not `--no-cuda`) skelnb is also timed on the GPU (the
  features start on the CPU, as `extract_features` returns them).
- `linear`: the loop `skelnb.evaluate.linear.fit` runs for `evaluate_linear` with cached features, the `hiclr`
  recipe (SGD lr 3.0, momentum 0.9, batch 128, a fresh permutation per epoch; 314 steps an epoch at NTU60 size):
  the median of `--epochs` epochs after a warm-up epoch, in epochs per second; scoring the test set is timed apart
  (the protocol scores every 5 epochs). On the CPU, and on CUDA (features on the GPU). Beside it scikit-learn's
  `SGDClassifier(loss="log_loss")` (one `partial_fit` over all samples per epoch: per-sample SGD, one-vs-rest) and
  `LogisticRegression` (multinomial L-BFGS, `--lbfgs-iter` iterations; seconds per full-batch iteration, for scale).

Threads: torch and the BLAS/OpenMP pools limited to `--threads` (default 1: the machine may be shared, and an
oversubscribed OpenMP slows everything; 0 keeps the libraries' defaults). The load average is recorded beside each
measurement. One JSON line per measurement is printed and appended to bench/results/evaluate.jsonl.
At the defaults the whole run takes about 10 minutes on one thread (a 2048-d kNN call is ~50 s; scikit-learn's
~75 s): `--repeat 1`, `--dims 256` or `--only` shorten it. Figures measured: nbs/69_evaluate.ipynb, "Speed".
"""

import argparse
import contextlib
import json
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from skelnb.core import versions

RESULTS = Path(__file__).parent / "results" / "evaluate.jsonl"


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", default="knn,linear", help="sections to run: knn, linear (default both)")
    p.add_argument("--train", type=int, default=40091, help="training features (default 40091, NTU60 xsub)")
    p.add_argument("--test", type=int, default=16487, help="test features (default 16487, NTU60 xsub)")
    p.add_argument("--dims", default="256,2048", help="feature dimensions (default 256,2048)")
    p.add_argument("--classes", type=int, default=60, help="classes (default 60)")
    p.add_argument("--chunk", type=int, default=8192, help="knn: test rows per chunk (default 8192)")
    p.add_argument("--repeat", type=int, default=2, help="knn: timed calls after a warm-up (default 2)")
    p.add_argument("--epochs", type=int, default=3, help="linear: timed epochs after a warm-up (default 3)")
    p.add_argument("--lbfgs-iter", type=int, default=30, help="linear: L-BFGS iterations (default 30)")
    p.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (default 1; 0: the defaults)")
    p.add_argument("--no-cuda", action="store_true", help="time the CPU only")
    p.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn")
    p.add_argument("--no-write", action="store_true", help="print only; do not append to the results file")
    return p.parse_args(argv)


def record(line: dict, write: bool) -> dict:
    "Print `line` (with the load average) as JSON and append it, with the versions, to the results file."
    line = {"bench": "evaluate", **line, "load_average": [round(x, 2) for x in os.getloadavg()]}
    print(json.dumps(line), flush=True)
    if write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with open(RESULTS, "a") as f:
            f.write(json.dumps(line | {"versions": versions()}) + "\n")
    return line


def sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(call, repeat: int, device: str = "cpu"):
    "(best, median) wall seconds of `call()` over `repeat` calls after one warm-up call; and the last output."
    out = call()
    sync(device)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = call()
        sync(device)
        times.append(time.perf_counter() - t0)
    return round(min(times), 4), round(statistics.median(times), 4), out


def features(n_train: int, n_test: int, dim: int, classes: int, seed: int = 0):
    "(train, test) `Features`: a random mean per class (scale 0.3) plus unit Gaussian noise, float32 on the CPU."
    from skelnb.evaluate.core import Features

    g = torch.Generator().manual_seed(seed)
    means = torch.randn(classes, dim, generator=g) * 0.3

    def make(n):
        y = torch.randint(0, classes, (n,), generator=g)
        return Features(means[y] + torch.randn(n, dim, generator=g), y, [""] * n)

    return make(n_train), make(n_test)


def devices(args) -> list:
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() and not args.no_cuda else [])


def bench_knn(args, dim: int, train, test, size: dict) -> None:
    "skelnb's 1-NN and weighted kNN on each device; scikit-learn's 1-NN cosine and its agreement with skelnb's."
    from skelnb.evaluate.knn import knn

    one_nn = None
    for device in devices(args):
        for k, tau in ((1, None), (20, 0.1)):
            call = lambda: knn(train, test, k=k, temperature=tau, chunk=args.chunk, device=device)  # noqa: E731
            best, median, out = timed(call, args.repeat, device)
            one_nn = out["predictions"].numpy() if (k, device) == (1, "cpu") else one_nn
            what = f"skelnb knn k={k}" + (f" tau={tau}" if tau else "")
            line = dict(what=what, device=device, dim=dim, best_s=best, median_s=median, top1=round(out["top1"], 3))
            record(line | size, not args.no_write)
    if args.no_sklearn:
        return
    from sklearn.neighbors import KNeighborsClassifier

    x, y, xt = train.features.numpy(), train.labels.numpy(), test.features.numpy()

    def sk():
        return KNeighborsClassifier(n_neighbors=1, metric="cosine", algorithm="brute").fit(x, y).predict(xt)

    best, median, pred = timed(sk, args.repeat)
    line = dict(what="sklearn KNeighborsClassifier k=1 cosine brute", device="cpu", dim=dim, best_s=best)
    record(line | size | dict(median_s=median, agrees_with_skelnb=float((pred == one_nn).mean())), not args.no_write)


def linear_epochs(train, test, classes: int, epochs: int, device: str) -> dict:
    "Epochs per second of `fit` on cached features (the hiclr recipe), and the seconds to score the test set."
    from skelnb.evaluate.linear import fit, get_recipe, make_classifier, score

    recipe = get_recipe("hiclr", epochs=1, milestones=())
    g = torch.Generator().manual_seed(0)
    head = make_classifier(train.features.shape[1], classes, recipe, g).to(device)
    x, xt = train.features.to(device), test.features.to(device)
    times = []
    for _ in range(epochs + 1):  # the first is a warm-up; each call builds its optimizer, as each seed does
        sync(device)
        t0 = time.perf_counter()
        fit(recipe, head, list(head.parameters()), train.labels, lambda p: x[p.to(x.device)], lambda: (None, {}),
            generator=g, eval_every=10**9)  # fmt: skip
        sync(device)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    _, metrics = score(head, xt, test.labels, device)
    sync(device)
    epoch_s = statistics.median(times[1:])
    score_s = time.perf_counter() - t0
    return dict(epoch_s=round(epoch_s, 4), epochs_per_s=round(1 / epoch_s, 3), score_s=round(score_s, 4),
                top1=round(metrics["top1"], 3))  # fmt: skip


def sklearn_sgd_epochs(train, test, classes: int, epochs: int) -> dict:
    from sklearn.linear_model import SGDClassifier

    clf = SGDClassifier(loss="log_loss", alpha=1e-4, random_state=0)
    x, y = train.features.numpy(), train.labels.numpy()
    times = []
    for _ in range(epochs + 1):
        t0 = time.perf_counter()
        clf.partial_fit(x, y, classes=np.arange(classes))
        times.append(time.perf_counter() - t0)
    top1 = 100.0 * float((clf.predict(test.features.numpy()) == test.labels.numpy()).mean())
    epoch_s = statistics.median(times[1:])
    return dict(epoch_s=round(epoch_s, 4), epochs_per_s=round(1 / epoch_s, 3), top1=round(top1, 3))


def sklearn_lbfgs(train, test, iters: int) -> dict:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=iters, tol=0.0)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(train.features.numpy(), train.labels.numpy())
    seconds = time.perf_counter() - t0
    n_iter = int(np.max(clf.n_iter_))
    top1 = 100.0 * float((clf.predict(test.features.numpy()) == test.labels.numpy()).mean())
    return dict(fit_s=round(seconds, 3), iterations=n_iter, iteration_s=round(seconds / max(n_iter, 1), 4),
                top1=round(top1, 3))  # fmt: skip


def bench_linear(args, dim: int, train, test, size: dict) -> None:
    "skelnb's cached-feature epochs on each device, beside scikit-learn's SGD and L-BFGS."
    for device in devices(args):
        line = dict(what="skelnb linear (cached, hiclr recipe)", device=device, dim=dim, batch=128)
        record(line | size | linear_epochs(train, test, args.classes, args.epochs, device), not args.no_write)
    if args.no_sklearn:
        return
    sgd = sklearn_sgd_epochs(train, test, args.classes, args.epochs)
    record(dict(what="sklearn SGDClassifier log_loss", device="cpu", dim=dim) | size | sgd, not args.no_write)
    lbfgs = sklearn_lbfgs(train, test, args.lbfgs_iter)
    record(dict(what="sklearn LogisticRegression lbfgs", device="cpu", dim=dim) | size | lbfgs, not args.no_write)


def main(argv=None):
    args = parse(argv)
    sections = [s for s in args.only.split(",") if s]
    unknown = sorted(set(sections) - {"knn", "linear"})
    if unknown:
        raise SystemExit(f"--only: unknown section(s) {', '.join(unknown)}; known: knn, linear")
    limits = contextlib.nullcontext()
    if args.threads:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        limits = threadpool_limits(args.threads)  # scikit-learn's BLAS and OpenMP pools
    size = dict(train=args.train, test=args.test, classes=args.classes, threads=torch.get_num_threads())
    if torch.cuda.is_available() and not args.no_cuda:
        size["gpu"] = torch.cuda.get_device_name()
    with limits:
        for dim in (int(d) for d in args.dims.split(",")):
            train, test = features(args.train, args.test, dim, args.classes)
            if "knn" in sections:
                bench_knn(args, dim, train, test, size | dict(chunk=args.chunk))
            if "linear" in sections:
                bench_linear(args, dim, train, test, size)


if __name__ == "__main__":
    main()
