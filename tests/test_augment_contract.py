"""The batch contract of the augmentations (issue 8): the valid frame counts travel with the batch through every kind of
chain, so a HaLP crop (`TemporalRandomResizeCrop`, `CenterCrop`) placed anywhere never selects a padded frame, and
draws and outputs exactly what it does alone from the same generator.

The sequences are one real NTU recording through HaLP's pipeline (300 stored frames), zero-padded after 37, 64, 150
and 300 frames. "Never selects a padded frame" is checked twice: the drawn segment `[start, start + length)` lies
inside the valid frames, and the output does not change when the padding holds NaN instead of zeros (a padded frame
read even with weight 0 would turn the output into NaN)."""

import pytest
import torch

from skelnb.augment.base import Augmentation, Compose, Params
from skelnb.augment.growing import GrowingAugmentation
from skelnb.augment.halp import (
    CenterCrop,
    CorruptOrShear,
    PoseShear,
    TemporalRandomResizeCrop,
    halp_view_augmentation,
)
from skelnb.augment.hiclr import GaussianNoise, Rotate, Shear, TemporalCrop, normal_augmentation
from skelnb.batch import SkeletonBatch
from skelnb.core import shared_data
from skelnb.layouts import NTU25

COUNTS = torch.tensor([37, 64, 150, 300])
CROPS = {
    "random crop-resize": lambda: TemporalRandomResizeCrop(),
    "linear-eval crop": lambda: TemporalRandomResizeCrop(0.5, 1.0),
    "short crops": lambda: TemporalRandomResizeCrop(0.1, 1.0, min_frames=8, out_frames=50),
    "centre crop": lambda: CenterCrop(),
}


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def padded():
    "A real 300-frame HaLP sample (S001C003P008R002A058, two bodies) four times, padded after COUNTS: (zero, NaN)."
    from skelnb.data.samples import ntu_sample

    if shared_data("ntu_samples") is None:
        pytest.skip("shared data (ntu_samples) absent")
    data, _ = ntu_sample("S001C003P008R002A058", "halp")
    x = torch.from_numpy(data)[None].expand(len(COUNTS), -1, -1, -1, -1)
    valid = (torch.arange(x.shape[2]) < COUNTS[:, None]).view(len(COUNTS), 1, -1, 1, 1)
    return SkeletonBatch(x * valid, COUNTS), SkeletonBatch(torch.where(valid, x, torch.nan), COUNTS)


def assert_inside_valid(p: Params, counts=COUNTS):
    assert torch.equal(p["num_frames"], counts)
    assert ((p["start"] >= 0) & (p["length"] >= 1) & (p["start"] + p["length"] <= counts)).all(), (
        p["start"],
        p["length"],
    )


# ------------------------------------------------------------------------------------------------ alone
@pytest.mark.parametrize("name", CROPS)
def test_a_crop_alone_reads_only_valid_frames(padded, name):
    zero, nan = padded
    crop = CROPS[name]()
    for seed in range(5):
        out, p = crop(zero, gen(seed), return_params=True)
        assert_inside_valid(p)
        assert isinstance(out, SkeletonBatch) and torch.equal(out.num_frames, torch.full((4,), crop.out_frames))
        assert torch.isfinite(out.x).all() and torch.equal(crop(nan, gen(seed)).x, out.x)
        assert torch.equal(crop.apply(zero, p).x, out.x)  # replay


def test_a_plain_tensor_counts_every_frame(padded):
    zero, _ = padded
    y, p = TemporalRandomResizeCrop()(zero.x, gen(0), return_params=True)
    assert isinstance(y, torch.Tensor) and torch.equal(p["num_frames"], torch.full((4,), 300))


# ------------------------------------------------------------------------------------------------ every kind of chain
def alone_then(steps_after):
    "What the chain [crop, *steps_after] must give: the crop alone, then each later step, drawing from one generator."

    def expected(crop, batch, seed):
        g = gen(seed)
        out, crop_params = crop(batch, g, return_params=True)
        for step in steps_after:
            out = step(out, g)
        return out, crop_params

    return expected


CHAINS = {  # name: (build the chain around a crop, where its params are, what it must equal)
    "Compose": (lambda c: Compose([c]), lambda p: p[0], alone_then([])),
    "nested Compose": (lambda c: Compose([Compose([Compose([c])]), Compose([])]), lambda p: p[0][0][0], alone_then([])),
    "HaLP view chain": (lambda c: Compose([c, CorruptOrShear()]), lambda p: p[0], alone_then([CorruptOrShear()])),
    "crop then folded linear steps": (
        lambda c: Compose([c, Compose([Shear(), Rotate(), PoseShear()])]),
        lambda p: p[0],
        alone_then([Compose([Shear(), Rotate(), PoseShear()])]),
    ),
    "crop then HiCLR's NA": (
        lambda c: Compose([c, normal_augmentation(NTU25)]),
        lambda p: p[0],
        alone_then([normal_augmentation(NTU25)]),
    ),
}


@pytest.mark.parametrize("chain_name", CHAINS)
@pytest.mark.parametrize("crop_name", CROPS)
def test_a_crop_in_any_chain_equals_the_crop_alone(padded, chain_name, crop_name):
    zero, nan = padded
    build, locate, expected = CHAINS[chain_name]
    crop = CROPS[crop_name]()
    chain = build(crop)
    for seed in range(3):
        out, p = chain(zero, gen(seed), return_params=True)
        want, crop_params = expected(crop, zero, seed)
        assert locate(p) == crop_params  # the same draws as the crop alone, from the same seed
        assert_inside_valid(locate(p))
        assert torch.equal(out.x, want.x) and torch.equal(out.num_frames, torch.full((4,), crop.out_frames))
        assert torch.equal(chain(nan, gen(seed)).x, out.x)  # no padded frame read anywhere in the chain
        assert torch.equal(chain.apply(zero, p).x, out.x)  # replay


@pytest.mark.parametrize("crop_name", CROPS)
def test_a_crop_after_folded_linear_steps_reads_the_counts(padded, crop_name):
    "Linear steps before the crop are folded (pending) when the crop samples: it still sees the valid counts."
    zero, nan = padded
    crop = CROPS[crop_name]()
    before = [Shear(), PoseShear(), Rotate()]
    chain = Compose([*before, crop])
    for seed in range(3):
        out, p = chain(zero, gen(seed), return_params=True)
        g = gen(seed)
        linear = Compose(before)(zero, g)  # the linear steps alone, then the crop alone, drawing on from g
        want, crop_params = crop(linear, g, return_params=True)
        assert p[3] == crop_params
        assert_inside_valid(p[3])
        assert torch.equal(out.x, want.x)
        assert torch.equal(chain(nan, gen(seed)).x, out.x)


def test_the_halp_view_is_an_ordinary_chain(padded):
    zero, nan = padded
    view = halp_view_augmentation()
    assert isinstance(view, Compose) and [type(a).__name__ for a in view.augmentations] == [
        "TemporalRandomResizeCrop",
        "CorruptOrShear",
    ]
    out, p = view(zero, gen(4), return_params=True)
    crop_alone = view.augmentations[0](zero, gen(4))
    assert torch.equal(out.x, view.augmentations[1].apply(crop_alone, p[1]).x)
    assert [c.name for c in p.children] == ["TemporalRandomResizeCrop", "CorruptOrShear"]
    assert [c.name for c in p[1].children] == ["corruption", "shear"]
    assert torch.equal(view(nan, gen(4)).x, out.x)


# ------------------------------------------------------------------------------------------------ growing policy
@pytest.mark.parametrize("crop_name", CROPS)
def test_a_crop_as_a_growing_strategy(padded, crop_name):
    "A HaLP crop as the policy's first set: view v0 (the first draw) is the crop alone; every view samples within."
    zero, nan = padded
    crop = CROPS[crop_name]()
    policy = GrowingAugmentation("BA|NA", augmentations={"BA": crop})
    with torch.no_grad():
        v = policy(zero, gen(5), return_params=True)
        assert torch.equal(v.views[0].x, crop(zero, gen(5)).x)
        for p in [*v.params.children, v.key_params]:
            assert_inside_valid(p["BA"])
        assert all(torch.equal(b.num_frames, torch.full((4,), crop.out_frames)) for b in [*v.views, v.key])
        again = policy(nan, gen(5))
        assert all(torch.equal(a.x, b.x) for a, b in zip([*again.views, again.key], [*v.views, v.key]))
        replay = policy.apply(zero, v)
        assert all(torch.equal(a.x, b.x) for a, b in zip([*replay.views, replay.key], [*v.views, v.key]))


def test_a_crop_later_in_a_growing_policy(padded):
    "The crop in the second set, after a linear step that folds across the sets: it samples within the counts."
    zero, nan = padded
    crop = TemporalRandomResizeCrop(0.1, 1.0, min_frames=8, out_frames=50)
    policy = GrowingAugmentation("Shear|Crop", augmentations={"Crop": crop})
    with torch.no_grad():
        v = policy(zero, gen(6), return_params=True)
        assert_inside_valid(v.params[1]["Crop"])
        assert torch.equal(v.views[0].num_frames, COUNTS) and v.views[0].x.shape[2] == 300  # shear keeps the counts
        assert torch.equal(v.views[1].num_frames, torch.full((4,), 50))
        g = gen(6)
        policy.draw(zero, policy.view_tokens(0), g)  # v0's draws come first
        shear_p = Shear().sample(zero, g)
        want = crop(Shear().apply(zero, shear_p), g)
        assert v.params[1]["Shear"] == shear_p.renamed("Shear") and torch.equal(v.views[1].x, want.x)
        assert torch.equal(policy(nan, gen(6)).views[1].x, v.views[1].x)


# ------------------------------------------------------------------------------------------------ the contract itself
def test_counts_flow_through_value_steps_and_hiclr_crop(padded):
    zero, _ = padded
    out = Compose([Shear(), GaussianNoise(p=1.0), Rotate()])(zero, gen(0))
    assert torch.equal(out.num_frames, COUNTS)  # value-only steps keep the counts
    p = Params("TemporalCrop", {"start": torch.tensor([50, 100, 0, 3])})  # p = 300 // 6 = 50: starts in 0..100
    out = TemporalCrop().apply(zero, p)
    # output frame t reads frame start - 50 + t (reflected at both ends); the count is how many read a valid frame:
    # n = 37 from 50: frames 0..299 (37 valid); n = 64 from 100: frames 50..299, 299..250 (50..63 valid: 14);
    # n = 150 from 0: frames 49..0 (50), then 0..249 (150 valid); n = 300: all
    assert out.num_frames.tolist() == [37, 14, 50 + 150, 300]
    with pytest.raises(ValueError, match="sample 0 reads only padding"):
        TemporalCrop(2).apply(zero, Params("TemporalCrop", {"start": torch.tensor([300, 0, 0, 0])}))


def test_params_container(padded):
    zero, _ = padded
    out, p = halp_view_augmentation()(zero, gen(1), return_params=True)
    assert isinstance(p, Params) and p.name == "Compose" and len(p) == 2 and list(p) == [c.name for c in p.children]
    assert p["TemporalRandomResizeCrop"] is p[0] and set(p[0]) == {"scale", "length", "start", "num_frames"}
    assert p.to("meta")[1]["shear"]["matrix"].device.type == "meta"
    with pytest.raises(KeyError, match="drew no 'angle'"):
        p[0]["angle"]
    assert "TemporalRandomResizeCrop(scale (4,) float32" in repr(p)


def test_one_contract_for_every_augmentation():
    "Every augmentation has the same methods; a step that defines neither `apply` nor `transform` says so."
    for aug in (TemporalRandomResizeCrop(), CenterCrop(), CorruptOrShear(), PoseShear(), Shear(), Compose([])):
        assert isinstance(aug, Augmentation) and all(hasattr(aug, m) for m in ("sample", "apply", "transform"))
    with pytest.raises(NotImplementedError, match="neither apply nor transform"):
        Augmentation()(torch.zeros(1, 3, 2, 1, 1))
