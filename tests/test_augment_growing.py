"""skelnb.augment.growing (HiCLR's growing augmentation, paper §3.2 eq. 2) against the reference's view branches.

What stays here (the unit checks are in nbs/23_augment.growing.ipynb): the distributions of the views against the
reference's own draws, a long real-data run (minutes on one core), and the CUDA check.

TEST ORACLES. The `oracle_*` functions (in skelnb.testing) and the `reference_*` functions below are per-sample
NumPy restatements, written for these tests in our own words, of what the reference does (JHang2020/HiCLR@49ffdf8
feeder/tools.py, feeder/ntu_feeder.py L54-L120, processor/utils.py L42-L57):
- `HiCLR:feeder/tools.py`: temperal_crop, shear, random_spatial_flip (hard-coded NTU list, no mirroring),
  random_rotate (x, then y, then z on row vectors), gaus_noise, GaussianBlurConv (unnormalised 15-tap kernel, zero
  padding), axis_mask;
- `HiCLR:feeder/ntu_feeder.py:Feeder_triple`: data1 = data2 = `_aug` (crop, shear), data3 = data4 = `_strong_aug`
  (crop, shear, flip, rotate, noise, blur, axis mask), each an independent call;
- `HiCLR:processor/utils.py:Jointmask` + `net/hiclr.py`: one (T, V) mask per batch with int(V * 0.1) joints per frame
  drawn by `random.sample`, masked entries of data4 set to the token.
`oracle_*` take the drawn values; `reference_*` draw them the reference's way (python `random` and numpy), for
comparing distributions.
"""

import random

import numpy as np
import pytest
import torch
from scipy import stats

from skelnb.augment.growing import GrowingAugmentation, GrowingViews
from skelnb.layouts import NTU25
from skelnb.testing import (
    REFERENCE_NTU_FLIP,
    oracle_axis_mask,
    oracle_blur,
    oracle_flip,
    oracle_joint_mask,
    oracle_noise,
    oracle_rotate,
    oracle_shear,
    oracle_temporal_crop,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def views_of(v: GrowingViews):
    return v.views + [v.key]


# the reference's own draws (python random + numpy), one sample at a time
def reference_basic(x, rng, nprng):
    start = nprng.randint(0, 2 * (x.shape[1] // 6) + 1)
    a = [rng.uniform(-0.5, 0.5) for _ in range(3)]
    b = [rng.uniform(-0.5, 0.5) for _ in range(3)]
    return oracle_shear(oracle_temporal_crop(x, 6, start), a, b)


def reference_strong(x, rng, nprng):
    x = oracle_flip(reference_basic(x, rng, nprng), rng.random() < 0.5, REFERENCE_NTU_FLIP)
    main = rng.randint(0, 2)
    x = oracle_rotate(x, [rng.uniform(0, 30) if a == main else rng.uniform(0, 1) for a in range(3)])
    on = rng.random() < 0.5
    x = oracle_noise(x, on, nprng.normal(0, 0.01, size=x.shape) if on else 0)
    sigma = rng.uniform(0.1, 2)
    x = oracle_blur(x, sigma, nprng.random_sample() < 0.5)
    on = rng.random() < 0.5
    return oracle_axis_mask(x, on, rng.randint(0, 2) if on else 0)


def reference_batch_mask(T, V, rng, ratio=0.1):
    "The reference's per-batch joint mask: int(V * ratio) joints per frame with random.sample; True = masked."
    mask = np.zeros((T, V), bool)
    for t in range(T):
        mask[t, rng.sample(range(V), int(V * ratio))] = True
    return mask


def reference_views(sample, n, chunk, seed=0):
    "n draws of the reference's data1, data2, data3, data4 of one sample, the mask drawn once per `chunk` samples."
    rng, nprng = random.Random(seed), np.random.RandomState(seed)
    out = [[], [], [], []]
    for start in range(0, n, chunk):
        block = [
            [
                reference_basic(sample, rng, nprng),
                reference_basic(sample, rng, nprng),
                reference_strong(sample, rng, nprng),
                reference_strong(sample, rng, nprng),
            ]
            for _ in range(chunk)
        ]
        mask = reference_batch_mask(sample.shape[1], sample.shape[2], rng)
        data4 = oracle_joint_mask(np.stack([b[3] for b in block]), mask, 0.0)
        for i in range(3):
            out[i] += [b[i] for b in block]
        out[3] += list(data4)
    return [np.stack(o) for o in out]


# ------------------------------------------------------------------------------------------------ distributions
# One draw per batch: the mask is shared by a batch, so only draws from different batches are independent samples of a
# view's law (which does not depend on the batch size); the sharing itself is tested below.
N_DRAWS, CHUNK = 1500, 1


@pytest.fixture(scope="module")
def both(ntu):
    "1,500 independent draws of every view of the two-person sample, ours and the reference's (data1..data4 order)."
    sample = ntu[1]
    aug = GrowingAugmentation()
    g = gen(12)
    ours = [[], [], [], []]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: thread hand-offs would cost more than the work
    try:
        with torch.no_grad():
            for _ in range(N_DRAWS // CHUNK):
                v = aug(sample.expand(CHUNK, -1, -1, -1, -1).contiguous(), g)
                for i, t in enumerate([v.views[0], v.key, v.views[1], v.views[2]]):
                    ours[i].append(t.double().numpy())
    finally:
        torch.set_num_threads(threads)
    ours = [np.concatenate(o) for o in ours]  # data1, data2, data3, data4 order
    return ours, reference_views(sample.numpy().astype(np.float64), N_DRAWS, CHUNK, seed=12)


HAND, HEAD = NTU25.index("right_hand"), NTU25.index("head")
STATISTICS = {
    "right hand x, frame 25": lambda v: v[:, 0, 25, HAND, 0],
    "mean y": lambda v: v[:, 1].mean(axis=(1, 2, 3)),
    "norm": lambda v: np.sqrt((v**2).sum(axis=(1, 2, 3, 4))),
    "head z std over time": lambda v: v[:, 2, :, HEAD, 0].std(axis=1),
    "person 2 left hand y, frame 3": lambda v: v[:, 1, 3, NTU25.index("left_hand"), 1],
    "zero fraction": lambda v: (v == 0).mean(axis=(1, 2, 3, 4)),
    "left foot z, frame 25": lambda v: v[:, 2, 25, NTU25.index("left_foot"), 0],  # tells the rotation's sign
}


@pytest.mark.parametrize("view", range(4), ids=["data1=v0", "data2=key", "data3=v1", "data4=v2"])
@pytest.mark.parametrize("stat", list(STATISTICS))
def test_view_distribution_matches_the_reference_branch(both, view, stat):
    ours, ref = both
    a, b = STATISTICS[stat](ours[view]), STATISTICS[stat](ref[view])
    assert stats.ks_2samp(a, b).pvalue > 1e-3, (stat, a.mean(), b.mean())


@pytest.mark.parametrize("view", range(4), ids=["data1=v0", "data2=key", "data3=v1", "data4=v2"])
def test_view_moments_match_the_reference_branch(both, view):
    ours, ref = both
    a, b = ours[view].reshape(N_DRAWS, -1), ref[view].reshape(N_DRAWS, -1)
    se = np.sqrt(a.var(0) / N_DRAWS + b.var(0) / N_DRAWS) + 1e-12
    z = np.abs(a.mean(0) - b.mean(0)) / se
    assert np.mean(z > 4) < 0.01 and z.max() < 7  # entrywise means within sampling error
    ratio = (a.std(0) + 1e-9) / (b.std(0) + 1e-9)
    varying = b.std(0) > 1e-6
    assert np.median(np.abs(np.log(ratio[varying]))) < 0.08


def test_mask_distribution_matches_the_reference(ntu):
    "Which joints the batch mask hides: 2 per frame, uniform over joints (chi-square), one mask per batch."
    aug = GrowingAugmentation("BA|Mask")
    g = gen(13)
    counts = np.zeros(25)
    with torch.no_grad():
        for _ in range(400):
            v = aug(ntu, g, return_params=True)
            m = v.params[1]["Mask"]["mask"]
            assert m.shape == (50, 25) and (m.sum(1) == 2).all()
            counts += m.sum(0).numpy()
    assert stats.chisquare(counts).pvalue > 1e-3
    ref = np.zeros(25)
    rng = random.Random(13)
    for _ in range(400):
        ref += reference_batch_mask(50, 25, rng).sum(0)
    assert stats.chi2_contingency(np.stack([counts, ref])).pvalue > 1e-3


# ------------------------------------------------------------------------------------------------ devices
@pytest.mark.cuda
def test_cuda_equals_cpu(ntu):
    aug = GrowingAugmentation()
    with torch.no_grad():
        v = aug(ntu, gen(14), return_params=True)  # drawn on the CPU
        on_gpu = aug.to("cuda").apply(ntu.cuda(), v)
    for a, b in zip(views_of(on_gpu), views_of(v)):
        assert a.device.type == "cuda"
        torch.testing.assert_close(a.cpu(), b, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        w = aug(ntu.cuda(), torch.Generator(device="cuda").manual_seed(0))
    assert all(t.device.type == "cuda" and torch.isfinite(t).all() for t in views_of(w))
