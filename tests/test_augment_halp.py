"""skelnb.augment.halp against HaLP's `feeder/augmentations.py` (identical in CMD), on real data.

TEST ORACLES. The `oracle_*` functions below were written for these tests, in our own words. Each is a slow,
one-sample NumPy restatement of one reference function, and each takes the random draws as arguments, so that it can
be fed the parameters skelnb drew:
- `oracle_temporal_cropresize`: `temporal_cropresize`, and the training branch of `crop_subsequence`, which is the
  same code;
- `oracle_center_crop`: the test branch of `crop_subsequence`;
- `oracle_joint_corruption`: `joint_courruption`;
- `oracle_pose_shear`: `pose_augmentation`.

They work on one `(C, T, V, M)` float32 array. Like the reference, they resize with torch's `F.interpolate`
(`reference_resize` of skelnb.testing, which the notebook's checks use too) and do the products with `np.dot` in
float64.

`reference_view` makes one whole pretraining view (`feeder_pretraining_intra.py`). It draws for itself with Python's
`random` and NumPy's legacy `RandomState`, in the reference's order. The distribution tests compare skelnb's draws
and outputs against it.

Exactness: the crop lengths and starts, the interpolation indices and weights, the zeroed and the untouched joints
must be exactly equal. The interpolated values and the 3×3 products must agree to within a few float32 roundings.
They cannot be bit-equal: the reference does its products in float64, and its `F.interpolate` fuses multiply-adds
(FMA) in some channels and not in others.
"""

import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from skelnb.augment.base import Augmentation, Compose, LinearAugmentation, Params, take_frames
from skelnb.augment.halp import (
    CenterCrop,
    CorruptOrShear,
    JointCorruption,
    PoseShear,
    TemporalRandomResizeCrop,
    crop_lengths,
    from_sequence,
    halp_eval_transform,
    halp_linear_train_transform,
    halp_view_augmentation,
    linear_map,
    randint_below,
    resize_segments,
    scaled_num_joints,
    to_sequence,
    where_joints,
    where_samples,
)
from skelnb.batch import SkeletonBatch, valid_frames
from skelnb.core import shared_data
from skelnb.data.samples import ntu_samples, ucla_samples
from skelnb.layouts import NW_UCLA
from skelnb.testing import reference_resize

U32 = 2.0**-24  # float32 unit roundoff


# ------------------------------------------------------------------------------------------------ test oracles
def oracle_resize(data, start, length, out_frames=64):
    "TEST ORACLE: `reference_resize` (skelnb.testing) of a NumPy (C, T, V, M) sample made a float32 tensor, as NumPy."
    sample = torch.tensor(np.asarray(data), dtype=torch.float)
    return reference_resize(sample, start, length, out_frames).contiguous().numpy()


def oracle_crop_length(n, scale, min_frames=64):
    "TEST ORACLE: the reference's crop length for one scalar draw: floor(n*scale), at least min_frames, at most n."
    return min(max(int(np.floor(n * scale)), min_frames), n)


def oracle_temporal_cropresize(data, n, scale, start, min_frames=64, out_frames=64):
    "TEST ORACLE: temporal_cropresize with its draws given: (view (C, out_frames, V, M) float32, crop length)."
    length = oracle_crop_length(n, scale, min_frames)
    assert 0 <= start <= n - length, "start outside the reference's range"
    return oracle_resize(data, start, length, out_frames), length


def oracle_center_crop(data, n, ratio=0.95, out_frames=64):
    "TEST ORACLE: crop_subsequence's test branch: frames [int((1-ratio)*n/2), n - that), resized."
    start = int((1 - ratio) * n / 2)
    kept = np.asarray(data)[:, start : n - start]
    return oracle_resize(data, start, kept.shape[1], out_frames), start, kept.shape[1]


def oracle_joint_corruption(data, joints, zero, matrix=None):
    "TEST ORACLE: joint_courruption with its draws given: the chosen joints zeroed, or their xyz rows times `matrix`."
    out = np.array(data, dtype=np.float32, copy=True)
    if zero:
        out[:, :, joints, :] = 0
        return out
    picked = out[:, :, joints, :]  # (C, T, k, M)
    rows = np.dot(picked.transpose(1, 2, 3, 0), np.asarray(matrix, dtype=np.float64))  # xyz row vector @ matrix
    out[:, :, joints, :] = rows.transpose(3, 0, 1, 2)  # the assignment casts to float32
    return out


def oracle_pose_shear(data, shear):
    "TEST ORACLE: pose_augmentation with its matrix given: xyz rows times shear transposed, float64 like the reference."
    return np.dot(np.asarray(data).transpose(1, 2, 3, 0), np.asarray(shear, dtype=np.float64).T).transpose(3, 0, 1, 2)


def reference_draw_crop(n, py_rng, np_rng, l_ratio=(0.1, 1.0), min_frames=64):
    "TEST ORACLE: temporal_cropresize's draws in its order (NumPy's global RNG): (scale, length, start)."
    scale = np_rng.rand() * (l_ratio[1] - l_ratio[0]) + l_ratio[0]
    length = oracle_crop_length(n, scale, min_frames)
    return scale, length, np_rng.randint(0, n - length + 1)


def reference_draw_spatial(V, py_rng, np_rng, num_joints=15):
    "TEST ORACLE: one view's spatial draws in the reference's order: ('zero'|'mix', joints, C) or ('shear', None, S)."
    if py_rng.random() < 0.5:  # feeder: joint_courruption
        zero = py_rng.random() < 0.5  # joint_courruption's own coin
        joints = np_rng.choice(V, num_joints, replace=False)
        if zero:
            return "zero", joints, None
        return "mix", joints, np.array([[py_rng.uniform(-1, 1) for _ in range(3)] for _ in range(3)])
    off = [py_rng.uniform(-1, 1) for _ in range(6)]  # pose_augmentation, row by row
    return "shear", None, np.array([[1, off[0], off[1]], [off[2], 1, off[3]], [off[4], off[5], 1]])


def reference_view(data, n, py_rng, np_rng, num_joints=15):
    "TEST ORACLE: one pretraining view as the reference feeder makes it, with its own draws; float32 (C, 64, V, M)."
    scale, length, start = reference_draw_crop(n, py_rng, np_rng)
    view, _ = oracle_temporal_cropresize(data, n, scale, start)
    kind, joints, matrix = reference_draw_spatial(data.shape[2], py_rng, np_rng, num_joints)
    if kind == "shear":
        return oracle_pose_shear(view, matrix).astype(np.float32), kind
    return oracle_joint_corruption(view, joints, kind == "zero", matrix), kind


# ------------------------------------------------------------------------------------------------ helpers
def assert_rounding_close(got, want, magnitude, ulps=4):
    "`got` equals `want` to within `ulps` float32 roundings of `magnitude` (the sum of |terms| behind each value)."
    got, want, magnitude = (np.asarray(a, dtype=np.float64) for a in (got, want, magnitude))
    assert got.shape == want.shape, (got.shape, want.shape)
    err = np.abs(got - want)
    bad = err > ulps * U32 * magnitude
    assert not bad.any(), (
        f"{bad.sum()} of {bad.size} values off by more than {ulps} roundings (max error {err.max():.3g})"
    )


def abs_linear(data, matrix, transpose):
    "Σ|m||x| for each output coordinate of a 3x3 product (the error scale of the float32 result)."
    m = np.abs(np.asarray(matrix, dtype=np.float64))
    return np.einsum("ij,itvm->jtvm" if transpose else "ji,itvm->jtvm", m, np.abs(np.asarray(data, dtype=np.float64)))


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


@pytest.fixture(scope="module", params=["ntu", "ucla"])
def real(request):
    return request.getfixturevalue(request.param)


def absent_second(x):
    "Samples whose second body is all zero."
    return (x[..., 1] == 0).flatten(1).all(1)


# ------------------------------------------------------------------------------------------------ valid frames
def test_real_data_as_expected(ntu, ucla):
    x, n = ntu
    assert x.shape == (5, 3, 300, 25, 2) and n.tolist() == [82, 70, 100, 71, 124]
    assert absent_second(x).tolist() == [True, False, True, True, True]
    xu, nu = ucla
    assert xu.shape == (5, 3, 300, 20, 2) and nu.tolist() == [1, 6, 31, 179, 201] and absent_second(xu).all()


def test_valid_frames_contract(ntu):
    x, n = ntu
    assert torch.equal(valid_frames(x, n), n)
    assert torch.equal(valid_frames(x), torch.full((5,), 300))
    assert torch.equal(valid_frames(x, [400, 300, 299, 1, 82]), torch.tensor([300, 300, 299, 1, 82]))
    assert torch.equal(valid_frames(x, n.numpy()), n)
    with pytest.raises(TypeError, match="integers"):
        valid_frames(x, n.double())
    with pytest.raises(TypeError, match="integers"):
        valid_frames(x, torch.ones(5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        valid_frames(x, n[None])
    with pytest.raises(ValueError, match=">= 1"):
        valid_frames(x, [1, 2, -3, 4, 5])
    with pytest.raises(ValueError, match=">= 1"):
        SkeletonBatch(x, [0, 1, 1, 1, 1])


def test_randint_below_uniform():
    high = torch.tensor([1, 2, 7, 151, 300])
    draws = randint_below(high.repeat(30_000), torch.Generator().manual_seed(0)).view(-1, 5)
    assert (draws >= 0).all() and (draws < high).all()
    for k, h in enumerate(high.tolist()):
        if h == 1:
            continue
        counts = np.bincount(draws[:, k].numpy(), minlength=h)
        assert stats.chisquare(counts).pvalue > 1e-4, (h, counts)


# ------------------------------------------------------------------------------------------------ crops
def test_crop_length_formula_exact():
    g = torch.Generator().manual_seed(0)
    n = torch.arange(1, 301).repeat_interleave(200)
    scale = torch.rand(len(n), generator=g) * 0.9 + 0.1
    got = crop_lengths(n, scale)
    want = [oracle_crop_length(int(a), float(s)) for a, s in zip(n, scale)]
    assert got.tolist() == want
    got = crop_lengths(n, scale, min_frames=16)
    assert got.tolist() == [oracle_crop_length(int(a), float(s), 16) for a, s in zip(n, scale)]


@pytest.mark.parametrize("out_frames", [64, 50, 1])
def test_resize_weights_exactly_torch(out_frames):
    "One-hot frames give the interpolation weights: exactly F.interpolate's, for every length 1..300."
    for L in range(1, 301):
        onehot = torch.eye(L).view(1, 1, L, L, 1)
        weights = resize_segments(onehot, torch.tensor([0]), torch.tensor([L]), out_frames)[0, 0, :, :, 0].T
        ref = F.interpolate(torch.eye(L)[None, :, :, None], size=(out_frames, 1), mode="bilinear", align_corners=False)
        assert torch.equal(weights, ref[0, :, :, 0]), L


def test_resize_float64_positions():
    "Float64 data use float64 positions and weights, as PyTorch does; the values match F.interpolate in float64."
    x = torch.randn(3, 3, 90, 4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    start, length = torch.tensor([0, 10, 26]), torch.tensor([90, 64, 31])
    out = resize_segments(x, start, length, 64)
    for i in range(3):
        seg = x[i, :, start[i] : start[i] + length[i]].permute(0, 2, 3, 1).reshape(1, -1, length[i], 1)
        ref = (
            F.interpolate(seg, size=(64, 1), mode="bilinear", align_corners=False).view(3, 4, 2, 64).permute(0, 3, 1, 2)
        )
        torch.testing.assert_close(out[i], ref, rtol=0, atol=1e-14)


def test_take_frames_any_strides(ntu):
    "The contiguous fast path (index_select) and the strided path (advanced indexing) take the same frames."
    x, _ = ntu
    frames = randint_below(torch.full((5 * 64,), 300), torch.Generator().manual_seed(0)).view(5, 64)
    want = torch.stack([x[i][:, frames[i]] for i in range(5)])
    assert torch.equal(take_frames(x, frames), want)
    strided = x.permute(0, 1, 2, 4, 3).contiguous().permute(0, 1, 2, 4, 3)  # same values, other strides
    assert not strided.is_contiguous() and torch.equal(take_frames(strided, frames), want)
    expanded = x[1:2].expand(5, -1, -1, -1, -1)
    assert torch.equal(take_frames(expanded, frames), torch.stack([x[1][:, frames[i]] for i in range(5)]))
    p = TemporalRandomResizeCrop().sample(SkeletonBatch(x), torch.Generator().manual_seed(1))
    assert torch.equal(resize_segments(strided, p["start"], p["length"]), resize_segments(x, p["start"], p["length"]))


def test_batched_helpers_by_hand():
    x = torch.arange(2 * 3 * 2 * 4 * 2, dtype=torch.float32).view(2, 3, 2, 4, 2)
    m = torch.stack([torch.eye(3), torch.tensor([[0.0, 1, 0], [0, 0, 1], [1, 0, 0]])])  # identity, then a cycle
    y = linear_map(x, m)
    assert torch.equal(y[0], x[0]) and torch.equal(y[1], x[1][[1, 2, 0]])
    cond = torch.tensor([True, False])
    assert torch.equal(where_samples(cond, x, -x), torch.stack([x[0], -x[1]]))
    joints = torch.tensor([[True, False, False, True], [False, False, False, False]])
    got = where_joints(joints, -x, x)
    assert torch.equal(got[0][:, :, [0, 3]], -x[0][:, :, [0, 3]]) and torch.equal(
        got[0][:, :, [1, 2]], x[0][:, :, [1, 2]]
    )
    assert torch.equal(got[1], x[1])


@pytest.mark.parametrize("ratios", [(0.1, 1.0), (0.5, 1.0)])
def test_temporal_crop_matches_oracle(real, ratios):
    x, n = real
    crop = TemporalRandomResizeCrop(*ratios)
    for seed in range(4):
        y, p = run(crop, x, n, torch.Generator().manual_seed(seed), return_params=True)
        assert y.shape == (len(x), 3, 64, x.shape[3], 2) and y.dtype == torch.float32
        assert torch.equal(p["num_frames"], n)
        for i in range(len(x)):
            want, length = oracle_temporal_cropresize(x[i].numpy(), int(n[i]), float(p["scale"][i]), int(p["start"][i]))
            assert int(p["length"][i]) == length
            magnitude = oracle_resize(np.abs(x[i].numpy()), int(p["start"][i]), length)
            assert_rounding_close(y[i], want, magnitude)
            assert ratios[0] <= float(p["scale"][i]) <= ratios[1]


def test_linear_train_transform_is_crop_subsequence_training_branch(ntu):
    x, n = ntu
    assert halp_linear_train_transform() == TemporalRandomResizeCrop(
        min_ratio=0.5, max_ratio=1.0, min_frames=64, out_frames=64
    )
    y, p = run(halp_linear_train_transform(), x, n, torch.Generator().manual_seed(0), return_params=True)
    for i in range(5):
        want, length = oracle_temporal_cropresize(x[i].numpy(), int(n[i]), float(p["scale"][i]), int(p["start"][i]))
        assert int(p["length"][i]) == length and length >= min(64, int(n[i]))
        assert_rounding_close(y[i], want, oracle_resize(np.abs(x[i].numpy()), int(p["start"][i]), length))


def test_num_frames_above_stored_frames_are_clipped(ntu):
    "PKU-MMD actions can be longer than the 300 stored frames: the reference crops within min(num_frame, 300)."
    x, _ = ntu
    long = torch.tensor([381, 300, 1000, 82, 299])
    y, p = run(TemporalRandomResizeCrop(), x, long, torch.Generator().manual_seed(1), return_params=True)
    for i in range(5):
        nn_ = min(int(long[i]), 300)
        want, length = oracle_temporal_cropresize(x[i].numpy(), nn_, float(p["scale"][i]), int(p["start"][i]))
        assert int(p["length"][i]) == length
        assert_rounding_close(y[i], want, oracle_resize(np.abs(x[i].numpy()), int(p["start"][i]), length))
    pc = CenterCrop().sample(SkeletonBatch(x, long))
    assert pc["start"].tolist() == [int((1 - 0.95) * min(int(v), 300) / 2) for v in long]


def test_center_crop_matches_oracle(real):
    x, n = real
    y, p = run(halp_eval_transform(), x, n, return_params=True)
    for i in range(len(x)):
        want, start, length = oracle_center_crop(x[i].numpy(), int(n[i]))
        assert (int(p["start"][i]), int(p["length"][i])) == (start, length)
        assert_rounding_close(y[i], want, oracle_resize(np.abs(x[i].numpy()), start, length))


@pytest.mark.parametrize("ratio", [0.95, 0.9, 0.5, 1.0, 0.3333])
def test_center_crop_start_formula_every_length(ratio):
    n = torch.arange(1, 301)
    p = CenterCrop(ratio).sample(SkeletonBatch(torch.zeros(1, 3, 300, 1, 1).expand(300, -1, -1, -1, -1), n))
    want = [int((1 - ratio) * k / 2) for k in range(1, 301)]
    assert p["start"].tolist() == want
    assert p["length"].tolist() == [k - 2 * s for k, s in zip(range(1, 301), want)]


def test_center_crop_without_num_frames_uses_all_frames(ntu):
    x, _ = ntu
    p = CenterCrop().sample(SkeletonBatch(x))
    assert p["start"].tolist() == [7] * 5 and p["length"].tolist() == [286] * 5


# ------------------------------------------------------------------------------------------------ crop draws
def test_crop_scale_distribution():
    shape_only = SkeletonBatch(torch.zeros(1, 3, 300, 1, 1).expand(20_000, -1, -1, -1, -1))
    for lo, hi in ((0.1, 1.0), (0.5, 1.0)):
        p = TemporalRandomResizeCrop(lo, hi).sample(shape_only, torch.Generator().manual_seed(0))
        assert stats.kstest(p["scale"].numpy(), stats.uniform(loc=lo, scale=hi - lo).cdf).pvalue > 1e-4


@pytest.mark.parametrize("n_valid", [300, 124, 82, 70, 31])
def test_crop_length_and_start_distribution_vs_reference(n_valid):
    "Joint (length, start) draws against the reference's own NumPy draws for the same valid length."
    draws = 20_000
    shape_only = torch.zeros(1, 3, 300, 1, 1).expand(draws, -1, -1, -1, -1)
    p = TemporalRandomResizeCrop().sample(
        SkeletonBatch(shape_only, torch.full((draws,), n_valid)), torch.Generator().manual_seed(1)
    )
    np_rng, py_rng = np.random.RandomState(1), random.Random(1)
    ref = np.array([reference_draw_crop(n_valid, py_rng, np_rng)[1:] for _ in range(draws)])
    ours = torch.stack([p["length"], p["start"]], 1).numpy()
    assert (ours[:, 1] + ours[:, 0] <= n_valid).all()
    for column in (0, 1):  # length, start
        values = np.union1d(ours[:, column], ref[:, column])
        if len(values) == 1:
            assert (ours[:, column] == ref[0, column]).all()
            continue
        edges = np.unique(np.quantile(np.concatenate([ours[:, column], ref[:, column]]), np.linspace(0, 1, 21)))
        edges[-1] += 1
        table = np.stack([np.histogram(ours[:, column], edges)[0], np.histogram(ref[:, column], edges)[0]])
        table = table[:, table.sum(0) > 0]
        assert stats.chi2_contingency(table).pvalue > 1e-4, (column, table)


def test_crop_start_uniform_given_length():
    draws = 151 * 200
    shape_only = SkeletonBatch(torch.zeros(1, 3, 300, 1, 1).expand(draws, -1, -1, -1, -1))
    p = TemporalRandomResizeCrop(0.5, 0.5).sample(shape_only, torch.Generator().manual_seed(2))
    assert (p["length"] == 150).all()
    counts = np.bincount(p["start"].numpy(), minlength=151)
    assert len(counts) == 151 and stats.chisquare(counts).pvalue > 1e-4


def test_crop_output_moments_vs_reference(ntu):
    "Mean over many draws of each cropped frame's coordinates: ours against the reference's own draws."
    x, n = ntu
    i, draws = 4, 3000  # the 124-frame sample
    y = run(
        TemporalRandomResizeCrop(),
        x[i : i + 1].expand(draws, -1, -1, -1, -1),
        n[i].repeat(draws),
        torch.Generator().manual_seed(3),
    )
    ours = y.mean((3, 4)).numpy()  # (draws, C, 64)
    np_rng, py_rng = np.random.RandomState(3), random.Random(3)
    ref = np.stack(
        [
            oracle_temporal_cropresize(x[i].numpy(), int(n[i]), *reference_draw_crop(int(n[i]), py_rng, np_rng)[::2])[
                0
            ].mean((2, 3))
            for _ in range(draws)
        ]
    )
    z = (ours.mean(0) - ref.mean(0)) / np.sqrt(ours.var(0) / draws + ref.var(0) / draws + 1e-12)
    assert np.abs(z).max() < 5, np.abs(z).max()


# ------------------------------------------------------------------------------------------------ joint corruption
def joint_corruption_check(x, y, p):
    for i in range(len(x)):
        joints = p["joints"][i].numpy()
        want = oracle_joint_corruption(x[i].numpy(), joints, bool(p["zero"][i]), p["matrix"][i].double().numpy())
        untouched = np.setdiff1d(np.arange(x.shape[3]), joints)
        assert np.array_equal(y[i].numpy()[:, :, untouched], x[i].numpy()[:, :, untouched])  # exactly
        if p["zero"][i]:
            assert np.array_equal(y[i].numpy(), want)  # exactly
        else:
            magnitude = x[i].abs().numpy().copy()
            magnitude[:, :, joints] = abs_linear(x[i].numpy()[:, :, joints], p["matrix"][i], transpose=True)
            assert_rounding_close(y[i], want, magnitude)


@pytest.mark.parametrize("zero", [True, False, None])
def test_joint_corruption_matches_oracle(real, zero):
    x, n = real
    view = run(halp_eval_transform(), x, n)
    num_joints = 15 if x.shape[3] == 25 else scaled_num_joints(x.shape[3])
    jc = JointCorruption(num_joints)
    for seed in range(3):
        p = jc.sample(SkeletonBatch(view), torch.Generator().manual_seed(seed))
        if zero is not None:
            p.tensors["zero"] = torch.full_like(p["zero"], zero)
        y = jc.transform(view, p)
        assert p["joints"].shape == (len(x), num_joints)
        joint_corruption_check(view, y, p)
        assert (y[absent_second(x)][..., 1] == 0).all()


def test_joint_corruption_transpose_by_hand():
    "x' = Cᵀ x: the reference multiplies the xyz row vector by C from the right."
    x = torch.zeros(1, 3, 1, 25, 1)
    x[0, :, 0, 4, 0] = torch.tensor([1.0, 2.0, 3.0])
    C = torch.arange(1.0, 10.0).view(1, 3, 3) / 10
    p = Params(
        "JointCorruption",
        {"joints": torch.tensor([[4] + list(range(6, 20))]), "zero": torch.tensor([False]), "matrix": C},
    )
    got = JointCorruption().transform(x, p)[0, :, 0, 4, 0]
    assert torch.allclose(got, torch.tensor([1.0, 2.0, 3.0]) @ C[0])  # row vector times C
    assert torch.allclose(got, torch.tensor([3.0, 3.6, 4.2]))


def test_joint_corruption_draws_vs_reference():
    draws, V = 20_000, 25
    shape_only = SkeletonBatch(torch.zeros(1, 3, 1, V, 1).expand(draws, -1, -1, -1, -1))
    p = JointCorruption().sample(shape_only, torch.Generator().manual_seed(4))
    joints = p["joints"].numpy()
    assert all(len(set(row)) == 15 for row in joints[:2000])  # without replacement
    inclusion = np.bincount(joints.ravel(), minlength=V)
    assert stats.chisquare(inclusion).pvalue > 1e-4  # every joint equally likely
    np_rng = np.random.RandomState(4)
    ref = np.stack([np_rng.choice(V, 15, replace=False) for _ in range(draws)])
    assert stats.chi2_contingency(np.stack([inclusion, np.bincount(ref.ravel(), minlength=V)])).pvalue > 1e-4
    # a uniformly random subset: a given pair is chosen together with probability 15*14/(25*24)
    both = (joints == 0).any(1) & (joints == 1).any(1)
    assert stats.binomtest(int(both.sum()), draws, 15 * 14 / (25 * 24)).pvalue > 1e-4
    assert stats.binomtest(int(p["zero"].sum()), draws, 0.5).pvalue > 1e-4
    entries = p["matrix"].view(draws, 9).numpy()
    for k in range(9):
        assert stats.kstest(entries[:, k], stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-4
    assert np.abs(np.corrcoef(entries.T) - np.eye(9)).max() < 0.04  # independent entries


def test_scaled_num_joints():
    assert scaled_num_joints(25) == 15 and scaled_num_joints(NW_UCLA.num_joints) == 12 and scaled_num_joints(1) == 1


# ------------------------------------------------------------------------------------------------ shear
def test_pose_shear_matches_oracle(real):
    x, n = real
    view = run(halp_eval_transform(), x, n)
    for seed in range(3):
        y, p = PoseShear()(view, torch.Generator().manual_seed(seed), return_params=True)
        for i in range(len(x)):
            want = oracle_pose_shear(view[i].numpy(), p["matrix"][i].double().numpy())
            assert_rounding_close(
                y[i],
                want.astype(np.float32),
                abs_linear(view[i].numpy(), p["matrix"][i], transpose=False) + np.abs(want),
            )
        assert (y[absent_second(x)][..., 1] == 0).all()


def test_pose_shear_draws_vs_reference():
    draws = 20_000
    p = PoseShear().sample(
        SkeletonBatch(torch.zeros(1, 3, 1, 1, 1).expand(draws, -1, -1, -1, -1)), torch.Generator().manual_seed(5)
    )
    m = p["matrix"].numpy()
    assert (np.diagonal(m, axis1=1, axis2=2) == 1).all()
    off = m[:, [0, 0, 1, 1, 2, 2], [1, 2, 0, 2, 0, 1]]
    py_rng = random.Random(5)
    ref = np.array([[py_rng.uniform(-1, 1) for _ in range(6)] for _ in range(draws)])
    for k in range(6):
        assert stats.kstest(off[:, k], stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-4
        assert stats.ks_2samp(off[:, k], ref[:, k]).pvalue > 1e-4
    assert np.abs(np.corrcoef(off.T) - np.eye(6)).max() < 0.04
    amp = PoseShear(0.25).sample(
        SkeletonBatch(torch.zeros(1, 3, 1, 1, 1).expand(2000, -1, -1, -1, -1)), torch.Generator().manual_seed(0)
    )
    assert amp["matrix"].abs().max() == 1 and amp["matrix"][:, 0, 1].abs().max() <= 0.25


# ------------------------------------------------------------------------------------------------ corrupt or shear
def test_corrupt_or_shear_matches_oracle(real):
    x, n = real
    view = run(halp_eval_transform(), x, n)
    cs = CorruptOrShear(corruption=JointCorruption(15 if x.shape[3] == 25 else 12))
    for seed in range(6):
        y, p = cs(view, torch.Generator().manual_seed(seed), return_params=True)
        for i in range(len(x)):
            if p["corrupt"][i]:
                sub = Params("JointCorruption", {k: v[i : i + 1] for k, v in p["corruption"].items()})
                joint_corruption_check(view[i : i + 1], y[i : i + 1], sub)
            else:
                want = oracle_pose_shear(view[i].numpy(), p["shear"]["matrix"][i].double().numpy())
                assert_rounding_close(
                    y[i],
                    want.astype(np.float32),
                    abs_linear(view[i].numpy(), p["shear"]["matrix"][i], False) + np.abs(want),
                )


def test_corrupt_or_shear_outcomes_vs_reference():
    draws = 20_000
    p = CorruptOrShear().sample(
        SkeletonBatch(torch.zeros(1, 3, 1, 25, 1).expand(draws, -1, -1, -1, -1)), torch.Generator().manual_seed(6)
    )
    ours = np.bincount(np.where(~p["corrupt"].numpy(), 2, np.where(p["corruption"]["zero"].numpy(), 0, 1)), minlength=3)
    py_rng, np_rng = random.Random(6), np.random.RandomState(6)
    kinds = [reference_draw_spatial(25, py_rng, np_rng)[0] for _ in range(draws)]
    ref = np.array([kinds.count(k) for k in ("zero", "mix", "shear")])
    assert stats.chisquare(ours, draws * np.array([0.25, 0.25, 0.5])).pvalue > 1e-4
    assert stats.chi2_contingency(np.stack([ours, ref])).pvalue > 1e-4


def test_view_output_moments_vs_reference(ntu):
    "The whole pretraining view, many draws on one real two-person sample: output statistics against the reference's."
    x, n = ntu
    i, draws = 1, 2000  # S001C003P008R002A058, two bodies
    y = run(
        halp_view_augmentation(),
        x[i : i + 1].expand(draws, -1, -1, -1, -1),
        n[i].repeat(draws),
        torch.Generator().manual_seed(7),
    ).numpy()
    py_rng, np_rng = random.Random(7), np.random.RandomState(7)
    ref = np.stack([reference_view(x[i].numpy(), int(n[i]), py_rng, np_rng)[0] for _ in range(draws)])

    def summary(v):  # per draw: per-channel mean and mean square, and the fraction of exactly-zero joints
        zero_joints = (v == 0).all(1).all(1).mean((-1, -2))
        return np.concatenate([v.mean((2, 3, 4)), (v**2).mean((2, 3, 4)), zero_joints[:, None]], axis=1)

    a, b = summary(y), summary(ref)
    for k in range(a.shape[1]):
        assert stats.ks_2samp(a[:, k], b[:, k]).pvalue > 1e-4, k
        z = (a[:, k].mean() - b[:, k].mean()) / math.sqrt(a[:, k].var() / draws + b[:, k].var() / draws + 1e-18)
        assert abs(z) < 5, (k, z)


# ------------------------------------------------------------------------------------------------ invariants
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_dtype_shape_finite_and_absent_person(real, dtype):
    x, n = real
    x = x.to(dtype)
    V = x.shape[3]
    single = absent_second(x)
    for aug in (
        halp_view_augmentation(15 if V == 25 else 12),
        halp_eval_transform(),
        halp_linear_train_transform(),
        TemporalRandomResizeCrop(0.1, 1.0, min_frames=8, out_frames=50),
    ):
        y = run(aug, x, n, torch.Generator().manual_seed(0))
        assert y.dtype == dtype and y.device == x.device
        assert y.shape == (len(x), 3, getattr(aug, "out_frames", 64), V, 2)
        assert torch.isfinite(y).all()
        assert (y[single][..., 1] == 0).all()
    for aug in (JointCorruption(12), PoseShear(), CorruptOrShear(corruption=JointCorruption(12))):
        y = aug(x[:, :, :64])
        assert y.dtype == dtype and y.shape == x[:, :, :64].shape and torch.isfinite(y).all()
        assert (y[single][..., 1] == 0).all()


def test_one_person_and_any_layout(real):
    x, n = real
    one = x[..., :1].contiguous()
    y = run(halp_view_augmentation(12), one, n, torch.Generator().manual_seed(0))
    assert y.shape == (len(x), 3, 64, x.shape[3], 1)
    y2 = run(halp_view_augmentation(12), x, n, torch.Generator().manual_seed(0))
    assert torch.equal(y, y2[..., :1])  # persons are augmented alike, independently


def test_without_num_frames_all_stored_frames_are_valid(ntu):
    x, _ = ntu
    _, p = TemporalRandomResizeCrop()(x, torch.Generator().manual_seed(0), return_params=True)
    assert (p["num_frames"] == 300).all() and (p["length"] >= 64).all()
    y = Compose([TemporalRandomResizeCrop(), CorruptOrShear()])(x, torch.Generator().manual_seed(0))  # plain Compose
    assert y.shape == (5, 3, 64, 25, 2)


def test_reproducible_and_replayable(real):
    x, n = real
    view = halp_view_augmentation(12)
    a, pa = run(view, x, n, torch.Generator().manual_seed(42), return_params=True)
    b, pb = run(view, x, n, torch.Generator().manual_seed(42), return_params=True)
    c = run(view, x, n, torch.Generator().manual_seed(43))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert pa == pb and torch.equal(pa[0]["start"], pb[0]["start"])
    assert torch.equal(pa[1]["shear"]["matrix"], pb[1]["shear"]["matrix"])
    assert torch.equal(view.apply(SkeletonBatch(x, n), pa).x, a)
    torch.manual_seed(0)
    d = run(view, x, n)  # no generator: torch's default one
    torch.manual_seed(0)
    e = run(view, x, n)
    assert torch.equal(d, e)


def test_repr_shows_settings():
    assert (
        repr(TemporalRandomResizeCrop())
        == "TemporalRandomResizeCrop(min_ratio=0.1, max_ratio=1.0, min_frames=64, out_frames=64)"
    )
    assert repr(CenterCrop()) == "CenterCrop(ratio=0.95, out_frames=64)"
    assert "JointCorruption(num_joints=12, p_zero=0.5)" in repr(halp_view_augmentation(12))
    assert "PoseShear(amplitude=1.0)" in repr(halp_view_augmentation())
    assert isinstance(halp_view_augmentation(), Compose) and isinstance(PoseShear(), LinearAugmentation)
    assert isinstance(TemporalRandomResizeCrop(), Augmentation)


# ------------------------------------------------------------------------------------------------ BiGRU layout
def test_sequence_layout_is_the_reference_seq_based(real):
    x, n = real
    v = run(halp_eval_transform(), x, n)
    s = to_sequence(v)
    V = x.shape[3]
    assert s.shape == (len(x), 64, V * 6)
    for i in range(len(x)):
        assert np.array_equal(s[i].numpy(), v[i].numpy().transpose(1, 2, 0, 3).reshape(-1, V * 6))  # feeder 'seq-based'
        assert torch.equal(s[i], v[i : i + 1].permute(0, 2, 3, 1, 4).reshape(1, 64, V * 6)[0])  # builder's permute
    for vv, c, m in ((3, 1, 0), (V - 1, 2, 1)):
        assert torch.equal(s[:, :, vv * 6 + c * 2 + m], v[:, c, :, vv, m])
    assert torch.equal(from_sequence(s), v)
    assert torch.equal(from_sequence(to_sequence(v[..., :1]), num_persons=1), v[..., :1])


# ----------------------------------------------------------------------------------------------- bad settings and input
def test_bad_settings_and_input(ntu):
    x, n = ntu
    with pytest.raises(ValueError, match="min_ratio"):
        TemporalRandomResizeCrop(0.0, 1.0)
    with pytest.raises(ValueError, match="min_ratio"):
        TemporalRandomResizeCrop(0.6, 0.5)
    with pytest.raises(ValueError, match=">= 1"):
        TemporalRandomResizeCrop(min_frames=0)
    with pytest.raises(ValueError, match="ratio"):
        CenterCrop(0.0)
    with pytest.raises(ValueError, match="ratio"):
        CenterCrop(1.5)
    with pytest.raises(ValueError, match=r"num_joints must be in \[1, 25\]"):
        JointCorruption(26)(x)
    with pytest.raises(ValueError, match="3 coordinate channels"):
        JointCorruption()(x[:, :2])
    with pytest.raises(ValueError, match="3 coordinate channels"):
        PoseShear()(torch.zeros(2, 6, 10, 25, 2))
    with pytest.raises(ValueError, match="outside"):
        resize_segments(x, torch.tensor([0, 0, 0, 0, 250]), torch.full((5,), 64))
    with pytest.raises(ValueError, match="outside"):
        resize_segments(x, torch.zeros(5, dtype=torch.long), torch.tensor([64, 64, 0, 64, 64]))
    with pytest.raises(ValueError, match="shape"):
        resize_segments(x, torch.zeros(4, dtype=torch.long), torch.full((4,), 64))
    with pytest.raises(ValueError, match="(N, C, T, V, M)"):
        halp_view_augmentation()(x[0])
    with pytest.raises(TypeError, match="floating"):
        halp_eval_transform()(x.long())
    with pytest.raises(ValueError, match="multiple"):
        from_sequence(torch.zeros(1, 64, 149))
    with pytest.raises(RuntimeError, match="call it"):
        halp_view_augmentation().sample(SkeletonBatch(x, n))


# ------------------------------------------------------------------------------------------------ CUDA
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
