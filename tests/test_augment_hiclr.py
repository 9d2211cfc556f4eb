"""skelnb.augment.hiclr on CUDA against the CPU: these need a GPU (marked `cuda`), so they live here; every other check
of HiCLR's augmentations sits under its unit in nbs/21_augment.hiclr.ipynb."""

import numpy as np
import pytest
import torch

from skelnb.augment.base import Compose
from skelnb.augment.hiclr import (
    ChannelMask,
    GaussianBlur,
    GaussianNoise,
    RandomJointMask,
    Rotate,
    Shear,
    SkeleAdaIN,
    SpatialFlip,
    TemporalCrop,
    basic_augmentation,
    normal_augmentation,
)
from skelnb.batch import SkeletonBatch
from skelnb.layouts import NTU25


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


ALL = [
    Shear(),
    TemporalCrop(),
    SpatialFlip(NTU25),
    SpatialFlip(NTU25, mirror=True),
    Rotate(),
    Rotate(symmetric=True),
    GaussianNoise(p=1.0),
    GaussianNoise(p=1.0, keep_absent_zero=True),
    GaussianBlur(p=1.0),
    GaussianBlur(p=1.0, normalized=True),
    ChannelMask(p=1.0),
    RandomJointMask(),
    RandomJointMask(per_sample=True),
    SkeleAdaIN(),
    SkeleAdaIN(keep_absent=True),
    SkeleAdaIN(dims="V", pairing="swap"),
]


def short_id(aug):
    return repr(aug).split("(")[0] + "-" + str(ALL.index(aug))


@pytest.mark.cuda
@pytest.mark.parametrize("aug", ALL, ids=short_id)
def test_cuda_equals_cpu(ntu, aug):
    p = aug.sample(SkeletonBatch(ntu), gen(50))  # drawn on the CPU
    want = aug.transform(ntu, p)
    if isinstance(aug, torch.nn.Module):
        aug = aug.cuda()
    got = aug.transform(ntu.cuda(), p.to("cuda"))
    assert got.device.type == "cuda"
    if isinstance(aug, (TemporalCrop, SpatialFlip, ChannelMask, RandomJointMask)):
        assert torch.equal(got.detach().cpu(), want.detach())  # pure indexing: bit for bit
    else:
        np.testing.assert_allclose(got.detach().cpu().numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.cuda
def test_cuda_generator(ntu):
    view = Compose([basic_augmentation(), normal_augmentation(NTU25)])
    y = view(ntu.cuda(), torch.Generator("cuda").manual_seed(0))
    assert y.device.type == "cuda" and torch.isfinite(y).all()
