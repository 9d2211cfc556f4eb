"""skelnb.augment.hiclr against the reference augmentations, on real data.

TEST ORACLES. The `oracle_*` functions (the per-view ones in skelnb.testing, AdaIN below) are
slow, per-sample NumPy restatements (written for these tests, in our own words) of what the reference code does to one
sample `(C, T, V, M)`, given the random values it drew:
- HiCLR/AimCLR `feeder/tools.py`: shear, temperal_crop, random_spatial_flip (its hard-coded NTU joint list),
  random_rotate (three successive axis rotations applied to row vectors), gaus_noise, GaussianBlurConv (unnormalised
  kernel, zero padding), axis_mask;
- HiCLR `processor/utils.py` Jointmask + `net/hiclr.py` (mask the batch, then write `mask_param` into the holes);
- HiCLR `net/skeletonAdaIN.py` AdaIN with dim 'TV' / 'V' (per sample and person, unbiased variance + eps).
They work in float64, as the reference does. The `reference_draw_*` functions draw the random values the way the
reference does (python `random` / numpy), for comparing distributions and output moments over many draws.
"""

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from skelnb.augment.base import Compose, Params
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
    blur_matrices,
    gaussian_kernels,
    hiclr_rotation,
    normal_augmentation,
    person_present,
    reflect_crop_index,
    shear_matrices,
)
from skelnb.batch import SkeletonBatch
from skelnb.core import shared_data
from skelnb.data.samples import ucla_samples
from skelnb.layouts import NTU25, NW_UCLA
from skelnb.testing import (
    KINECT_V1_FLIP,
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


# ------------------------------------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def ucla():
    "Four NW-UCLA sequences through HiCLR's pipeline with an empty second person slot, (4, 3, 50, 20, 2) float32."
    if shared_data("nw_ucla", "all_sqe") is None:
        pytest.skip("shared data absent")
    return ucla_samples(["a01_s01_e01_v01", "a06_s03_e02_v02", "a09_s01_e03_v01", "a12_s10_e04_v03"]).x


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------------------ test oracles
def oracle_adain(content, style, eps=1e-5, dim="TV"):
    "TEST ORACLE: skeletonAdaIN.AdaIN for one content and one style sample (C, T, V, M), person by person."
    content, style = np.asarray(content, np.float64), np.asarray(style, np.float64)
    out = np.empty_like(content)
    for m in range(content.shape[-1]):
        for c in range(content.shape[0]):
            a, b = content[c, :, :, m], style[c, :, :, m]  # (T, V)
            ax = None if dim == "TV" else 1
            ma, mb = a.mean(axis=ax, keepdims=True), b.mean(axis=ax, keepdims=True)
            sa = np.sqrt(a.var(axis=ax, ddof=1, keepdims=True) + eps)
            sb = np.sqrt(b.var(axis=ax, ddof=1, keepdims=True) + eps)
            out[c, :, :, m] = (a - ma) / sa * sb + mb
    return out


# reference-style draws (python random / numpy, as feeder/tools.py draws them)
def reference_draw_and_apply(x, name, rng, nprng):
    "One reference augmentation of sample x (C, T, V, M) with the reference's own kind of draws."
    if name == "shear":
        a = [rng.uniform(-0.5, 0.5) for _ in range(3)]
        b = [rng.uniform(-0.5, 0.5) for _ in range(3)]
        return oracle_shear(x, a, b)
    if name == "crop":
        p = x.shape[1] // 6
        return oracle_temporal_crop(x, 6, nprng.randint(0, 2 * p + 1))
    if name == "flip":
        return oracle_flip(x, rng.random() < 0.5, REFERENCE_NTU_FLIP)
    if name == "rotate":
        main = rng.randint(0, 2)
        return oracle_rotate(x, [rng.uniform(0, 30) if a == main else rng.uniform(0, 1) for a in range(3)])
    if name == "noise":
        apply = rng.random() < 0.5
        return oracle_noise(x, apply, nprng.normal(0, 0.01, size=x.shape))
    if name == "blur":
        sigma = rng.uniform(0.1, 2)
        return oracle_blur(x, sigma, nprng.random_sample() < 0.5)
    if name == "axis_mask":
        apply = rng.random() < 0.5
        return oracle_axis_mask(x, apply, rng.randint(0, 2) if apply else 0)
    raise KeyError(name)


OURS = {
    "shear": lambda: Shear(),
    "crop": lambda: TemporalCrop(),
    "flip": lambda: SpatialFlip(NTU25),
    "rotate": lambda: Rotate(),
    "noise": lambda: GaussianNoise(),
    "blur": lambda: GaussianBlur(),
    "axis_mask": lambda: ChannelMask(),
}
STRONG_AUG = ["crop", "shear", "flip", "rotate", "noise", "blur", "axis_mask"]  # Feeder_triple._strong_aug


def features(y):
    "Per-draw summary of augmented samples (n, C, T, V, M): per-coordinate mean and std, the right wrist at frame 25."
    y = np.asarray(y, np.float64)
    wrist = NTU25.index("right_wrist")
    return np.concatenate([y.mean(axis=(2, 3, 4)), y.std(axis=(2, 3, 4)), y[:, :, 25, wrist, 0]], axis=1)


def assert_same_moments(ours, theirs, z_max=5.0):
    "Means over draws of each feature agree within z_max standard errors."
    fa, fb = features(ours), features(theirs)
    se = np.sqrt(fa.var(0, ddof=1) / len(fa) + fb.var(0, ddof=1) / len(fb)) + 1e-12
    z = np.abs(fa.mean(0) - fb.mean(0)) / se
    assert (z < z_max).all(), f"moments differ: z = {np.round(z, 2)}"
    # the spreads too (ratio of standard deviations over draws)
    sa, sb = fa.std(0), fb.std(0)
    ok = (sa < 1e-9) & (sb < 1e-9) | (np.abs(sa / np.maximum(sb, 1e-12) - 1) < 0.15)
    assert ok.all(), f"spreads differ: {np.round(sa, 5)} vs {np.round(sb, 5)}"


def uniform_ks(values, low, high):
    return stats.kstest(np.asarray(values, np.float64).ravel(), "uniform", args=(low, high - low)).pvalue


def chi2_uniform(values, k):
    counts = np.bincount(np.asarray(values).ravel(), minlength=k)
    assert len(counts) == k, f"values outside 0..{k - 1}"
    return stats.chisquare(counts).pvalue


def binom_p(flags, p):
    flags = np.asarray(flags).ravel()
    return stats.binomtest(int(flags.sum()), len(flags), p).pvalue


def shape_only(n, T=50, V=25, M=2):
    "A batch used only for its shape (parameters are drawn from shapes)."
    return SkeletonBatch(torch.zeros(n, 3, T, V, M))


# ------------------------------------------------------------------------------------------------ (a) apply == oracle
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-6), (torch.float64, 1e-12)])
def test_shear_matches_oracle(ntu, ucla, dtype, tol):
    for batch in (ntu, ucla):
        x = batch.to(dtype)
        y, p = Shear()(x, gen(1), return_params=True)
        test = [
            oracle_shear(x[n].numpy(), p["a"][n].double().numpy(), p["b"][n].double().numpy()) for n in range(len(x))
        ]
        np.testing.assert_allclose(y.numpy(), np.stack(test), rtol=0, atol=tol)


def test_shear_matrix_placement():
    S = shear_matrices(torch.tensor([[1.0, 2, 3]]), torch.tensor([[4.0, 5, 6]]))[0]
    np.testing.assert_array_equal(S.numpy(), [[1, 1, 4], [2, 1, 5], [3, 6, 1]])


@pytest.mark.parametrize("ratio", [6, 3, 1, 100])
def test_temporal_crop_matches_oracle_exactly(ntu, ucla, ratio):
    for batch in (ntu, ucla):
        p = batch.shape[2] // ratio
        starts = torch.tensor([0, p, 2 * p, min(3, 2 * p)] + [2 * p] * (len(batch) - 4))[: len(batch)]
        y = TemporalCrop(ratio).transform(batch, Params("TemporalCrop", {"start": starts}))
        for n in range(len(batch)):
            np.testing.assert_array_equal(y[n].numpy(), oracle_temporal_crop(batch[n].numpy(), ratio, int(starts[n])))


def test_temporal_crop_other_lengths():
    x = torch.arange(2 * 3 * 64 * 4 * 1, dtype=torch.float32).view(2, 3, 64, 4, 1)
    crop = TemporalCrop()
    for seed in range(5):
        y, p = crop(x, gen(seed), return_params=True)
        for n in range(2):
            np.testing.assert_array_equal(y[n].numpy(), oracle_temporal_crop(x[n].numpy(), 6, int(p["start"][n])))
    np.testing.assert_array_equal(
        reflect_crop_index(torch.tensor([0]), 64, 10)[0, :11].numpy(), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0]
    )


def test_flip_matches_oracle_exactly(ntu, ucla):
    np.testing.assert_array_equal(NTU25.flip_permutation, REFERENCE_NTU_FLIP)
    for batch, layout, order in ((ntu, NTU25, REFERENCE_NTU_FLIP), (ucla, NW_UCLA, KINECT_V1_FLIP)):
        flips = torch.tensor([True, False, True, True, False])[: len(batch)]
        y = SpatialFlip(layout).transform(batch, Params("SpatialFlip", {"apply": flips}))
        for n in range(len(batch)):
            np.testing.assert_array_equal(y[n].numpy(), oracle_flip(batch[n].numpy(), bool(flips[n]), order))
        ym = SpatialFlip(layout, mirror=True).transform(batch, Params("SpatialFlip", {"apply": flips}))
        np.testing.assert_array_equal(ym[:, 1:].numpy(), y[:, 1:].numpy())
        np.testing.assert_array_equal(ym[flips, 0].numpy(), -y[flips, 0].numpy())
        np.testing.assert_array_equal(ym[~flips, 0].numpy(), batch[~flips, 0].numpy())


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-6), (torch.float64, 1e-12)])
def test_rotate_matches_oracle(ntu, ucla, dtype, tol):
    for symmetric in (False, True):
        for batch in (ntu, ucla):
            x = batch.to(dtype)
            y, p = Rotate(symmetric=symmetric)(x, gen(2), return_params=True)
            for n in range(len(x)):
                want = oracle_rotate(x[n].numpy(), p["degrees"][n].double().numpy())
                np.testing.assert_allclose(y[n].numpy(), want, rtol=0, atol=tol)


def test_rotation_matrices_are_rotations():
    R = hiclr_rotation(torch.tensor([[10.0, 20.0, 30.0], [-5.0, 0.5, 0.2]]))
    np.testing.assert_allclose((R @ R.transpose(1, 2)).numpy(), np.broadcast_to(np.eye(3), (2, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(torch.linalg.det(R).numpy(), [1, 1], atol=1e-12)


def test_noise_matches_oracle(ntu, ucla):
    for batch in (ntu, ucla):
        y, p = GaussianNoise()(batch, gen(3), return_params=True)
        for n in range(len(batch)):
            want = oracle_noise(batch[n].numpy(), bool(p["apply"][n]), GaussianNoise.full_noise(p)[n].double().numpy())
            np.testing.assert_allclose(y[n].numpy(), want, rtol=0, atol=1e-6)
            if not p["apply"][n]:
                np.testing.assert_array_equal(y[n].numpy(), batch[n].numpy())


@pytest.mark.parametrize("normalized", [False, True])
def test_blur_matches_oracle(ntu, ucla, normalized):
    for batch in (ntu, ucla):
        for dtype, tol in ((torch.float32, 1e-5), (torch.float64, 1e-12)):
            x = batch.to(dtype)
            y, p = GaussianBlur(normalized=normalized)(x, gen(4), return_params=True)
            assert p["apply"].any() and not p["apply"].all()
            for n in range(len(x)):
                want = oracle_blur(x[n].numpy(), float(p["sigma"][n]), bool(p["apply"][n]), normalized=normalized)
                np.testing.assert_allclose(y[n].numpy(), want, rtol=tol, atol=tol)


def test_blur_equals_grouped_conv1d(ntu):
    "The banded-matrix product is the reference's depthwise conv (as a grouped conv1d in float64)."
    sigma = torch.tensor([0.1, 0.7, 1.3, 2.0, 1.9])
    y = GaussianBlur(p=1.0).transform(
        ntu.double(), Params("GaussianBlur", {"sigma": sigma, "apply": torch.ones(5, dtype=torch.bool)})
    )
    w = gaussian_kernels(sigma)
    seq = ntu.double().permute(0, 1, 3, 4, 2).reshape(1, -1, 50)
    ref = F.conv1d(seq, w.repeat_interleave(3 * 25 * 2, 0)[:, None], padding=7, groups=seq.shape[1])
    np.testing.assert_allclose(y.numpy(), ref.view(5, 3, 25, 2, 50).permute(0, 1, 4, 2, 3).numpy(), atol=1e-12)
    B = blur_matrices(w[:1], 50)[0]
    assert (B[0, 8:] == 0).all() and B[0, 0] == w[0, 7] and B[10, 3] == w[0, 0] and B[10, 17] == w[0, 14]


def test_blur_gain(ntu):
    "The reference's kernel sums to 1.00 / 2.51 / 5.01 at σ = 0.1 / 1 / 2: a constant is scaled by it (middle frames)."
    x = torch.ones(3, 3, 50, 25, 2)
    sigma = torch.tensor([0.1, 1.0, 2.0])
    y = GaussianBlur().transform(x, Params("GaussianBlur", {"sigma": sigma, "apply": torch.ones(3, dtype=torch.bool)}))
    np.testing.assert_allclose(y[:, 0, 25, 0, 0].numpy(), [1.0, 2.5066283, 5.0124975], rtol=1e-6)
    assert y[2, 0, 0, 0, 0] < y[2, 0, 25, 0, 0]  # the edge frames see the zero padding
    yn = GaussianBlur(normalized=True).transform(
        x, Params("GaussianBlur", {"sigma": sigma, "apply": torch.ones(3, dtype=torch.bool)})
    )
    np.testing.assert_allclose(yn[:, :, 7:43].numpy(), 1.0, rtol=1e-6)


def test_channel_mask_matches_oracle_exactly(ntu, ucla):
    for batch in (ntu, ucla):
        for seed in range(4):
            y, p = ChannelMask()(batch, gen(seed), return_params=True)
            for n in range(len(batch)):
                want = oracle_axis_mask(batch[n].numpy(), bool(p["apply"][n]), int(p["axis"][n]))
                np.testing.assert_array_equal(y[n].numpy(), want)


def test_joint_mask_matches_oracle_exactly(ntu, ucla):
    for batch in (ntu, ucla):
        jm = RandomJointMask()
        with torch.no_grad():
            jm.token.fill_(0.25)
        y, p = jm(batch, gen(5), return_params=True)
        np.testing.assert_array_equal(y.detach().numpy(), oracle_joint_mask(batch.numpy(), p["mask"].numpy(), 0.25))
        # per sample: the oracle one sample at a time with that sample's mask
        jm = RandomJointMask(per_sample=True)
        y, p = jm(batch, gen(6), return_params=True)
        for n in range(len(batch)):
            want = oracle_joint_mask(batch[n : n + 1].numpy(), p["mask"][n].numpy(), 0.0)[0]
            np.testing.assert_array_equal(y[n].detach().numpy(), want)


@pytest.mark.parametrize("dim", ["TV", "V"])
def test_adain_matches_oracle(ntu, ucla, dim):
    for batch in (ntu, ucla[:, :, :, :, :1]):
        y, p = SkeleAdaIN(dims=dim)(batch.double(), gen(7), return_params=True)
        for n in range(len(batch)):
            want = oracle_adain(batch[n].numpy(), batch[int(p["style"][n])].numpy(), dim=dim)
            np.testing.assert_allclose(y[n].numpy(), want, rtol=1e-9, atol=1e-9)
        y32 = SkeleAdaIN(dims=dim).transform(batch, p)
        np.testing.assert_allclose(y32.numpy(), y.numpy(), rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------------------------ (b) distributions
def test_shear_draws():
    p = Shear().sample(shape_only(20000), gen(10))
    assert uniform_ks(p["a"], -0.5, 0.5) > 1e-3 and uniform_ks(p["b"], -0.5, 0.5) > 1e-3
    assert abs(np.corrcoef(p["a"][:, 0], p["b"][:, 0])[0, 1]) < 0.03


@pytest.mark.parametrize("T", [50, 64, 20])
def test_crop_start_draws(T):
    p = TemporalCrop().sample(shape_only(20000, T=T), gen(11))
    assert chi2_uniform(p["start"], 2 * (T // 6) + 1) > 1e-3


@pytest.mark.parametrize(
    "name,aug",
    [
        ("flip", SpatialFlip(NTU25)),
        ("noise", GaussianNoise()),
        ("blur", GaussianBlur()),
        ("mask", ChannelMask()),
        ("adain", SkeleAdaIN(p=0.3)),
    ],
)
def test_coin_draws(name, aug):
    p = aug.sample(SkeletonBatch(torch.zeros(20000, 3, 2, 2, 1)), gen(12))
    assert binom_p(p["apply"], aug.p) > 1e-3


def test_rotation_draws():
    p = Rotate().sample(shape_only(30000), gen(13))
    main, deg = p["main_axis"].numpy(), p["degrees"].numpy()
    assert chi2_uniform(main, 3) > 1e-3
    is_main = np.arange(3)[None] == main[:, None]
    assert uniform_ks(deg[is_main], 0, 30) > 1e-3 and uniform_ks(deg[~is_main], 0, 1) > 1e-3
    for axis in range(3):  # each axis, when main, gets the 30° range
        assert uniform_ks(deg[main == axis, axis], 0, 30) > 1e-3
    p = Rotate(symmetric=True).sample(shape_only(30000), gen(14))
    main, deg = p["main_axis"].numpy(), p["degrees"].numpy()
    is_main = np.arange(3)[None] == main[:, None]
    assert uniform_ks(deg[is_main], -30, 30) > 1e-3 and uniform_ks(deg[~is_main], -1, 1) > 1e-3


def test_noise_draws():
    p = GaussianNoise().sample(shape_only(100), gen(15))
    noise = p["noise"].numpy().ravel()[:200000]  # the noise of the samples given noise
    assert stats.kstest(noise, "norm", args=(0, 0.01)).pvalue > 1e-3


def test_blur_sigma_draws():
    p = GaussianBlur().sample(shape_only(20000), gen(16))
    assert uniform_ks(p["sigma"], 0.1, 2.0) > 1e-3


def test_channel_mask_axis_draws():
    p = ChannelMask().sample(shape_only(20000), gen(17))
    assert chi2_uniform(p["axis"], 3) > 1e-3


@pytest.mark.parametrize("V,k", [(25, 2), (20, 2)])
def test_joint_mask_draws(V, k):
    "k distinct joints per frame (random.sample), every joint equally likely, frames independent."
    jm = RandomJointMask()
    masks = torch.stack([jm.sample(shape_only(1, T=50, V=V), gen(s))["mask"] for s in range(400)])  # (400, 50, V)
    assert (masks.sum(-1) == k).all()
    assert chi2_uniform(np.nonzero(masks.reshape(-1, V).numpy())[1], V) > 1e-3
    # pairs of joints masked together: uniform over the V(V-1)/2 pairs (random.sample of 2 out of V)
    idx = np.nonzero(masks.reshape(-1, V).numpy())[1].reshape(-1, 2)
    pair = idx[:, 0] * V + idx[:, 1]
    codes = {a * V + b: i for i, (a, b) in enumerate((a, b) for a in range(V) for b in range(a + 1, V))}
    assert chi2_uniform([codes[c] for c in pair], V * (V - 1) // 2) > 1e-3
    # frames independent: masks of frames 0 and 1 agree no more often than chance
    same = (masks[:, 0] == masks[:, 1]).all(-1).float().mean().item()
    assert same < 0.02


def test_joint_mask_per_batch_vs_per_sample():
    x = shape_only(6)
    assert RandomJointMask().sample(x, gen(0))["mask"].shape == (50, 25)
    m = RandomJointMask(per_sample=True).sample(x, gen(0))["mask"]
    assert m.shape == (6, 50, 25) and not (m[0] == m[1]).all()


@pytest.mark.parametrize("pairing", ["derangement", "swap", "permutation"])
def test_adain_pairing_draws(pairing):
    n, draws = 7, 1500
    styles = np.stack(
        [SkeleAdaIN(pairing=pairing).sample(shape_only(n), gen(s))["style"].numpy() for s in range(draws)]
    )
    assert all(sorted(s) == list(range(n)) for s in styles[:100])  # always a permutation of the batch
    if pairing == "permutation":
        assert chi2_uniform(styles[:, 0], n) > 1e-3
        return
    assert (styles != np.arange(n)).all()  # never its own style
    others = styles[:, 0] - 1  # sample 0's partner: uniform over 1..n-1
    assert chi2_uniform(others, n - 1) > 1e-3
    if pairing == "swap":  # pairs exchange, except one 3-cycle (odd n)
        mutual = (styles[np.arange(draws)[:, None], styles] == np.arange(n)).sum(1)
        assert (mutual == n - 3).all()


# ------------------------------------------------------------------------------------------------ (c) output moments
@pytest.mark.parametrize("name", list(OURS))
def test_output_moments_match_reference(ntu, name):
    x = ntu[1]  # the two-person sample
    n = 1500
    ours = OURS[name]()(x.double().expand(n, -1, -1, -1, -1).contiguous(), gen(30)).numpy()
    rng, nprng = random.Random(30), np.random.RandomState(30)
    theirs = np.stack([reference_draw_and_apply(x.double().numpy(), name, rng, nprng) for _ in range(n)])
    assert_same_moments(ours, theirs)


def test_strong_view_moments_match_reference(ntu):
    "The whole BA+NA chain (Feeder_triple._strong_aug) against the chained oracles."
    x = ntu[1]
    n = 1500
    ours = Compose([basic_augmentation(), normal_augmentation(NTU25)])(
        x.double().expand(n, -1, -1, -1, -1).contiguous(), gen(31)
    )
    rng, nprng = random.Random(31), np.random.RandomState(31)
    theirs = []
    for _ in range(n):
        y = x.double().numpy()
        for name in STRONG_AUG:
            y = reference_draw_and_apply(y, name, rng, nprng)
        theirs.append(y)
    assert_same_moments(ours.numpy(), np.stack(theirs))


def test_joint_mask_moments_match_reference(ntu):
    "Random mask with a non-zero token vs Jointmask with python random.sample, over many batches."
    jm = RandomJointMask()
    with torch.no_grad():
        jm.token.fill_(0.3)
    x = ntu[1:2].double()
    ours = np.concatenate([jm(x, gen(s)).detach().numpy() for s in range(1000)])
    rng = random.Random(32)
    theirs = []
    for _ in range(1000):
        masked = np.zeros((50, 25), bool)
        for t in range(50):
            masked[t, rng.sample(range(25), 2)] = True
        theirs.append(oracle_joint_mask(x.numpy(), masked, 0.3)[0])
    assert_same_moments(ours, np.stack(theirs))


# ------------------------------------------------------------------------------------------------ (d) invariants
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


KEEPS_ABSENT_ZERO = {"GaussianNoise": "keep_absent_zero", "SkeleAdaIN": "keep_absent"}  # the others always do


def for_layout(aug, layout):
    return SpatialFlip(layout, mirror=aug.mirror) if isinstance(aug, SpatialFlip) else aug


@pytest.mark.parametrize("aug", ALL, ids=short_id)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_invariants(ntu, ucla, aug, dtype):
    for batch, layout in ((ntu, NTU25), (ucla, NW_UCLA), (ucla[..., :1], NW_UCLA)):
        a = for_layout(aug, layout)
        x = batch.to(dtype)
        before = x.clone()
        y, p = a(x, gen(40), return_params=True)
        assert y.shape == x.shape and y.dtype == dtype and y.device == x.device
        assert torch.isfinite(y).all()
        assert torch.equal(x, before)  # the input is not modified
        absent = ~person_present(x)
        name = type(a).__name__
        if name not in KEEPS_ABSENT_ZERO or getattr(a, KEEPS_ABSENT_ZERO[name]):
            assert (y.masked_select(absent) == 0).all(), f"{a!r} made an absent person non-zero"
        elif name == "GaussianNoise" and absent.any():
            assert (y.masked_select(absent) != 0).all()  # the documented reference behaviour


def test_absent_person_under_noise_and_adain_is_documented(ntu):
    "Reference quirks: noise jitters an absent person; AdaIN puts it at the style person's mean."
    y, p = GaussianNoise(p=1.0)(ntu, gen(0), return_params=True)
    np.testing.assert_allclose(y[0, ..., 1].numpy(), GaussianNoise.full_noise(p)[0, ..., 1].numpy(), atol=0)
    style = torch.tensor([1, 0, 2, 3, 4])
    y = SkeleAdaIN().transform(ntu, Params("SkeleAdaIN", {"style": style, "apply": torch.ones(5, dtype=torch.bool)}))
    mean = ntu[1, :, :, :, 1].mean((1, 2))
    np.testing.assert_allclose(y[0, :, :, :, 1].numpy(), mean[:, None, None].expand(3, 50, 25).numpy(), atol=1e-6)


def test_meta_device(ntu):
    "apply keeps the device (meta tensors stand in for a GPU here: no computation, only shapes, dtypes and devices)."
    for aug in ALL:
        p = aug.sample(SkeletonBatch(ntu), gen(0))
        y = aug.transform(ntu.to("meta"), p.to("meta"))
        assert y.device.type == "meta" and y.shape == ntu.shape and y.dtype == ntu.dtype


def test_noop_settings(ntu):
    assert torch.equal(Shear(0.0)(ntu, gen()), ntu)
    for aug in (
        SpatialFlip(NTU25, p=0.0),
        GaussianNoise(p=0.0),
        GaussianBlur(p=0.0),
        ChannelMask(p=0.0),
        RandomJointMask(num_joints=0),
        SkeleAdaIN(p=0.0),
    ):
        assert torch.equal(aug(ntu, gen()), ntu), aug
    assert torch.equal(TemporalCrop().transform(ntu, Params("TemporalCrop", {"start": torch.full((5,), 8)})), ntu)
    assert torch.equal(Rotate(0.0, 0.0)(ntu.double(), gen()), ntu.double())


def test_joint_mask_token_is_learnable(ntu):
    jm = RandomJointMask()
    assert [n for n, _ in jm.named_parameters()] == ["token"] and "token" in jm.state_dict()
    x = ntu.clone().requires_grad_(True)
    y, p = jm(x, gen(0), return_params=True)
    y.square().sum().backward()
    assert jm.token.grad is not None and jm.token.grad.item() == 0.0  # d/dtoken Σ token² at token 0
    (jm.transform(ntu, p) - 1).square().sum().backward()
    masked = int(p["mask"].sum()) * 5 * 3 * 2
    assert jm.token.grad.item() == pytest.approx(-2.0 * masked)
    assert (x.grad.permute(0, 1, 4, 2, 3)[:, :, :, p["mask"]] == 0).all()  # masked entries get no gradient
    opt = torch.optim.SGD(jm.parameters(), lr=0.01)
    opt.step()
    assert jm.token.item() != 0
    assert "RandomJointMask(ratio=0.1" in repr(jm)


# ------------------------------------------------------------------------------------------------ (e) reproducibility
@pytest.mark.parametrize("aug", ALL, ids=short_id)
def test_reproducible_from_seed(ntu, aug):
    a, b, c = aug(ntu, gen(7)), aug(ntu, gen(7)), aug(ntu, gen(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_sets_reproducible_and_replayable(ntu):
    view = Compose([basic_augmentation(), normal_augmentation(NTU25)])
    a, params = view(ntu, gen(3), return_params=True)
    assert torch.equal(a, view(ntu, gen(3))) and torch.equal(view.transform(ntu, params), a)
    assert [type(t).__name__ for t in view.augmentations[0].augmentations] == ["TemporalCrop", "Shear"]
    assert [type(t).__name__ for t in view.augmentations[1].augmentations] == [
        "SpatialFlip",
        "Rotate",
        "GaussianNoise",
        "GaussianBlur",
        "ChannelMask",
    ]
    assert [type(t).__name__ for t in basic_augmentation(0, 0.5).augmentations] == ["Shear"]
    assert basic_augmentation(6, 0).augmentations == [TemporalCrop(6)]


# ------------------------------------------------------------------------------------------------ bad settings
def test_bad_settings(ntu, ucla):
    with pytest.raises(ValueError, match="padding_ratio"):
        TemporalCrop(0)
    with pytest.raises(ValueError, match="odd"):
        GaussianBlur(kernel_size=14)
    with pytest.raises(ValueError, match="sigma"):
        GaussianBlur(sigma_min=0.0)
    with pytest.raises(ValueError, match="C=2"):
        Shear()(ntu[:, :2], gen())
    with pytest.raises(ValueError, match="C=2"):
        Rotate()(ntu[:, :2], gen())
    with pytest.raises(ValueError, match="V=20"):
        SpatialFlip(NTU25)(ucla, gen())
    with pytest.raises(ValueError, match="cannot mask"):
        RandomJointMask(num_joints=30)(ntu, gen())
    with pytest.raises(ValueError, match="pairing"):
        SkeleAdaIN(pairing="ring")(ntu, gen())
    with pytest.raises(ValueError, match="dims"):
        SkeleAdaIN(dims="T")(ntu, gen())


# ------------------------------------------------------------------------------------------------ (f) CPU vs CUDA
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
