"""HiCLR+HaLP (skelnb.methods.hiclr_halp): real NW-UCLA steps, the loss from the units, schedules, checkpoints."""

import copy

import pytest
import torch

from skelnb.losses import hiclr_loss, nnm_info_nce
from skelnb.methods import HiCLR, HiCLRHaLP, build_method
from skelnb.losses import halp_loss
from skelnb.methods.halp import hallucinate, spherical_kmeans
from conftest import run, train

ENCODER = dict(hidden_channels=4, hidden_dim=16, dropout=0.0)
TINY = dict(layout="nw_ucla", queue_size=8, num_prototypes=3, prototype_keys=6, prototype_every=3, num_positives=10)
TINY |= dict(halp_start_epoch=1, encoder_args=ENCODER)
KEYS = ["generated", "halp", "hierarchy_1", "hierarchy_2", "info", "kept_fraction", "loss", "neg_sim", "pos_sim"]
KEYS = sorted(KEYS + ["hierarchy_kl_1", "hierarchy_kl_2", "query_cosine", "query_std", "refit"])


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(seed=0, **kw):
    torch.manual_seed(seed)
    return HiCLRHaLP.from_flat(**TINY | kw)


def replay(model, batch, g):
    "The next step from the units on copies: HiCLR's terms (NNM in its epochs), HaLP's term on the key, the next fit."
    model, g = copy.deepcopy(model), copy.deepcopy(g)
    views = model.views(batch, g)
    queries = [model.embed(model.encoder_q, v, o, g) for v, o in zip(views.queries, views.query_options)]
    with torch.no_grad():
        model.momentum_update()
        key = model.embed(model.encoder_k, views.key, views.key_options, g)
    terms = hiclr_loss(queries, key, model.queue, 0.07, model.sim, model.weight)
    info = nnm_info_nce(queries, key, model.queue, 0.07, model.topk) if model.uses_nnm else terms.info
    points, _, keep = hallucinate(key, model.halp.prototypes, 10, model.halp.config.lam, model.halp.config.hardness, g)
    pulled = queries[:1] if model.halp_queries == "weakest" else queries
    halp = torch.stack([halp_loss(q, points, keep, 0.07, model.halp.config.mu) for q in pulled]).mean()
    model.enqueue(key)
    recent = model.queue[:, (model.queue_ptr - 6 + torch.arange(6)) % 8].T
    return info + model.weight * sum(terms.hierarchy), halp, keep, spherical_kmeans(recent, 3, g)


@pytest.mark.parametrize("strong, stream, halp_queries", [("Mask", "joint", "weakest"), ("DAE", "bone", "all")])
def test_steps_give_finite_losses_and_move_the_queue(batch, strong, stream, halp_queries):
    model = tiny(strong=strong, stream=stream, halp_queries=halp_queries)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(1, 9):
        out = model.training_step(batch, torch.Generator().manual_seed(step))
        assert sorted(out) == KEYS and all(v.isfinite().all() for v in out.values())
        assert model.queue_ptr.item() == 3 * step % 8
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
    assert out["generated"] and 0 <= out["kept_fraction"].item() <= 1


@pytest.mark.parametrize("halp_queries, recipe, epoch", [("weakest", "paper", 1), ("all", "official", 151)])
def test_loss_is_hiclr_plus_halp_from_the_units_and_the_fit_follows(batch, halp_queries, recipe, epoch):
    model = tiny(halp_queries=halp_queries, recipe=recipe, mu=2.0)
    model.set_epoch(epoch)
    g = torch.Generator().manual_seed(2)
    outs = run(model, batch, g, 7)
    assert [i for i, o in enumerate(outs, 1) if o["refit"]] == [6]
    assert all(o["halp"].item() == 0 and not o["generated"] for o in outs[:6])
    for expect_refit in (False, True):  # steps 8 and 9
        before = model.halp.prototypes.clone()
        hiclr, halp, keep, refit_prototypes = replay(model, batch, g)
        out = model.training_step(batch, g)
        torch.testing.assert_close(out["loss"], hiclr + halp, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(out["halp"], halp.detach(), rtol=1e-5, atol=1e-5)
        assert out["kept_fraction"].item() == keep.float().mean().item() and bool(out["refit"]) == expect_refit
        expected = refit_prototypes if expect_refit else before
        torch.testing.assert_close(model.halp.prototypes, expected)


def test_before_halp_start_epoch_it_is_exactly_hiclr(batch):
    model = tiny(halp_start_epoch=2)
    torch.manual_seed(0)
    hiclr = HiCLR.from_flat(layout="nw_ucla", queue_size=8, encoder_args=ENCODER)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    for _ in range(7):
        a, b = model.training_step(batch, g1), hiclr.training_step(batch, g2)
        assert torch.equal(a["loss"], b["loss"]) and not a["generated"] and not a["refit"]
    assert torch.equal(g1.get_state(), g2.get_state()) and (model.halp.fits, model.halp.keys_seen) == (0, 0)
    model.set_epoch(2)  # the warm-up of 17 keys counts from halp_start_epoch: the first fit after 6 steps
    outs = run(model, batch, g1, 7)
    assert [bool(o["refit"]) for o in outs] == [False] * 5 + [True, False]
    assert [bool(o["generated"]) for o in outs] == [False] * 6 + [True]


def test_key_encoder_changes_only_by_momentum(batch):
    model = tiny(momentum=0.99, recipe="paper")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    g = torch.Generator().manual_seed(0)
    run(model, batch, g, 6)
    for _ in range(2):
        k = [p.detach().clone() for p in model.encoder_k.parameters()]
        q = [p.detach().clone() for p in model.encoder_q.parameters()]
        out = model.training_step(batch, g)
        assert out["generated"]
        for q0, k0, k1 in zip(q, k, model.encoder_k.parameters(), strict=True):
            torch.testing.assert_close(k1, 0.99 * k0 + 0.01 * q0, rtol=1e-6, atol=1e-7)
        optimizer.zero_grad()
        out["loss"].backward()
        assert all(p.grad is None for p in model.encoder_k.parameters()) and not model.halp.prototypes.requires_grad
        optimizer.step()


@pytest.mark.parametrize("steps", [4, 7])  # mid-warm-up; after the first fit, the next refit within the replay
def test_state_dict_round_trip_restores_the_next_steps(batch, steps):
    model = tiny()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    g = torch.Generator().manual_seed(5)
    train(model, optimizer, batch, g, steps)
    fresh = tiny(seed=99)
    fresh.load_state_dict(copy.deepcopy(model.state_dict()))
    fresh_optimizer = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    fresh_optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    results = []
    for m, opt in ((model, optimizer), (fresh, fresh_optimizer)):
        outs = train(m, opt, batch, copy.deepcopy(g), 3)
        results.append((outs, m.state_dict()))
    (a, sa), (b, sb) = results
    assert all(torch.equal(x[k], y[k]) for x, y in zip(a, b) for k in KEYS) and any(o["refit"] for o in a)
    assert all(torch.equal(sa[k], sb[k]) for k in sa if isinstance(sa[k], torch.Tensor))
    assert (fresh.halp.keys_seen, fresh.halp.steps_since_fit) == (model.halp.keys_seen, model.halp.steps_since_fit)


def test_build_method():
    torch.manual_seed(0)
    model = build_method("hiclr_halp", **TINY | dict(encoder_args=None), encoder_hidden_channels=4, halp_queries="all")
    assert type(model) is HiCLRHaLP and model.hparams["method"] == "hiclr_halp"
    assert (model.hparams["halp_queries"], model.hparams["num_prototypes"], model.k) == ("all", 3, 3)
    with pytest.raises(ValueError, match="halp_queries"):
        build_method("hiclr_halp", halp_queries="strong")
