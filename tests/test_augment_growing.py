"""skelnb.augment.growing (HiCLR's growing augmentation, paper §3.2 eq. 2) against the reference's view branches.

TEST ORACLES. The `oracle_*` functions (shared with test_augment_hiclr.py, in skelnb.testing) and the `reference_*`
functions below are per-sample NumPy restatements, written for these tests in our own words, of what the reference
does (JHang2020/HiCLR@49ffdf8 feeder/tools.py, feeder/ntu_feeder.py L54-L120, processor/utils.py L42-L57):
- `HiCLR:feeder/tools.py`: temperal_crop, shear, random_spatial_flip (hard-coded NTU list, no mirroring),
  random_rotate (x, then y, then z on row vectors), gaus_noise, GaussianBlurConv (unnormalised 15-tap kernel, zero
  padding), axis_mask;
- `HiCLR:feeder/ntu_feeder.py:Feeder_triple`: data1 = data2 = `_aug` (crop, shear), data3 = data4 = `_strong_aug`
  (crop, shear, flip, rotate, noise, blur, axis mask), each an independent call;
- `HiCLR:processor/utils.py:Jointmask` + `net/hiclr.py`: one (T, V) mask per batch with int(V * 0.1) joints per frame
  drawn by `random.sample`, masked entries of data4 set to the token.
`oracle_*` take the drawn values (for exact comparisons); `reference_*` draw them the reference's way (python `random`
and numpy), for comparing distributions.
"""

import random

import numpy as np
import pytest
import torch
from scipy import stats

from skelnb.augment.base import Compose, Params
from skelnb.augment.growing import GrowingAugmentation, GrowingViews, paper_settings, parse_sets, strategy_name
from skelnb.augment.hiclr import DropAddEdges, GaussianNoise, RandomJointMask, normal_augmentation
from skelnb.core import shared_data
from skelnb.data.samples import ucla_samples
from skelnb.layouts import NTU25, NW_UCLA
from skelnb.streams import to_bone, to_motion
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


# ------------------------------------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def ucla():
    "Three NW-UCLA sequences through HiCLR's pipeline, second person slot empty: (3, 3, 50, 20, 2)."
    if shared_data("nw_ucla", "all_sqe") is None:
        pytest.skip("shared data absent")
    return ucla_samples(["a01_s01_e01_v01", "a06_s03_e02_v02", "a12_s10_e04_v03"]).x


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def views_of(v: GrowingViews):
    return v.views + [v.key]


def chain(*children):
    "The parameters of a `Compose` of steps with these parameters."
    return Params("Compose", children=children)


# ------------------------------------------------------------------------------------------------ test oracles
def oracle_view(x, params, n, token=0.0):
    "TEST ORACLE: a HiCLR view of sample x (C, T, V, M) from the drawn parameters of sample n (BA, NA, Mask recorded)."
    x = np.asarray(x, np.float64)
    crop, shear = params["BA"].children
    x = oracle_shear(
        oracle_temporal_crop(x, 6, int(crop["start"][n])),
        shear["a"][n].double().numpy(),
        shear["b"][n].double().numpy(),
    )
    if "NA" in params:
        flip, rot, noise, blur, axis = params["NA"].children
        x = oracle_flip(x, bool(flip["apply"][n]), REFERENCE_NTU_FLIP)
        x = oracle_rotate(x, rot["degrees"][n].double().numpy())
        x = oracle_noise(x, bool(noise["apply"][n]), GaussianNoise.full_noise(noise)[n].double().numpy())
        x = oracle_blur(x, float(blur["sigma"][n].double()), bool(blur["apply"][n]))
        x = oracle_axis_mask(x, bool(axis["apply"][n]), int(axis["axis"][n]))
    if "Mask" in params:
        x = oracle_joint_mask(x[None], params["Mask"]["mask"].numpy(), token)[0]
    return x


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


# ------------------------------------------------------------------------------------------------ specs
def test_parse_sets_and_names():
    assert parse_sets("BA|NA|Strong") == [("BA",), ("NA",), ("Mask",)]
    assert parse_sets("BA|NA|Strong", "adain") == [("BA",), ("NA",), ("SkeleAdaIN",)]
    assert parse_sets(" ba+NA | mask ") == [("BA", "NA"), ("Mask",)]
    assert strategy_name("gaussianBlur") == "Blur"
    for bad, msg in [
        ("BA|NA|Musk", "unknown augmentation"),
        ("BA|", "stray"),
        ("BA+|NA", "stray"),
        ("BA|NA|BA", "appears twice"),
        ("  ", "empty"),
    ]:
        with pytest.raises(ValueError, match=msg):
            parse_sets(bad)
    with pytest.raises(ValueError, match="uses 'Strong'"):
        parse_sets("BA|Strong", None)


def test_bad_construction_and_input(ntu, ucla):
    with pytest.raises(ValueError, match="unknown stream"):
        GrowingAugmentation(stream="bones")
    with pytest.raises(ValueError, match="unknown augmentation"):
        GrowingAugmentation(key="BB")
    with pytest.raises(ValueError, match=r"\(N, C, T, V, M\)"):
        GrowingAugmentation()(ntu[0], gen())
    with pytest.raises(ValueError, match="25 joints"):
        GrowingAugmentation()(ucla, gen())  # NTU flip on 20 joints
    with pytest.raises(IndexError):
        GrowingAugmentation().view_tokens(3)


TABLE2 = {  # spec -> (view chains v0.., key chain, which of v0.., key hold the mask)
    "BA|NA|Mask": (["BA -> joint", "BA -> NA -> joint", "BA -> NA -> joint -> Mask"], "BA -> joint", [0, 0, 1, 0]),
    "NA|BA|Mask": (["NA -> joint", "NA -> BA -> joint", "NA -> BA -> joint -> Mask"], "NA -> joint", [0, 0, 1, 0]),
    "Mask|BA|NA": (
        ["joint -> Mask", "BA -> joint -> Mask", "BA -> NA -> joint -> Mask"],
        "joint -> Mask",
        [1, 1, 1, 1],
    ),
    "BA+NA|Mask": (["BA -> NA -> joint", "BA -> NA -> joint -> Mask"], "BA -> NA -> joint", [0, 1, 0]),
    "BA|NA+Mask": (["BA -> joint", "BA -> NA -> joint -> Mask"], "BA -> joint", [0, 1, 0]),
}


@pytest.mark.parametrize("spec", list(TABLE2))
def test_table2_structure(ntu, spec):
    chains, key_chain, masked = TABLE2[spec]
    aug = GrowingAugmentation(spec)
    with torch.no_grad():
        aug.augmentations["Mask"].token.fill_(7.0)
    with torch.no_grad():
        v = aug(ntu, gen(1), return_params=True)
    assert aug.k == len(v) == len(chains) and v.chains == chains and v.key_chain == key_chain
    for i, t in enumerate(v.views):
        assert set(v.params[i]) == set(aug.view_tokens(i))
    assert set(v.key_params) == set(aug.sets[0])
    per_view = 5 * 3 * 2 * 50 * int(25 * 0.1)  # N·C·M·T·(joints per frame)
    assert [int((t == 7.0).sum()) for t in views_of(v)] == [per_view * m for m in masked]
    for t in views_of(v):
        assert t.shape == ntu.shape and t.dtype == ntu.dtype and torch.isfinite(t).all()
    assert "k=" in repr(aug) and all(c in repr(v) for c in chains)


def test_every_paper_setting_builds(ntu):
    df = paper_settings()
    assert len(df) == 17 and set(df.table) == {1, 2}
    for r in df.itertuples():
        aug = GrowingAugmentation(r.sets, r.strong, stream=r.stream)
        with torch.no_grad():
            v = aug(ntu, gen(), return_params=True)
        assert len(v) == r.k
        for t in views_of(v):
            assert t.shape == ntu.shape and torch.isfinite(t).all()
        dae = r.strong == "DAE" and r.k == 3
        assert (
            v.encoder_options == [{}, {}, {"drop_add_edges": DropAddEdges()}]
            if dae
            else all(o == {} for o in v.encoder_options)
        )
        if r.strong == "SkeleAdaIN":
            assert "SkeleAdaIN" in v.params[2] and (v.params[2]["SkeleAdaIN"]["style"] != torch.arange(5)).all()


# ------------------------------------------------------------------------------------------------ exactness
def test_default_views_equal_the_oracle_given_the_draws(ntu):
    aug = GrowingAugmentation()
    with torch.no_grad():
        aug.augmentations["Mask"].token.fill_(0.25)
        v = aug(ntu, gen(3), return_params=True)
    for i, params in enumerate([*v.params.children, v.key_params]):
        got = views_of(v)[i]
        for n in range(len(ntu)):
            expected = oracle_view(ntu[n].numpy(), params, n, token=0.25)
            np.testing.assert_allclose(got[n].numpy(), expected, atol=2e-5, rtol=1e-5)


def test_views_compose_the_primitives_and_replay(ntu):
    aug = GrowingAugmentation(stream="bone")
    with torch.no_grad():
        v = aug(ntu, gen(4), return_params=True)
        ba, na, mask = (aug.augmentations[n] for n in ("BA", "NA", "Mask"))
        p = v.params
        both = Compose([ba, na])  # the sets of a view run as one chain
        assert torch.equal(v.views[0], to_bone(ba.transform(ntu, p[0]["BA"]), NTU25))
        assert torch.equal(v.views[1], to_bone(both.transform(ntu, chain(p[1]["BA"], p[1]["NA"])), NTU25))
        assert torch.equal(
            v.views[2], mask.transform(to_bone(both.transform(ntu, chain(p[2]["BA"], p[2]["NA"])), NTU25), p[2]["Mask"])
        )
        assert torch.equal(v.key, to_bone(ba.transform(ntu, v.key_params["BA"]), NTU25))
        one_by_one = to_bone(
            na.transform(ba.transform(ntu, p[1]["BA"]), p[1]["NA"]), NTU25
        )  # equal up to float rounding
        np.testing.assert_allclose(v.views[1].numpy(), one_by_one.numpy(), rtol=0, atol=1e-6)
        again = aug.apply(ntu, v)
        for a, b in zip(views_of(again), views_of(v)):
            assert torch.equal(a, b)
    with pytest.raises(ValueError, match="return_params"):
        aug.apply(ntu, aug(ntu, gen()))


@pytest.mark.parametrize("stream", ["bone", "motion"])
def test_mask_comes_after_the_stream(ntu, stream):
    aug = GrowingAugmentation(stream=stream)
    with torch.no_grad():
        aug.augmentations["Mask"].token.fill_(7.0)
        v = aug(ntu, gen(5), return_params=True)
    m = v.params[2]["Mask"]["mask"]
    assert torch.equal(v.views[2][:, :, m].unique(), torch.tensor([7.0]))  # the token itself, not a difference of it
    convert = (lambda t: to_bone(t, NTU25)) if stream == "bone" else to_motion
    na, ba = aug.augmentations["NA"], aug.augmentations["BA"]
    unmasked = convert(Compose([ba, na]).transform(ntu, chain(v.params[2]["BA"], v.params[2]["NA"])))
    assert torch.equal(v.views[2][:, :, ~m], unmasked[:, :, ~m])


def test_mask_token_is_a_trained_parameter(ntu):
    aug = GrowingAugmentation()
    assert [n for n, _ in aug.named_parameters()] == ["Mask.token"]
    v = aug(ntu, gen())
    assert not v.views[0].requires_grad and v.views[2].requires_grad
    v.views[2].sum().backward()
    assert aug.augmentations["Mask"].token.grad.item() == 5 * 3 * 2 * 50 * 2
    assert aug.to("meta").augmentations["Mask"].token.device.type == "meta"
    own = RandomJointMask(ratio=0.2)
    aug = GrowingAugmentation("BA|NA|Mask", augmentations={"mask": own})
    assert aug.augmentations["Mask"] is own
    with torch.no_grad():
        v = aug(ntu, gen(), return_params=True)
    assert int(v.params[2]["Mask"]["mask"].sum(1).unique()) == 5


def test_dae_is_an_encoder_option(ntu):
    aug = GrowingAugmentation("BA|NA+DAE")
    v = aug(ntu, gen(), return_params=True)
    assert v.encoder_options == [{}, {"drop_add_edges": aug.augmentations["DAE"]}] and v.key_encoder_options == {}
    assert set(v.params[1]) == {"BA", "NA"} and "encoder DAE" in v.chains[1]
    assert list(aug.parameters()) == []


# ------------------------------------------------------------------------------------------------ randomness
def test_fresh_draws_in_every_view(ntu):
    with torch.no_grad():
        v = GrowingAugmentation()(ntu, gen(6), return_params=True)
    crops = [p["BA"][0]["start"] for p in v.params.children] + [v.key_params["BA"][0]["start"]]
    shears = [p["BA"][1]["a"] for p in v.params.children] + [v.key_params["BA"][1]["a"]]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not torch.equal(shears[i], shears[j])
    assert len({tuple(c.tolist()) for c in crops}) == 4
    assert not torch.equal(v.params[1]["NA"][1]["degrees"], v.params[2]["NA"][1]["degrees"])  # v1 and v2 share NA
    assert not torch.equal(v.params[1]["NA"][2]["noise"], v.params[2]["NA"][2]["noise"])
    assert not torch.equal(v.views[0], v.key)
    masks = [GrowingAugmentation()(ntu, gen(s)).views[2].detach() for s in (7, 8)]
    assert not torch.equal(masks[0], masks[1])


def test_reproducible_from_a_seed(ntu):
    aug = GrowingAugmentation()
    with torch.no_grad():
        a, b, c = aug(ntu, gen(9)), aug(ntu, gen(9)), aug(ntu, gen(10))
    for x, y in zip(views_of(a), views_of(b)):
        assert torch.equal(x, y)
    assert all(not torch.equal(x, y) for x, y in zip(views_of(a), views_of(c)))
    torch.manual_seed(0)
    with torch.no_grad():
        d = aug(ntu)  # no generator: torch's default one
    torch.manual_seed(0)
    with torch.no_grad():
        e = aug(ntu)
    assert torch.equal(d.views[2], e.views[2])


def test_absent_person(ucla):
    x = ucla.repeat(20, 1, 1, 1, 1)  # 60 samples, person 2 absent
    with torch.no_grad():
        v = GrowingAugmentation(layout=NW_UCLA)(x, gen(11), return_params=True)
    for t in (v.views[0], v.key):
        assert t[..., 1].abs().max() == 0
    for i in (1, 2):
        noisy = v.params[i]["NA"][2]["apply"]
        assert 0 < noisy.sum() < len(x)
        assert v.views[i][~noisy][..., 1].abs().max() == 0  # zero unless noise was drawn
        assert (
            (v.views[i][noisy][..., 1] != 0).double().mean(dim=(1, 2, 3)) > 0.5
        ).all()  # documented: the reference's noise
    quiet = normal_augmentation(NW_UCLA).augmentations
    quiet[2] = GaussianNoise(keep_absent_zero=True)
    with torch.no_grad():
        v = GrowingAugmentation(layout=NW_UCLA, augmentations={"NA": Compose(quiet)})(x, gen(11))
    for t in views_of(v):
        assert t[..., 1].abs().max() == 0


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


# ------------------------------------------------------------------------------------------------ streams
@pytest.fixture(scope="module")
def prepared(ntu, tmp_path_factory):
    "The five NTU samples as a prepared folder of layout ntu25."
    from skelnb.data.store import write_split

    folder = tmp_path_factory.mktemp("prepared") / "ntu"
    return write_split(folder, ntu.numpy(), [0] * 5, list("abcde"), meta={"layout": "ntu25"})


def test_joint_dataset_gives_bone_views(ntu, prepared):
    from skelnb.data.store import SkeletonDataset

    batch = SkeletonDataset(prepared).get_batch([0, 1, 2])
    aug = GrowingAugmentation(stream="bone")
    v = aug(batch, gen(3), return_params=True)
    assert [t.stream for t in v.views + [v.key]] == ["bone"] * 4
    assert all(t.layout == "ntu25" for t in v.views + [v.key])
    ba = aug.augmentations["BA"]
    assert torch.equal(v.views[0].x, to_bone(ba.transform(ntu[:3], v.params[0]["BA"]), NTU25))
    replayed = aug.apply(batch, v)
    assert all(a.stream == "bone" and torch.equal(a.x, b.x) for a, b in zip(replayed.views, v.views))
    assert GrowingAugmentation()(batch, gen()).key.stream == "joint"


@pytest.mark.parametrize("data_stream", ["bone", "motion"])
@pytest.mark.parametrize("policy_stream", ["joint", "bone", "motion"])
def test_converted_batch_refused(prepared, data_stream, policy_stream):
    "A batch already in the bone or motion stream is refused by every policy, with to_stream's error."
    from skelnb.data.store import SkeletonDataset

    batch = SkeletonDataset(prepared, stream=data_stream).get_batch([0, 1])
    assert batch.stream == data_stream
    with pytest.raises(ValueError, match=f"already a {data_stream} stream"):
        GrowingAugmentation(stream=policy_stream)(batch, gen())


def test_bone_policy_layout_must_match(ucla):
    from skelnb.batch import SkeletonBatch

    with pytest.raises(ValueError, match="layout 'ntu25' given for a batch of layout 'nw_ucla'"):
        GrowingAugmentation("BA", stream="bone")(SkeletonBatch(ucla, layout="nw_ucla"), gen())


def test_module_apply_reaches_the_mask_token():
    "`GrowingAugmentation.apply` is the replay, yet `model.apply(init)` on a module holding the policy still works."
    from torch import nn

    from skelnb.augment.hiclr import RandomJointMask

    growing = GrowingAugmentation("BA|NA|Strong", strong="Mask")
    model = nn.Sequential(growing)
    model.apply(lambda m: nn.init.constant_(m.token, 0.5) if isinstance(m, RandomJointMask) else None)
    assert growing.augmentations["Mask"].token.item() == 0.5
