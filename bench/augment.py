"""Samples per second of HiCLR's four augmented views (BA, BA, BA+NA, BA+NA+Mask), batched against the reference.
    python bench/augment.py [--batch 128] [--repeat 5] [--threads 1] [--allocator default|tuned] [--no-cuda]
                            [--profile] [--no-write]

Two implementations of the same views of a batch of (3, 50, 25, 2) real NTU samples (the five shared samples through
the HiCLR pipeline, cycled to fill the batch):
- `reference`: the reference's own way, restated below in our words (reference_code.md §2.1-2.3): each sample is
  augmented on its own in NumPy (one `torch` conv for the blur, as the reference does), four times, as a DataLoader
  worker of `Feeder_triple` does; the views are collated into float32 batches, and the Random Mask is built per batch
  with a Python loop over frames and applied as `HiCLR.forward_pretrain_wmask` does;
- `batched`: `skelnb.augment.growing.GrowingAugmentation()` (HiCLR's default sets, BA | NA | Mask) on the whole batch,
  its linear steps folded (`run_chain`).

Both run in one process with `torch.set_num_threads(1)` (per core); the mask token requires a gradient, as in
training. The figures are this process's CPU time (best of the timed calls), which is what one core spends even when
other processes share the machine; wall-clock figures and the load average are recorded beside them.
`--allocator tuned` keeps glibc from handing large blocks back to the OS (each new 4 MB tensor otherwise costs about
a thousand page faults); PyTorch's CPU performance guide gets the same from jemalloc/tcmalloc. Both implementations
run under the same allocator. When CUDA is available the batched version is also timed on the GPU (a CUDA generator,
synchronised wall timing). `--profile` adds the CPU time of each primitive's `sample`/`fold`/`transform` and of the
folded gathers. One JSON line is printed and appended to bench/results/augment.jsonl.
"""

import os
import sys

# One BLAS/OpenMP thread for NumPy as for torch (unless --threads says otherwise): the comparison is per core, and
# NumPy's small products in the reference would otherwise spin up a thread pool.
_THREADS = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv[:-1] else "1"
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _THREADS)

import argparse
import collections
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from skelnb.core import versions
from skelnb.data.samples import ntu_samples

# --- the reference, per sample (HiCLR:feeder/tools.py semantics, restated) ------------------------------------------
FLIP_ORDER = [0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15, 20, 23, 24, 21, 22]
BLUR_TAPS = np.arange(-7, 8)


def ref_crop(x, ratio=6):
    "Reflect-pad T//ratio frames at each end (edge frame included), then keep T frames from a random start."
    T = x.shape[1]
    p = T // ratio
    start = np.random.randint(0, 2 * p + 1)
    padded = np.concatenate((x[:, :p][:, ::-1], x, x[:, -p:][:, ::-1]), axis=1)
    return padded[:, start : start + T]


def ref_shear(x, r=0.5):
    "x' = S x with S = [[1, a0, b0], [a1, 1, b1], [a2, b2, 1]], six U(-r, r) draws (a then b)."
    a = [random.uniform(-r, r) for _ in range(3)]
    b = [random.uniform(-r, r) for _ in range(3)]
    S = np.array([[1, a[0], b[0]], [a[1], 1, b[1]], [a[2], b[2], 1]])
    return np.dot(x.transpose(1, 2, 3, 0), S.T).transpose(3, 0, 1, 2)


def ref_flip(x, p=0.5):
    "With probability p, permute the joints left <-> right (no mirroring of coordinates)."
    return x[:, :, FLIP_ORDER, :] if random.random() < p else x


def _axis_rotation(axis, angle):
    c, s = math.cos(angle), math.sin(angle)
    if axis == 0:
        return np.array([[1, 0, 0], [0, c, s], [0, -s, c]])
    if axis == 1:
        return np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])
    return np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])


def ref_rotate(x):
    "Main axis uniform in {x, y, z} gets U(0, 30) degrees, the others U(0, 1); rotate about x, then y, then z."
    seq = x.transpose(1, 2, 3, 0)
    main = random.randint(0, 2)
    for axis in range(3):
        angle = math.radians(random.uniform(0, 30) if axis == main else random.uniform(0, 1))
        seq = np.matmul(seq, _axis_rotation(axis, angle).T)
    return seq.transpose(3, 0, 1, 2)


def ref_noise(x, std=0.01, p=0.5):
    "With probability p, add N(0, std^2) to every entry (the absent person included)."
    return x + np.random.normal(0, std, size=x.shape) if random.random() < p else x


def ref_blur(x):
    "sigma ~ U(0.1, 2) every call; with probability 0.5 convolve over time with the unnormalised 15-tap Gaussian."
    sigma = random.uniform(0.1, 2)
    kernel = (
        torch.from_numpy(np.exp(-(BLUR_TAPS**2.0) / (2.0 * sigma**2))).double().view(1, 1, 1, 15).repeat(3, 1, 1, 1)
    )
    t = torch.from_numpy(np.ascontiguousarray(x))
    if np.random.random_sample() < 0.5:
        t = F.conv2d(t.permute(3, 0, 2, 1), kernel, padding=(0, 7), groups=3).permute(1, 3, 2, 0)
    return t.numpy()


def ref_axis_mask(x, p=0.5):
    "With probability p, zero one random axis (x, y or z) everywhere."
    if random.random() < p:
        x = x.copy()
        x[random.randint(0, 2)] = 0
    return x


def ref_basic(x):
    return ref_shear(ref_crop(x))


def ref_strong(x):
    return ref_axis_mask(ref_blur(ref_noise(ref_rotate(ref_flip(ref_basic(x))))))


def ref_sample_views(x):
    "What `Feeder_triple.__getitem__` returns for one sample: BA, BA, BA+NA, BA+NA (fresh draws each)."
    return ref_basic(x), ref_basic(x), ref_strong(x), ref_strong(x)


def ref_joint_mask(T, V, ratio=0.1):
    "The per-batch Random Mask: int(V*ratio) joints per frame drawn with `random.sample`, 1 = kept."
    mask = torch.ones(T, V)
    for t in range(T):
        mask[t, random.sample(range(V), int(V * ratio))] = 0.0
    return mask


def reference_batch(data, mask_token=torch.zeros(1)):
    "Four float32 view batches of `data` (N, C, T, V, M), the way the reference's loader and model build them."
    per_sample = [ref_sample_views(np.array(s)) for s in data]  # the DataLoader workers
    views = [torch.from_numpy(np.stack([s[i] for s in per_sample])).float() for i in range(4)]  # collate + .float()
    N, C, T, V, M = views[3].shape
    mask = ref_joint_mask(T, V).reshape(1, T, 1, V, 1).repeat(N, 1, M, 1, C)  # N, T, M, V, C
    q2 = views[3].permute(0, 2, 4, 3, 1) * mask
    q2[mask == 0] = mask_token
    views[3] = q2.permute(0, 4, 1, 3, 2)
    return views


# --- timing ----------------------------------------------------------------------------------------------------
def real_batch(n: int) -> np.ndarray:
    "The five shared NTU samples through the HiCLR pipeline, cycled to `n` samples (N, 3, 50, 25, 2) float32."
    samples = ntu_samples().x.numpy()
    return samples[np.arange(n) % len(samples)]


def primitive_profile(growing, x, generator, repeat: int) -> dict:
    "CPU ms per batch in each primitive's `sample`, `fold`, `transform`(`_`) and in `LinearSteps.result`."
    from skelnb.augment.base import LinearSteps

    spent = collections.defaultdict(float)

    def timed(fn, name):
        def run(*args, **kwargs):
            t0 = time.process_time()
            out = fn(*args, **kwargs)
            spent[name] += time.process_time() - t0
            return out

        return run

    for aug in growing.augmentations.values():
        for leaf in getattr(aug, "augmentations", [aug]):
            for method in ("sample", "fold", "transform", "transform_"):  # transform: what a value-only apply runs
                if hasattr(leaf, method):
                    setattr(leaf, method, timed(getattr(leaf, method), f"{type(leaf).__name__}.{method}"))
    original = LinearSteps.result
    LinearSteps.result = timed(original, "LinearSteps.result (folded gathers and 3x3 maps)")
    try:
        growing(x, generator)
        spent.clear()
        t0 = time.process_time()
        for _ in range(repeat):
            growing(x, generator)
        total = (time.process_time() - t0) / repeat
    finally:
        LinearSteps.result = original
    rows = {k: round(1e3 * v / repeat, 2) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])}
    rows["other (streams, composition, index building)"] = round(1e3 * total - sum(rows.values()), 2)
    return {"total_ms": round(1e3 * total, 2), "ms": rows}


def tune_allocator() -> str:
    """glibc malloc kept from returning large blocks to the OS (no page faults on every new 4 MB tensor): what
    PyTorch's CPU tuning guide gets from jemalloc/tcmalloc."""
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    ok = libc.mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1 and libc.mallopt(M_TRIM_THRESHOLD, (1 << 31) - 1) == 1
    if not ok:
        raise RuntimeError("mallopt refused the thresholds")
    return "glibc mallopt(M_MMAP_THRESHOLD=1 GiB, M_TRIM_THRESHOLD=2 GiB)"


def best_time(fn, repeat: int, sync=lambda: None, clock=time.perf_counter) -> float:
    "Smallest time of `repeat` calls after one warm-up call (`clock`: wall, or `time.process_time` for CPU time)."
    fn()
    sync()
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        sync()
        times.append(clock() - t0)
    return min(times)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument(
        "--repeat", type=int, default=5, help="timed calls of the reference (the batched views get 4x as many)"
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--allocator",
        choices=["default", "tuned"],
        default="default",
        help="tuned: glibc keeps large blocks (see tune_allocator); the reference runs under the same setting",
    )
    ap.add_argument("--no-cuda", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--profile", action="store_true", help="also time each primitive inside the batched views")
    a = ap.parse_args()
    from skelnb.augment.growing import GrowingAugmentation

    allocator = tune_allocator() if a.allocator == "tuned" else "default"
    torch.set_num_threads(a.threads)
    data = real_batch(a.batch)
    x = torch.from_numpy(data)
    random.seed(0)
    np.random.seed(0)
    growing = GrowingAugmentation()
    g = torch.Generator().manual_seed(0)
    # CPU time of this process (one thread): what one core spends, whatever else the machine runs; wall time beside it
    t_ref = best_time(lambda: reference_batch(data), a.repeat, clock=time.process_time)
    t_cpu = best_time(lambda: growing(x, g), 4 * a.repeat, clock=time.process_time)
    w_ref = best_time(lambda: reference_batch(data), a.repeat)
    w_cpu = best_time(lambda: growing(x, g), 4 * a.repeat)
    row = {
        "bench": "augment",
        "views": "BA, BA, BA+NA, BA+NA+Mask",
        "batch": a.batch,
        "shape": list(data.shape[1:]),
        "threads": a.threads,
        "allocator": allocator,
        "clock": "process CPU time, best of the timed calls",
        "reference_samples_per_s": round(a.batch / t_ref, 1),
        "batched_cpu_samples_per_s": round(a.batch / t_cpu, 1),
        "speedup_cpu": round(t_ref / t_cpu, 1),
        "reference_ms_per_batch": round(1e3 * t_ref, 2),
        "batched_cpu_ms_per_batch": round(1e3 * t_cpu, 2),
        "wall_reference_ms_per_batch": round(1e3 * w_ref, 2),
        "wall_batched_cpu_ms_per_batch": round(1e3 * w_cpu, 2),
        "wall_speedup_cpu": round(w_ref / w_cpu, 1),
        "load_average_1min": os.getloadavg()[0],
    }
    if a.profile:
        row["batched_cpu_profile"] = primitive_profile(GrowingAugmentation(), x, g, 4 * a.repeat)
    if torch.cuda.is_available() and not a.no_cuda:
        xc, gc = x.cuda(), torch.Generator(device="cuda").manual_seed(0)
        growing_cuda = GrowingAugmentation().to("cuda")
        t_gpu = best_time(lambda: growing_cuda(xc, gc), max(a.repeat, 20), sync=torch.cuda.synchronize)
        row.update(
            {
                "gpu": torch.cuda.get_device_name(),
                "batched_gpu_samples_per_s": round(a.batch / t_gpu, 1),
                "batched_gpu_ms_per_batch": round(1e3 * t_gpu, 3),
                "speedup_gpu_vs_reference_core": round(t_ref / t_gpu, 1),
            }
        )
    row["versions"] = versions()
    print(json.dumps(row))
    if not a.no_write:
        results = Path(__file__).parent / "results"
        results.mkdir(exist_ok=True)
        with open(results / "augment.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
