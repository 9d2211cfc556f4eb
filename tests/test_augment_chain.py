"""`LinearSteps` / `run_chain` (skelnb.augment.base): folding HiCLR's linear steps into one pass gives the same views as
applying the steps one at a time, for every order of the steps, on real data, without touching the caller's tensor."""

import itertools

import numpy as np
import pytest
import torch

from skelnb.augment.base import Compose, LinearSteps, Params, run_chain, shares_memory
from skelnb.augment.hiclr import (
    ChannelMask,
    GaussianBlur,
    GaussianNoise,
    RandomJointMask,
    Rotate,
    Shear,
    SpatialFlip,
    TemporalCrop,
    basic_augmentation,
    normal_augmentation,
)
from skelnb.batch import SkeletonBatch
from skelnb.layouts import NTU25


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def one_at_a_time(x, augmentations, generator):
    "The chain without folding: each step drawn and applied on its own (what Compose did before folding)."
    params = []
    for aug in augmentations:
        p = aug.sample(SkeletonBatch(x), generator)
        x = aug.transform(x, p)
        params.append(p)
    return x, params


def chain(x, augmentations, generator=None, params=None):
    "`run_chain` on the tensor `x` (every frame valid): (output tensor, params)."
    out, drawn = run_chain(SkeletonBatch(x), augmentations, generator, params)
    return out.x, drawn


LINEAR = [
    TemporalCrop(),
    Shear(),
    SpatialFlip(NTU25, p=0.7),
    SpatialFlip(NTU25, mirror=True),
    Rotate(symmetric=True),
    ChannelMask(p=0.8),
]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4)))[::5])
def test_folded_chain_equals_steps_one_at_a_time(ntu, order):
    steps = [LINEAR[i] for i in order] + [GaussianNoise(p=0.6), GaussianBlur(p=0.6)] + [LINEAR[i] for i in order[::-1]]
    for seed in range(3):
        want, _ = one_at_a_time(ntu, steps, gen(seed))
        got, params = chain(ntu, steps, gen(seed))
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0, atol=2e-6)
        assert torch.equal(chain(ntu, steps, params=params)[0], got)  # replay is exact


def test_every_hiclr_linear_step_alone_and_folded_pairwise(ntu):
    for a, b in itertools.product(LINEAR, repeat=2):
        want, _ = one_at_a_time(ntu, [a, b], gen(1))
        np.testing.assert_allclose(chain(ntu, [a, b], gen(1))[0].numpy(), want.numpy(), rtol=0, atol=2e-6)


def test_flip_twice_is_the_identity_on_joints(ntu):
    flip, on = SpatialFlip(NTU25), Params("SpatialFlip", {"apply": torch.ones(5, dtype=torch.bool)})
    steps = LinearSteps(SkeletonBatch(ntu))
    flip.fold(steps, on)
    flip.fold(steps, on)
    assert torch.equal(steps.joints, torch.arange(25).expand(5, 25))
    assert torch.equal(steps.result().x, ntu)


def test_crops_compose(ntu):
    crop = TemporalCrop()
    p1 = Params("TemporalCrop", {"start": torch.tensor([0, 3, 8, 16, 11])})
    p2 = Params("TemporalCrop", {"start": torch.tensor([16, 0, 8, 2, 5])})
    steps = LinearSteps(SkeletonBatch(ntu))
    crop.fold(steps, p1)
    crop.fold(steps, p2)
    assert torch.equal(steps.result().x, crop.transform(crop.transform(ntu, p1), p2))  # a gather of a gather: exact


def test_the_callers_tensor_is_never_written(ntu):
    before = ntu.clone()
    for steps in (
        [GaussianNoise(p=1.0)],
        [GaussianBlur(p=1.0)],
        [GaussianNoise(p=1.0), GaussianBlur(p=1.0)],
        [RandomJointMask()],
        [Shear(), GaussianNoise(p=1.0), ChannelMask(p=1.0)],
        [basic_augmentation(), normal_augmentation(NTU25)],
    ):
        with torch.no_grad():
            y, _ = chain(ntu, steps, gen(2))
        assert torch.equal(ntu, before), steps
        assert not shares_memory(y, ntu)


def test_in_place_steps_match_their_copying_apply(ntu):
    x = ntu.clone()
    for aug in (GaussianNoise(p=0.5), GaussianBlur(p=0.5), RandomJointMask(per_sample=True), RandomJointMask()):
        p = aug.sample(SkeletonBatch(x), gen(4))
        with torch.no_grad():
            want = aug.transform(x, p)
            got = aug.transform_(x.clone(), p)
        assert torch.equal(got, want), aug


def test_nesting_of_parameters_is_kept(ntu):
    ba, na = basic_augmentation(), normal_augmentation(NTU25)
    y, params = chain(ntu, [ba, Compose([na])], gen(5))
    assert len(params) == 2 and len(params[0]) == 2 and len(params[1]) == 1 and len(params[1][0]) == 5
    assert torch.equal(Compose([ba, Compose([na])]).transform(ntu, params), y)
    with pytest.raises(ValueError):
        chain(ntu, [ba, na], params=Params("Compose", children=(params[0],)))  # one set's parameters missing


def test_errors_name_the_problem(ntu):
    with pytest.raises(ValueError, match="V=20"):
        SpatialFlip(NTU25)(ntu[:, :, :, :20], gen())
    with pytest.raises(ValueError, match="3 coordinates"):
        Compose([TemporalCrop(), Shear()])(ntu[:, :2], gen())
    p = GaussianNoise(p=1.0).sample(SkeletonBatch(ntu), gen())
    with pytest.raises(ValueError, match="noised samples"):
        GaussianNoise().transform(ntu[:4], p)


def test_meta_device_keeps_shapes(ntu):
    steps = [basic_augmentation(), normal_augmentation(NTU25)]
    _, params = chain(ntu, steps, gen(6))
    y, _ = chain(ntu.to("meta"), steps, params=params.to("meta"))
    assert y.device.type == "meta" and y.shape == ntu.shape and y.dtype == ntu.dtype


def test_gradient_flows_through_a_folded_chain(ntu):
    x = ntu.clone().requires_grad_(True)
    y, _ = chain(x, [basic_augmentation(), normal_augmentation(NTU25), RandomJointMask()], gen(7))
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.cuda
def test_folded_chain_on_cuda_equals_cpu(ntu):
    steps = [basic_augmentation(), normal_augmentation(NTU25)]
    y, params = chain(ntu, steps, gen(8))
    got, _ = chain(ntu.cuda(), steps, params=params.to("cuda"))
    assert got.device.type == "cuda"
    np.testing.assert_allclose(got.cpu().numpy(), y.numpy(), rtol=0, atol=1e-5)
    g = torch.Generator("cuda").manual_seed(0)
    drawn, _ = chain(ntu.cuda(), steps, g)  # draws on the GPU, noise included
    assert drawn.device.type == "cuda" and torch.isfinite(drawn).all()
