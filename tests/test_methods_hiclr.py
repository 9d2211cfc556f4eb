"""HiCLR (skelnb.methods.hiclr): steps on real NW-UCLA batches, the loss against the units, the recipes, checkpoints."""

import copy

import pytest
import torch
import torch.nn.functional as F

from skelnb.augment import paper_settings
from skelnb.losses import hiclr_loss, nnm_info_nce
from skelnb.methods import HiCLR, build_method
from conftest import train

TINY = dict(layout="nw_ucla", queue_size=8, encoder_args=dict(hidden_channels=4, hidden_dim=16, dropout=0.0))


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_hiclr(seed=0, **kw):
    torch.manual_seed(seed)
    return HiCLR.from_flat(**TINY | kw)


def unit_loss(model, batch, seed):
    "The step's loss recomputed on a copy from the units: views, embeddings, momentum update, key, then the losses."
    model = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    views = model.views(batch, g)
    queries = [model.embed(model.encoder_q, v, o, g) for v, o in zip(views.queries, views.query_options)]
    with torch.no_grad():
        model.momentum_update()
        key = model.embed(model.encoder_k, views.key, views.key_options, g)
    terms = hiclr_loss(queries, key, model.queue, 0.07, model.sim, model.weight)
    nnm = nnm_info_nce(queries, key, model.queue, 0.07, model.topk)
    return terms, nnm


@pytest.mark.parametrize(
    "strong, stream", [("Mask", "joint"), ("DAE", "bone"), ("SkeleAdaIN", "motion"), ("Mask", "motion")]
)
def test_steps_give_finite_losses(batch, strong, stream):
    model = tiny_hiclr(strong=strong, stream=stream)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(2):
        out = model.training_step(batch, torch.Generator().manual_seed(step))
        assert sorted(out) == [
            "hierarchy_1",
            "hierarchy_2",
            "hierarchy_kl_1",
            "hierarchy_kl_2",
            "info",
            "loss",
            "neg_sim",
            "pos_sim",
            "query_cosine",
            "query_std",
        ]
        assert all(v.isfinite() for v in out.values())
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
    assert model.queue_ptr.item() == 6 and model.samples_seen.item() == 6


@pytest.mark.parametrize("sim, weight", [("kl", 0.5), ("cosine", 1.0), ("l1", 0.25)])
def test_loss_equals_hiclr_loss_on_the_same_views(batch, sim, weight):
    model = tiny_hiclr(sim=sim, weight=weight, recipe="paper")
    model.enqueue(F.normalize(torch.randn(5, 128), dim=1))
    terms, _ = unit_loss(model, batch, seed=4)
    out = model.training_step(batch, torch.Generator().manual_seed(4))
    torch.testing.assert_close(out["loss"], terms.total, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(out["info"], terms.info.detach(), rtol=1e-6, atol=1e-6)
    for i, h in enumerate(terms.hierarchy, 1):
        torch.testing.assert_close(out[f"hierarchy_{i}"], h.detach(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("recipe", ["official", "paper"])
def test_nnm_switch_at_epoch_151_with_the_official_recipe_only(batch, recipe):
    model = tiny_hiclr(recipe=recipe)
    model.enqueue(F.normalize(torch.randn(6, 128), dim=1))
    for epoch in (1, 150, 151, 300):
        model.set_epoch(epoch)
        nnm = recipe == "official" and epoch >= 151
        assert model.uses_nnm == nnm
        terms, nnm_info = unit_loss(model, batch, seed=epoch)
        expected = (nnm_info + 0.5 * sum(terms.hierarchy)) if nnm else terms.total
        out = copy.deepcopy(model).training_step(batch, torch.Generator().manual_seed(epoch))
        torch.testing.assert_close(out["loss"], expected, rtol=1e-6, atol=1e-6)
        assert not torch.allclose(nnm_info, terms.info)  # the two InfoNCE differ on these views: the switch is seen


def test_recipes_initialise_the_key_encoder_as_released_or_as_copied():
    official, paper = tiny_hiclr(recipe="official"), tiny_hiclr(recipe="paper")
    for model, same in ((official, False), (paper, True)):
        pairs = zip(model.encoder_q.parameters(), model.encoder_k.parameters(), strict=True)
        assert all(torch.equal(q, k) for q, k in pairs) == same
    linear = official.encoder_q.fc[0].weight  # HiCLR's weights_init: N(0, 0.02²)
    assert abs(linear.std().item() - 0.02) < 0.005 and official.encoder_q.edge_importance1.eq(1).all()
    assert official.mask_param.item() == 0


def test_mask_token_is_learned_and_saved(batch):
    model = tiny_hiclr()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    out = model.training_step(batch, torch.Generator().manual_seed(0))
    out["loss"].backward()
    assert model.mask_param.grad is not None and model.mask_param.grad.abs().item() > 0
    optimizer.step()
    assert model.mask_param.item() != 0
    assert "view_augmentation.Mask.token" in model.state_dict()


def test_state_dict_round_trip_restores_the_next_step(batch):
    model = tiny_hiclr(strong="DAE", encoder_args=dict(hidden_channels=4, hidden_dim=16))  # dropout 0.5 as released
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    g = torch.Generator().manual_seed(2)
    train(model, optimizer, batch, g, 2)
    model.set_epoch(151)
    fresh = tiny_hiclr(seed=99, strong="DAE", encoder_args=dict(hidden_channels=4, hidden_dim=16))
    fresh.load_state_dict(copy.deepcopy(model.state_dict()))
    fresh_optimizer = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    fresh_optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    assert fresh.uses_nnm and fresh.iterations.item() == 2
    results = []
    for m, opt in ((model, optimizer), (fresh, fresh_optimizer)):
        torch.manual_seed(11)
        out = m.training_step(batch, copy.deepcopy(g))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        results.append((out, m.state_dict()))
    (a, sa), (b, sb) = results
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(sa[k], sb[k]) for k in sa if isinstance(sa[k], torch.Tensor))


def test_every_paper_setting_is_a_parameter_setting(batch):
    rows = paper_settings()
    for sets, strong, stream, k in rows[["sets", "strong", "stream", "k"]].itertuples(index=False):
        model = build_method("hiclr", sets=sets, strong=strong, stream=stream, **TINY)
        assert model.k == k and model.hparams["sets"] == sets
    for sim in ("kl", "cosine", "l1"):  # Table 3, left
        assert build_method("hiclr", sim=sim, **TINY).sim == sim
    baseline = build_method("hiclr", sets="BA", strong=None, **TINY)  # Table 1's baseline: no hierarchy term
    assert sorted(baseline.training_step(batch, torch.Generator().manual_seed(0))) == [
        "info",
        "loss",
        "neg_sim",
        "pos_sim",
        "query_cosine",
        "query_std",
    ]


def test_bad_parameters_are_named():
    for kw, name in [
        (dict(sets="BA|NA|Strong", strong=None), "sets"),
        (dict(sets="BA|Foo"), "sets"),
        (dict(key="Bar"), "key"),
        (dict(sim="kld"), "sim"),
        (dict(recipe="released"), "recipe"),
        (dict(nnm_epoch=0), "nnm_epoch"),
        (dict(stream="rgb"), "stream"),
    ]:
        with pytest.raises(ValueError, match=name):
            HiCLR.from_flat(**TINY | kw)
    with pytest.raises(ValueError, match="hiclr: unknown parameter 'mu'"):
        build_method("hiclr", mu=1.0)
