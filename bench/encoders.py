"""Training throughput of the encoders in skelnb.encoders: forward + backward samples per second.
    python bench/encoders.py [--repeat 2] [--threads N] [--cpu-batch-gru 8] [--cpu-batch-graph 128] [--no-cuda]
                             [--no-write]
                             [--only stgcn,dsta,bigru,stepwise,roofline]

Encoders (each one that exists in skelnb.encoders is measured; a missing module is reported and skipped):
- `stgcn` (`skelnb.encoders.stgcn.STGCN`) and `dsta` (`skelnb.encoders.dsta.DSTANet`): batch 128, T = 50, M = 2,
  NTU-25, 60-way head, training mode;
- `bigru` (`skelnb.encoders.bigru.BiGRU`, the default forward-scanning mode): batch 64, T = 64, NTU-25, 60-way head.
  On a CPU the BiGRU is ~6 GFLOP/sample forward (~17 forward + backward), so its CPU figures use `--cpu-batch-gru`
  (8 by default, ~3 s a step on one core; the issue's batch is 64: `--cpu-batch-gru 64`, ~25 s a step, ~50 s for the
  stepwise loop); the JSON line says `batch` and `issue_batch`. The default path is six whole-sequence `nn.GRU`
  calls (PyTorch's GRU kernel on a CPU, cuDNN on a GPU);
- `bigru_stepwise` (CPU only): the same numerics the reference's way, `nn.GRU(bidirectional=True)` called on one frame
  at a time with the hidden state carried (`skelnb.encoders.bigru.stepwise_features`, plus the head), against the
  default whole-sequence path at the same batch. The reference also grows its output with `torch.cat` every frame;
  that cost is left out here, so the speed-up quoted is a lower bound.
- `roofline` (CPU, with `bigru` and `stepwise`): the FLOPs of one frame (per sample, forward and backward, split into
  the thin per-frame recurrent products and the rest), each path's achieved GFLOPS, this machine's sgemm GFLOPS at the
  shapes each path uses (same thread count), and the bound on the speed-up they imply: the stepwise loop's time if
  every product ran at its measured sgemm rate, over the default path's such time, and the ceiling: the measured
  stepwise time over the default path's floor. Nothing else (elementwise gate math, Python overhead) is counted, so
  the ceiling is the most "same numerics, better kernels" can give over the loop on this CPU.

One step = forward, a scalar loss (mean of the logits' log-sum-exp), backward, gradients zeroed. The figure is the
median over `--repeat` timed steps after one warm-up step. CPU: torch threads = all cores unless `--threads`
(on a loaded machine, fewer threads than cores avoids OpenMP oversubscription, which can slow a step tenfold).
With CUDA (and not `--no-cuda`) each encoder is also timed on the GPU in float32, with bf16 autocast, with
channels_last (graph encoders only: the GRU has no 4-D tensors) and with `torch.compile` (default mode). One JSON line
per measurement is printed and appended to bench/results/encoders.jsonl.
"""

import argparse
import importlib
import json
import os
import statistics
import time
from pathlib import Path

import torch

from skelnb.core import versions

RESULTS = Path(__file__).parent / "results" / "encoders.jsonl"
# name -> (module, class, input shape without the batch (C, T, V, M), batch on GPU)
ENCODERS = {
    "stgcn": ("skelnb.encoders.stgcn", "STGCN", (3, 50, 25, 2), 128),
    "dsta": ("skelnb.encoders.dsta", "DSTANet", (3, 50, 25, 2), 128),
    "bigru": ("skelnb.encoders.bigru", "BiGRU", (3, 64, 25, 2), 64),
}


def build(name):
    "The encoder with a 60-way head on NTU-25, or None with the reason when its module is not there."
    module, cls, shape, batch = ENCODERS[name]
    try:
        encoder_class = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as e:
        return None, f"{module}.{cls} not available: {e}"
    return encoder_class(num_class=60), None


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(step, device, repeat):
    "Median seconds of `repeat` calls of `step` after one warm-up call."
    step()
    sync(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def training_step(model, x, autocast_dtype=None, forward=None):
    forward = forward or model

    def step():
        with torch.autocast(x.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            out = forward(x)
        out.float().logsumexp(-1).mean().backward()
        model.zero_grad(set_to_none=True)

    return step


def record(line, write):
    line = {"bench": "encoders", **line}
    print(json.dumps(line), flush=True)
    if write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with open(RESULTS, "a") as f:
            f.write(json.dumps(line | {"versions": versions()}) + "\n")


def gemm_gflops(m, k, n, repeat=3):
    "sgemm GFLOPS of (m, k) @ (k, n) in float32 on the CPU at the current thread count (median of `repeat`, warmed up)."
    a, b = torch.randn(m, k), torch.randn(k, n)
    return 2 * m * k * n / time_steps(lambda: a @ b, torch.device("cpu"), repeat) / 1e9


def bigru_roofline(model, batch, frames, default_seconds, stepwise_seconds):
    """FLOPs of the BiGRU per frame and sample, the two paths' achieved GFLOPS, sgemm GFLOPS at their shapes, the bound.

    Per frame, sample, layer and direction (input width I, hidden H): forward 2·3H·I (input projection) + 2·3H·H
    (recurrent product); backward twice each (input gradient and weight gradient). The recurrent product and the
    state gradient through it (`dgates W_hh`) are thin products (inner/outer size = batch) in every implementation;
    the default path does the rest as products over all batch·frames rows, the stepwise loop as thin ones."""
    H, I0, L = model.hidden_size, model.input_size, model.num_layers
    widths = [I0] + [2 * H] * (L - 1)
    proj = sum(2 * 2 * 3 * H * i for i in widths)  # both directions' input projections, forward
    rec = 2 * L * 2 * 3 * H * H  # both directions' recurrent products, forward
    flops = {
        "forward_input_projection": proj,
        "forward_recurrent": rec,
        "backward_input_side": 2 * proj,
        "backward_state_gradient": rec,
        "backward_recurrent_weight_gradient": rec,
    }
    per_frame = sum(flops.values())
    rows = batch * frames
    rates = {  # GFLOPS at the shapes (m, k, n) each product has; the widest input (2H) stands for all layers
        "thin_recurrent  (batch, H, 3H)": gemm_gflops(batch, H, 3 * H),
        "thin_projection (batch, 2H, 3H)": gemm_gflops(batch, 2 * H, 3 * H),
        "thin_weight_grad (3H, batch, H)": gemm_gflops(3 * H, batch, H),
        "wide_projection (batch*T, 2H, 3H)": gemm_gflops(rows, 2 * H, 3 * H),
        "wide_weight_grad (3H, batch*T, H)": gemm_gflops(3 * H, rows, H),
    }
    r = list(rates.values())
    thin_rec, thin_proj, thin_wgrad, wide_proj, wide_wgrad = r
    # seconds per frame and sample if every product ran at its sgemm rate (input-side backward: half dX, half dW)
    default_floor = (
        2 * rec / thin_rec + proj / wide_proj + proj / wide_proj + proj / wide_wgrad + rec / wide_wgrad
    ) / 1e9
    stepwise_floor = (
        2 * rec / thin_rec + proj / thin_proj + proj / thin_proj + proj / thin_wgrad + rec / thin_wgrad
    ) / 1e9
    total = per_frame * batch * frames
    return {
        "encoder": "bigru_roofline",
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "batch": batch,
        "frames": frames,
        "flops_per_frame_per_sample": flops,
        "flops_per_frame_total": per_frame,
        "gflop_per_step_fwd_bwd": round(total / 1e9, 2),
        "thin_share_in_every_path": round(2 * rec / per_frame, 3),
        "achieved_gflops": {
            "default": round(total / default_seconds / 1e9, 1),
            "stepwise": round(total / stepwise_seconds / 1e9, 1),
        },
        "sgemm_gflops": {k: round(v, 1) for k, v in rates.items()},
        "floor_ms": {
            "default": round(default_floor * batch * frames * 1e3, 1),
            "stepwise": round(stepwise_floor * batch * frames * 1e3, 1),
        },
        "default_share_of_floor": round(default_floor * batch * frames / default_seconds, 2),
        "speedup_bound_same_numerics": round(stepwise_floor / default_floor, 2),
        "speedup_ceiling_vs_measured_stepwise": round(stepwise_seconds / (default_floor * batch * frames), 2),
        "speedup_measured": round(stepwise_seconds / default_seconds, 2),
        "note": (
            "floors: every product at its measured sgemm rate, gate math and Python overhead not counted; "
            "bound = stepwise floor / default floor (both paths at their best); ceiling = measured stepwise "
            "time / default floor (the most any same-numerics default path can gain over the loop as measured)"
        ),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cpu-batch-gru", type=int, default=8)
    parser.add_argument("--cpu-batch-graph", type=int, default=128)
    parser.add_argument("--only", default="stgcn,dsta,bigru,stepwise,roofline")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="torch CPU threads (default: all cores)"
    )
    parser.add_argument("--no-cuda", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    torch.set_num_threads(args.threads)
    cpu, write = torch.device("cpu"), not args.no_write
    use_cuda = torch.cuda.is_available() and not args.no_cuda

    for name in ("stgcn", "dsta", "bigru"):
        if name not in only:
            continue
        model, why = build(name)
        if model is None:
            record({"encoder": name, "skipped": why}, write)
            continue
        shape, gpu_batch = ENCODERS[name][2], ENCODERS[name][3]
        params = sum(p.numel() for p in model.parameters())
        model.train()
        batch = args.cpu_batch_gru if name == "bigru" else args.cpu_batch_graph
        x = torch.randn(batch, *shape)
        seconds = time_steps(training_step(model, x), cpu, args.repeat)
        line = {
            "encoder": name,
            "device": "cpu",
            "threads": torch.get_num_threads(),
            "variant": "float32",
            "batch": batch,
            "shape": list(shape),
            "params": params,
            "ms_per_step": round(seconds * 1e3, 1),
            "samples_per_s": round(batch / seconds, 1),
        }
        if name == "bigru":
            line |= {"issue_batch": gpu_batch}
        record(line, write)

        if name == "bigru" and "stepwise" in only:
            from skelnb.encoders.bigru import as_reference_gru, stepwise_features

            gru = as_reference_gru(model).train()
            step_forward = lambda inp: model.fc(stepwise_features(model, inp, gru))

            def stepwise_step():
                step_forward(x).logsumexp(-1).mean().backward()
                model.zero_grad(set_to_none=True)
                gru.zero_grad(set_to_none=True)

            stepwise_seconds = time_steps(stepwise_step, cpu, args.repeat)
            record(
                {
                    "encoder": "bigru_stepwise",
                    "device": "cpu",
                    "threads": torch.get_num_threads(),
                    "variant": "float32, nn.GRU(bidirectional) on one frame per call",
                    "batch": batch,
                    "shape": list(shape),
                    "ms_per_step": round(stepwise_seconds * 1e3, 1),
                    "samples_per_s": round(batch / stepwise_seconds, 1),
                    "speedup_of_default": round(stepwise_seconds / seconds, 2),
                },
                write,
            )
            if "roofline" in only:
                record(bigru_roofline(model, batch, shape[1], seconds, stepwise_seconds), write)

        if not use_cuda:
            continue
        gpu = torch.device("cuda")
        variants = [("float32", {}), ("bf16 autocast", {"autocast_dtype": torch.bfloat16})]
        if name != "bigru":
            variants.append(("channels_last", {"channels_last": True}))
        variants.append(("torch.compile", {"compile": True}))
        for label, opts in variants:
            model_gpu, _ = build(name)
            model_gpu = model_gpu.to(gpu).train()
            xg = torch.randn(gpu_batch, *shape, device=gpu)
            if opts.get("channels_last"):  # (N, C, T, V, M) has no 4-D layout; the graph encoders' 4-D activations do
                model_gpu = model_gpu.to(memory_format=torch.channels_last)
            forward = torch.compile(model_gpu) if opts.get("compile") else None
            try:
                seconds = time_steps(
                    training_step(model_gpu, xg, opts.get("autocast_dtype"), forward), gpu, max(args.repeat, 5)
                )
                record(
                    {
                        "encoder": name,
                        "device": torch.cuda.get_device_name(),
                        "variant": label,
                        "batch": gpu_batch,
                        "shape": list(shape),
                        "ms_per_step": round(seconds * 1e3, 2),
                        "samples_per_s": round(gpu_batch / seconds, 1),
                    },
                    write,
                )
            except Exception as e:  # a variant that fails (e.g. compile without a compiler) is reported, not fatal
                record(
                    {"encoder": name, "device": "cuda", "variant": label, "failed": f"{type(e).__name__}: {e}"[:300]},
                    write,
                )
            del model_gpu, forward
            torch.cuda.empty_cache()

        if name == "bigru" and "stepwise" in only:
            from skelnb.encoders.bigru import as_reference_gru, stepwise_features

            model_gpu, _ = build(name)
            model_gpu = model_gpu.to(gpu).train()
            gru = as_reference_gru(model_gpu).train()
            xg = torch.randn(gpu_batch, *shape, device=gpu)

            def gpu_stepwise_step():
                model_gpu.fc(stepwise_features(model_gpu, xg, gru)).logsumexp(-1).mean().backward()
                model_gpu.zero_grad(set_to_none=True)
                gru.zero_grad(set_to_none=True)

            seconds = time_steps(gpu_stepwise_step, gpu, max(args.repeat, 5))
            record(
                {
                    "encoder": "bigru_stepwise",
                    "device": torch.cuda.get_device_name(),
                    "variant": "float32",
                    "batch": gpu_batch,
                    "shape": list(shape),
                    "ms_per_step": round(seconds * 1e3, 2),
                    "samples_per_s": round(gpu_batch / seconds, 1),
                },
                write,
            )


if __name__ == "__main__":
    main()
