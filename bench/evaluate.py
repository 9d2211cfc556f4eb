"""Speed of the evaluation protocols (skelnb.evaluate).
    python bench/evaluate.py [--test 16487] [--train 40091] [--dims 256,2048] [--classes 60] [--chunk 8192]
                             [--repeat 2] [--threads 0] [--no-cuda] [--no-sklearn] [--no-write]

- `knn`: kNN of `--test` random test features against `--train` random training features (NTU60 xsub sizes:
  16,487 x 40,091), 256-d (the ST-GCN's pooled feature) and 2048-d (the BiGRU's), `--classes` 60 random labels:
  `skelnb.evaluate.knn.knn` with k = 1 (cosine on L2-normalised features, CMD/HaLP) and with k = 20, τ = 0.1 (the
  AimCLR family's weighted vote), the test features in chunks of `--chunk` rows; beside it scikit-learn's
  `KNeighborsClassifier(n_neighbors=1, metric="cosine", algorithm="brute")` (fit + predict) on the same features, and
  the fraction of test samples where the two 1-NN predictions agree (random Gaussian features have no exact ties, so
  it should be 1.0). Seconds are wall-clock, best and median over `--repeat` calls after one warm-up call of the
  same size (the features are generated once per dimension, outside the timing). With CUDA (and not `--no-cuda`)
  skelnb's kNN is also timed on the GPU (the features start on the CPU, as `extract_features` returns them).

The machine may be shared: the load average is recorded beside each line. `--threads N` sets torch's (and
scikit-learn's BLAS, through OMP_NUM_THREADS before the import) thread count; 0 keeps the defaults.
One JSON line per measurement is printed and appended to bench/results/evaluate.jsonl.

Linear evaluation with cached features (epochs per second, beside scikit-learn) is a later section of this file:
see "linear evaluation" at the end.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "evaluate.jsonl"


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--test", type=int, default=16487)
    p.add_argument("--train", type=int, default=40091)
    p.add_argument("--dims", default="256,2048")
    p.add_argument("--classes", type=int, default=60)
    p.add_argument("--chunk", type=int, default=8192)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--no-cuda", action="store_true")
    p.add_argument("--no-sklearn", action="store_true")
    p.add_argument("--no-write", action="store_true")
    return p.parse_args(argv)


def record(line, write):
    from skelnb.core import versions

    line = {"bench": "evaluate", **line, "load_average": [round(x, 2) for x in os.getloadavg()]}
    print(json.dumps(line), flush=True)
    if write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with open(RESULTS, "a") as f:
            f.write(json.dumps(line | {"versions": versions()}) + "\n")


def timed(call, repeat, sync=lambda: None):
    "(best, median) wall seconds of `call()` over `repeat` calls after one warm-up call; and the last output."
    out = call()
    sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = call()
        sync()
        times.append(time.perf_counter() - t0)
    return round(min(times), 3), round(statistics.median(times), 3), out


def features(n_train, n_test, dim, classes, seed=0):
    import torch

    from skelnb.evaluate.core import Features

    g = torch.Generator().manual_seed(seed)
    make = lambda n: Features(  # noqa: E731
        torch.randn(n, dim, generator=g), torch.randint(0, classes, (n,), generator=g), [""] * n
    )
    return make(n_train), make(n_test)


def bench_knn(args):
    import torch
    from sklearn.neighbors import KNeighborsClassifier

    from skelnb.evaluate.knn import knn

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and not args.no_cuda else [])
    size = dict(
        train=args.train, test=args.test, classes=args.classes, chunk=args.chunk, threads=torch.get_num_threads()
    )
    for dim in (int(d) for d in args.dims.split(",")):
        train, test = features(args.train, args.test, dim, args.classes)
        one_nn = None
        for device in devices:
            sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
            for k, tau in ((1, None), (20, 0.1)):
                call = lambda: knn(train, test, k=k, temperature=tau, chunk=args.chunk, device=device)  # noqa: E731
                best, median, out = timed(call, args.repeat, sync)
                one_nn = out["predictions"].numpy() if (k, device) == (1, "cpu") else one_nn
                line = dict(what=f"skelnb knn k={k}" + (f" tau={tau}" if tau else ""), device=device, dim=dim)
                record(line | size | dict(best_s=best, median_s=median, top1=round(out["top1"], 3)), not args.no_write)
        if not args.no_sklearn:
            x, y, xt = train.features.numpy(), train.labels.numpy(), test.features.numpy()

            def sk():
                return KNeighborsClassifier(n_neighbors=1, metric="cosine", algorithm="brute").fit(x, y).predict(xt)

            best, median, pred = timed(sk, args.repeat)
            agree = float((pred == one_nn).mean())
            line = dict(what="sklearn KNeighborsClassifier k=1 cosine brute", device="cpu", dim=dim)
            record(line | size | dict(best_s=best, median_s=median, agrees_with_skelnb=agree), not args.no_write)


# ---------------------------------------------------------------------------------------------------------------------
# linear evaluation (cached features; epochs per second beside scikit-learn): to be added here, with its own
# `bench_linear(args)` called from `main`.
# ---------------------------------------------------------------------------------------------------------------------


def main(argv=None):
    args = parse(argv)
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # before numpy/torch/sklearn load their BLAS
        os.environ["OPENBLAS_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    bench_knn(args)


if __name__ == "__main__":
    main()
