"""Training throughput of the encoders in skelnb.encoders: forward + backward samples per second.
    python bench/encoders.py [--repeat 2] [--threads N] [--cpu-batch-gru 8] [--cpu-batch-graph 128] [--no-cuda] [--no-write]
                             [--only stgcn,dsta,bigru,stepwise]

Encoders (each one that exists in skelnb.encoders is measured; a missing module is reported and skipped):
- `stgcn` (`skelnb.encoders.stgcn.STGCN`) and `dsta` (`skelnb.encoders.dsta.DSTANet`): batch 128, T = 50, M = 2,
  NTU-25, 60-way head, training mode;
- `bigru` (`skelnb.encoders.bigru.BiGRU`, the default forward-scanning mode): batch 64, T = 64, NTU-25, 60-way head.
  On a CPU the BiGRU is ~6 GFLOP/sample forward, so its CPU figures use `--cpu-batch-gru` (8 by default; said so in
  the JSON line as `batch`);
- `bigru_stepwise` (CPU only): the same numerics the reference's way, `nn.GRU(bidirectional=True)` called on one frame
  at a time with the hidden state carried (`skelnb.encoders.bigru.stepwise_features`, plus the head), against the
  default whole-sequence path at the same batch. The reference also grows its output with `torch.cat` every frame;
  that cost is left out here, so the speed-up quoted is a lower bound.

One step = forward, a scalar loss (mean of the logits' log-sum-exp), backward, gradients zeroed. The figure is the
median over `--repeat` timed steps after one warm-up step. CPU: torch threads = all cores unless `--threads`
(on a loaded machine, fewer threads than cores avoids OpenMP oversubscription, which can slow a step tenfold). With CUDA (and not
`--no-cuda`) each encoder is also timed on the GPU in float32, with bf16 autocast, with channels_last (graph
encoders only: the GRU has no 4-D tensors) and with `torch.compile` (default mode). One JSON line per measurement is
printed and appended to bench/results/encoders.jsonl.
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
    if device.type == "cuda": torch.cuda.synchronize()


def time_steps(step, device, repeat):
    "Median seconds of `repeat` calls of `step` after one warm-up call."
    step(); sync(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter(); step(); sync(device)
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
        with open(RESULTS, "a") as f: f.write(json.dumps(line | {"versions": versions()}) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cpu-batch-gru", type=int, default=8)
    parser.add_argument("--cpu-batch-graph", type=int, default=128)
    parser.add_argument("--only", default="stgcn,dsta,bigru,stepwise")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch CPU threads (default: all cores)")
    parser.add_argument("--no-cuda", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    torch.set_num_threads(args.threads)
    cpu, write = torch.device("cpu"), not args.no_write
    use_cuda = torch.cuda.is_available() and not args.no_cuda

    for name in ("stgcn", "dsta", "bigru"):
        if name not in only: continue
        model, why = build(name)
        if model is None:
            record({"encoder": name, "skipped": why}, write); continue
        shape, gpu_batch = ENCODERS[name][2], ENCODERS[name][3]
        params = sum(p.numel() for p in model.parameters())
        model.train()
        batch = args.cpu_batch_gru if name == "bigru" else args.cpu_batch_graph
        x = torch.randn(batch, *shape)
        seconds = time_steps(training_step(model, x), cpu, args.repeat)
        record({"encoder": name, "device": "cpu", "threads": torch.get_num_threads(), "variant": "float32",
                "batch": batch, "shape": list(shape), "params": params, "ms_per_step": round(seconds * 1e3, 1),
                "samples_per_s": round(batch / seconds, 1)}, write)

        if name == "bigru" and "stepwise" in only:
            from skelnb.encoders.bigru import as_reference_gru, stepwise_features
            gru = as_reference_gru(model).train()
            step_forward = lambda inp: model.fc(stepwise_features(model, inp, gru))
            def stepwise_step():
                step_forward(x).logsumexp(-1).mean().backward()
                model.zero_grad(set_to_none=True); gru.zero_grad(set_to_none=True)
            stepwise_seconds = time_steps(stepwise_step, cpu, args.repeat)
            record({"encoder": "bigru_stepwise", "device": "cpu", "threads": torch.get_num_threads(),
                    "variant": "float32, nn.GRU(bidirectional) on one frame per call", "batch": batch,
                    "shape": list(shape), "ms_per_step": round(stepwise_seconds * 1e3, 1),
                    "samples_per_s": round(batch / stepwise_seconds, 1),
                    "speedup_of_default": round(stepwise_seconds / seconds, 2)}, write)

        if not use_cuda: continue
        gpu = torch.device("cuda")
        variants = [("float32", {}), ("bf16 autocast", {"autocast_dtype": torch.bfloat16})]
        if name != "bigru": variants.append(("channels_last", {"channels_last": True}))
        variants.append(("torch.compile", {"compile": True}))
        for label, opts in variants:
            model_gpu, _ = build(name)
            model_gpu = model_gpu.to(gpu).train()
            xg = torch.randn(gpu_batch, *shape, device=gpu)
            if opts.get("channels_last"):  # (N, C, T, V, M) has no 4-D layout; the graph encoders' 4-D activations do
                model_gpu = model_gpu.to(memory_format=torch.channels_last)
            forward = torch.compile(model_gpu) if opts.get("compile") else None
            try:
                seconds = time_steps(training_step(model_gpu, xg, opts.get("autocast_dtype"), forward), gpu,
                                     max(args.repeat, 5))
                record({"encoder": name, "device": torch.cuda.get_device_name(), "variant": label, "batch": gpu_batch,
                        "shape": list(shape), "ms_per_step": round(seconds * 1e3, 2),
                        "samples_per_s": round(gpu_batch / seconds, 1)}, write)
            except Exception as e:  # a variant that fails (e.g. compile without a compiler) is reported, not fatal
                record({"encoder": name, "device": "cuda", "variant": label, "failed": f"{type(e).__name__}: {e}"[:300]}, write)
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
                model_gpu.zero_grad(set_to_none=True); gru.zero_grad(set_to_none=True)
            seconds = time_steps(gpu_stepwise_step, gpu, max(args.repeat, 5))
            record({"encoder": "bigru_stepwise", "device": torch.cuda.get_device_name(), "variant": "float32",
                    "batch": gpu_batch, "shape": list(shape), "ms_per_step": round(seconds * 1e3, 2),
                    "samples_per_s": round(gpu_batch / seconds, 1)}, write)


if __name__ == "__main__":
    main()
