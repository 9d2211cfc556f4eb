"""Device paths on the CPU: nothing is created off the data's device, and the CUDA-only branches have CPU twins.

`no_implicit_device()` is the CPU stand-in for a run on `cuda:1`: the default device becomes `meta` while the model
and the data stay on the CPU, so a tensor made without an explicit device lands on `meta` and the first operation
that meets it with real data fails ("Tensor on device meta is not on the expected device cpu!"), and a
`torch.Generator` made without a device fails at once. On a GPU such a tensor or generator would sit on the CPU
beside data on the GPU. Every method's training step, every augmentation and growing strategy, feature extraction,
kNN, linear evaluation and the raw-coordinate floor run under it.
"""

import contextlib

import pytest
import torch
from torch.utils._device import DeviceContext

from skelnb.augment import (
    CenterCrop,
    CorruptOrShear,
    GrowingAugmentation,
    JointCorruption,
    PoseShear,
    TemporalRandomResizeCrop,
)
from skelnb.augment.growing import ENCODER_STRATEGIES, STRATEGIES
from skelnb.methods import METHODS, build_method

from conftest import ucla_split

pytestmark = pytest.mark.usefixtures("one_thread")

TINY_ENCODERS = {
    "stgcn": dict(hidden_channels=2, hidden_dim=8),
    "bigru": dict(hidden_size=8, num_layers=1),
    "dsta": dict(config=((8, 8, 4, 1), (8, 16, 4, 2))),
}
HALP_SMALL = dict(num_prototypes=3, prototype_keys=8, num_positives=5, halp_start_epoch=1, warmup_samples=3)
# each method with its paper encoder (tiny) and queues small enough that HaLP fits and generates within 4 steps
METHOD_SETTINGS = {
    "moco": dict(encoder="stgcn", queue_size=16, dim=8),
    "hiclr": dict(encoder="stgcn", queue_size=16, dim=8),
    "halp": dict(encoder="bigru", queue_size=16) | HALP_SMALL,
    "hiclr_halp": dict(encoder="stgcn", queue_size=16, dim=8) | HALP_SMALL,
    "cmd": dict(encoder="bigru", queue_size=16, topk=4),
    "halp_cmd": dict(encoder="bigru", queue_size=16, topk=4) | HALP_SMALL,
}


class DeviceGenerator(torch.Generator):
    "A `torch.Generator` that must be given its device."

    def __new__(cls, device=None):
        if device is None:
            raise RuntimeError("torch.Generator() without a device: name it (the data's, or the CPU on purpose)")
        return super().__new__(cls, device)


class MetaDefault(DeviceContext):
    """`torch.device("meta")` as a context, except that `torch.as_tensor` of a tensor keeps that tensor's device (as it
    does whatever the default device: only new data lands on the default device)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is torch.as_tensor and args and torch.is_tensor(args[0]) and (kwargs or {}).get("device") is None:
            return func(*args, **(kwargs or {}))
        return super().__torch_function__(func, types, args, kwargs)


@contextlib.contextmanager
def no_implicit_device():
    "Default device `meta` and `torch.Generator` needing its device: anything made without a device fails loudly."
    generator = torch.Generator
    torch.Generator = DeviceGenerator
    try:
        with MetaDefault("meta"):
            yield
    finally:
        torch.Generator = generator


def test_the_guard_catches_a_tensor_and_a_generator_made_without_a_device():
    x = torch.ones(3)
    with no_implicit_device():
        with pytest.raises(RuntimeError, match="meta"):
            x + torch.arange(3)
        with pytest.raises(RuntimeError, match="without a device"):
            torch.Generator()
        assert (x + torch.arange(3, device=x.device)).tolist() == [1, 2, 3]
        assert torch.as_tensor(x) is x and torch.as_tensor([1.0]).device.type == "meta"
        torch.Generator(x.device)
    assert torch.Generator is not DeviceGenerator and torch.zeros(1).device.type == "cpu"


def method(name: str, **extra):
    settings = METHOD_SETTINGS[name] | extra
    torch.manual_seed(0)
    return build_method(name, layout="nw_ucla", encoder_args=TINY_ENCODERS[settings["encoder"]], **settings)


def steps(model, batch, n: int = 4) -> dict:
    "`n` training steps with their backward passes, under `no_implicit_device`; the last step's scalars."
    g = torch.Generator("cpu").manual_seed(0)
    with no_implicit_device():
        for _ in range(n):
            out = model.training_step(batch, g)
            out["loss"].backward()
    return {k: float(v.detach()) for k, v in out.items()}


def test_every_method_is_covered():
    assert set(METHOD_SETTINGS) == set(METHODS)


@pytest.mark.parametrize("name", list(METHOD_SETTINGS))
def test_training_step_creates_nothing_off_device(batch, name):
    out = steps(method(name), batch)
    assert all(torch.isfinite(torch.tensor(v)) for v in out.values()), out
    if "halp" in name:
        assert out["generated"] == 1.0  # past the warm-up: the prototypes were fitted and positives generated


def test_hiclr_nearest_neighbour_mining_creates_nothing_off_device(batch):
    model = method("hiclr")
    model.set_epoch(model.nnm_epoch)  # the official recipe's mined positives from this epoch on
    assert model.uses_nnm
    steps(model, batch, 2)


def test_dsta_step_creates_nothing_off_device(batch):
    "HiCLR's other encoder, DSTA-Net (tiny)."
    steps(method("hiclr", encoder="dsta"), batch, 2)


@pytest.mark.parametrize("strong", ["Mask", "DAE", "SkeleAdaIN"])
@pytest.mark.parametrize("stream", ["joint", "bone", "motion"])
def test_growing_strategies_create_nothing_off_device(batch, strong, stream):
    "HiCLR's Table 1 settings: BA|NA|Strong with each strong augmentation (DAE acts in the encoder), each stream."
    steps(method("hiclr", strong=strong, stream=stream), batch, 2)


@pytest.mark.parametrize("sets", ["NA|BA|Mask", "Mask|BA|NA", "BA+NA|Mask", "BA|NA+Mask"])
def test_growing_orders_create_nothing_off_device(batch, sets):
    "HiCLR's Table 2 orders of the sets."
    steps(method("hiclr", sets=sets), batch, 1)


AUGMENTATIONS = {name: make for name, make in STRATEGIES.items() if name not in ENCODER_STRATEGIES} | {
    "TemporalRandomResizeCrop": lambda layout: TemporalRandomResizeCrop(),
    "CenterCrop": lambda layout: CenterCrop(),
    "JointCorruption": lambda layout: JointCorruption(),
    "PoseShear": lambda layout: PoseShear(),
    "CorruptOrShear": lambda layout: CorruptOrShear(),
}


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
@pytest.mark.parametrize("seeded", [True, False])
def test_augmentations_create_nothing_off_device(batch, name, seeded):
    "Each augmentation, with a generator and with torch's global one (None), forward and replayed from its params."
    aug = AUGMENTATIONS[name](batch.layout)
    with no_implicit_device():
        g = torch.Generator(batch.x.device).manual_seed(0) if seeded else None
        y, params = aug(batch, generator=g, return_params=True)
        again = aug.apply(batch, params)
        y.x.sum().item()
    assert y.x.device == batch.x.device and torch.equal(again.x, y.x)


def test_growing_augmentation_creates_nothing_off_device(batch):
    aug = GrowingAugmentation("BA|NA|Mask|SkeleAdaIN", layout=batch.layout)
    with no_implicit_device():
        views = aug(batch, torch.Generator("cpu").manual_seed(0))
        torch.stack([v.x for v in views.views]).sum().item()


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    "Two small real NW-UCLA splits: subjects 1-2 (view 1) to train, subjects 3-4 to test."
    root = tmp_path_factory.mktemp("devices")
    train = ucla_split(root / "train", subjects=(1, 2))
    test = ucla_split(root / "test", subjects=(3, 4))
    return train, test


@pytest.mark.parametrize("encoder", ["stgcn", "bigru"])
def test_evaluation_creates_nothing_off_device(splits, encoder):
    "Feature extraction, kNN, linear evaluation (the BiGRU with HaLP's crop) and the raw floor under the guard."
    from skelnb.encoders import build_encoder
    from skelnb.evaluate.baselines import raw_floor
    from skelnb.evaluate.knn import evaluate_knn
    from skelnb.evaluate.linear import evaluate_linear

    torch.manual_seed(0)
    model = build_encoder(encoder, num_class=10, layout="nw_ucla", **TINY_ENCODERS[encoder])
    train, test = splits
    short = dict(epochs=2, milestones=(1,), eval_every=1)
    recipe = "halp" if encoder == "bigru" else "hiclr"
    with no_implicit_device():
        knn = evaluate_knn(model, train, test, k=(1, 5), temperature=0.1)
        linear = evaluate_linear(model, train, test, recipe=recipe, standardize="train", **short)
        probe = evaluate_linear(model, train, test, recipe=recipe, standardize="batchnorm", cache_features=False,
                                **short)  # fmt: skip
        floors = [raw_floor(train, test, protocol=p, recipe=recipe, **short) for p in ("knn", "linear")]
    for result in (knn, linear, probe):
        assert 0 <= result.runs[0]["last"]["top1"] <= 100
    assert all("top1" in str(f) for f in floors)


# --- the CUDA-only branches, on the CPU -----------------------------------------------------------------------------
BF16_STEPS, BF16_TOLERANCE = 4, 0.05  # observed on these tiny models: at most 0.034 (HiCLR+HaLP), 0.02 (MoCo)


def train_losses(model, batch, *, bf16: bool, steps: int = BF16_STEPS) -> list[float]:
    "The losses of `steps` SGD steps (lr 0.01, momentum 0.9), each under bf16 autocast on the CPU when `bf16`."
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator("cpu").manual_seed(0)
    losses = []
    for _ in range(steps):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model.training_step(batch, g)
        optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        optimizer.step()
        losses.append(out["loss"].item())
    return losses


@pytest.mark.parametrize("name", list(METHOD_SETTINGS))
def test_bf16_autocast_steps_stay_finite_and_near_float32(batch, name):
    """A few steps of each method under `torch.autocast("cpu", dtype=torch.bfloat16)` (the trainer's `bf16`) from the
    same weights and draws as float32: every loss finite and within 5 % (or 0.05 absolute below 1) of float32's.
    HaLP's geometry runs in float32 inside autocast: in bf16 its prototype fit gave non-finite prototypes."""
    reference = train_losses(method(name), batch, bf16=False)
    losses = train_losses(method(name), batch, bf16=True)
    assert all(torch.isfinite(torch.tensor(losses))), losses
    for step, (a, b) in enumerate(zip(reference, losses)):
        assert abs(a - b) <= BF16_TOLERANCE * max(abs(a), 1.0), (step, reference, losses)


def test_compile_encoders_compiles_every_trained_encoder():
    from skelnb.train import compile_encoders

    for name in METHOD_SETTINGS:
        model = method(name)
        want = ["encoder_q", "encoder_q_motion", "encoder_q_bone"] if "cmd" in name else ["encoder_q"]
        assert compile_encoders(model) == want, name
        assert all(hasattr(getattr(model, n).forward, "_torchdynamo_orig_callable") for n in want)


def compiled_matches_eager(encoder_name: str, batch):
    "Forward and backward of a tiny encoder (no dropout), compiled by `torch.compile` (inductor) and eager."
    from skelnb.augment import CenterCrop
    from skelnb.encoders import build_encoder

    torch.manual_seed(0)
    extra = {} if encoder_name == "bigru" else dict(dropout=0.0)
    encoder = build_encoder(encoder_name, num_class=10, layout="nw_ucla", **TINY_ENCODERS[encoder_name], **extra)
    x = CenterCrop()(batch).x if encoder_name == "bigru" else batch.x  # the BiGRU's 64 frames
    results = []
    for forward in (encoder, torch.compile(encoder)):
        encoder.zero_grad(set_to_none=True)
        out = forward(x)
        out.square().sum().backward()
        results.append((out.detach(), [p.grad.clone() for p in encoder.parameters()]))
    (eager, eager_grads), (compiled, compiled_grads) = results
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-5)
    for a, b in zip(compiled_grads, eager_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)  # a gradient that is 0 in exact arithmetic: noise


def test_compiled_bigru_matches_eager(batch):
    "HaLP's and CMD's encoder (the cheapest to compile: ~15 s on one core) compiled equals eager."
    compiled_matches_eager("bigru", batch)


@pytest.mark.slow
@pytest.mark.parametrize("encoder_name", ["stgcn", "dsta"])
def test_compiled_graph_encoders_match_eager(batch, encoder_name):
    "ST-GCN and DSTA-Net: 1.5-5 minutes of inductor compilation on a shared core, hence slow."
    compiled_matches_eager(encoder_name, batch)


def test_pretrain_amp_and_compile_flags_end_to_end(splits, tmp_path, monkeypatch):
    "`skelnb pretrain --amp true --compile true` on the CPU: each step under bf16 autocast, the encoder compiled."
    import json

    from skelnb import train as trainer
    from skelnb.cli import main
    from skelnb.methods import HaLP

    autocast, compiled = [], []
    step, compile_encoders = HaLP.training_step, trainer.compile_encoders
    monkeypatch.setattr(
        HaLP,
        "training_step",
        lambda self, b, g=None: autocast.append(torch.is_autocast_enabled("cpu")) or step(self, b, g),
    )
    monkeypatch.setattr(trainer, "compile_encoders", lambda m: compiled.extend(compile_encoders(m)) or compiled)
    out = tmp_path / "run"
    line = f"--method halp --encoder bigru --data {splits[0]} --output {out} --batch-size 8 --epochs 1 --max-steps 2"
    line += " --amp true --compile true --device cpu --progress false --checkpoint-every 0"
    line += " --queue_size 16 --num_prototypes 3 --prototype_keys 8 --encoder_hidden_size 8 --encoder_num_layers 1"
    assert main(["pretrain", *line.split()]) == 0
    assert autocast == [True, True] and compiled == ["encoder_q"]
    assert json.loads((out / "run.json").read_text())["parameters"]["bf16"] is True


@pytest.mark.slow
@pytest.mark.parametrize("name", list(METHOD_SETTINGS))
def test_compiled_training_step_matches_eager(batch, name):
    "A training step with every trained encoder compiled (`compile_encoders`, as `--compile`) equals the eager one."
    from skelnb.train import compile_encoders

    no_dropout = {"stgcn": dict(dropout=0.0), "bigru": {}}[METHOD_SETTINGS[name]["encoder"]]
    outs = []
    for compiled in (False, True):
        encoder_args = TINY_ENCODERS[METHOD_SETTINGS[name]["encoder"]] | no_dropout
        torch.manual_seed(0)
        model = build_method(name, layout="nw_ucla", encoder_args=encoder_args, **METHOD_SETTINGS[name])
        if compiled:
            compile_encoders(model)
        g = torch.Generator("cpu").manual_seed(0)
        for _ in range(4):  # HaLP past its warm-up: the prototypes fitted, positives generated
            out = model.training_step(batch, g)
        out["loss"].backward()
        grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        outs.append((out["loss"].detach(), grads))
    (loss, grads), (compiled_loss, compiled_grads) = outs
    torch.testing.assert_close(compiled_loss, loss, rtol=1e-4, atol=1e-5)
    for a, b in zip(compiled_grads, grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)  # a gradient that is 0 in exact arithmetic: noise
