"""skelnb.augment.halp on CUDA against the CPU: these need a GPU (marked `cuda`), so they live here; every other check
of HaLP's augmentations sits under its unit in nbs/22_augment.halp.ipynb."""

import pytest
import torch

from skelnb.augment.halp import TemporalRandomResizeCrop, halp_eval_transform, halp_view_augmentation
from skelnb.batch import SkeletonBatch
from skelnb.core import shared_data
from skelnb.data.samples import ntu_samples, ucla_samples


def run(aug, x, n=None, generator=None, return_params=False):
    "`aug` on the sequences `x` with the valid frame counts `n` (a `SkeletonBatch`): the output tensor (and params)."
    out = aug(SkeletonBatch(x, n), generator, return_params=return_params)
    return (out[0].x, out[1]) if return_params else out.x


UCLA_NAMES = [
    "a02_s09_e04_v02",
    "a01_s10_e00_v03",
    "a02_s09_e03_v03",
    "a09_s09_e01_v01",
    "a01_s08_e02_v01",
]  # 1..201 frames


@pytest.fixture(scope="module")
def ntu():
    "The five NTU samples through HaLP's pipeline: (x (5, 3, 300, 25, 2), valid frame counts)."
    if shared_data("ntu_samples") is None:
        pytest.skip("shared data (ntu_samples) absent")
    b = ntu_samples("halp")
    return b.x, b.num_frames


@pytest.fixture(scope="module")
def ucla():
    "UCLA_NAMES through HaLP's pipeline, the second body absent: (x (5, 3, 300, 20, 2), valid frame counts)."
    if shared_data("nw_ucla", "all_sqe") is None:
        pytest.skip("shared data (nw_ucla) absent")
    b = ucla_samples(UCLA_NAMES, "halp")
    return b.x, b.num_frames


@pytest.mark.cuda
def test_cuda_matches_cpu(ntu, ucla):
    for (x, n), V in ((ntu, 25), (ucla, 20)):
        view = halp_view_augmentation(15 if V == 25 else 12)
        y_cpu, p = run(view, x, n, torch.Generator().manual_seed(0), return_params=True)
        y_gpu = view.apply(SkeletonBatch(x, n).to("cuda"), p.to("cuda")).x
        assert y_gpu.device.type == "cuda"
        torch.testing.assert_close(y_gpu.cpu(), y_cpu, rtol=0, atol=4e-6)
        crop = TemporalRandomResizeCrop()
        yc, pc = run(crop, x, n, torch.Generator().manual_seed(1), return_params=True)
        assert torch.equal(crop.apply(SkeletonBatch(x, n).to("cuda"), pc.to("cuda")).x.cpu(), yc)  # gather: exact
        ye = run(halp_eval_transform(), x, n)
        assert torch.equal(run(halp_eval_transform(), x.cuda(), n.cuda()).cpu(), ye)


@pytest.mark.cuda
def test_cuda_generator_draws_on_device(ntu):
    x, n = ntu
    g = torch.Generator("cuda").manual_seed(0)
    y, p = run(halp_view_augmentation(), x.cuda(), n.cuda(), g, return_params=True)
    assert y.device.type == "cuda" and p[0]["start"].device.type == "cuda" and torch.isfinite(y).all()
    assert ((p[0]["start"] + p[0]["length"]) <= n.cuda()).all()
