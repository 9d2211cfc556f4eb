"""HaLP the method (skelnb.methods.halp.HaLP): NW-UCLA steps, warm-up, refresh period, fit order, μ, checkpoints."""

import copy
import dataclasses

import pytest
import torch

from skelnb.losses import info_nce
from skelnb.methods import HaLP, MoCo, build_method, method_parameters
from skelnb.losses import halp_loss
from skelnb.methods.halp import PrototypeSchedule, hallucinate, spherical_kmeans
from conftest import run, run_two_processes, train

# Queue of 8, 3 keys a step: the warm-up of 2·8 + 1 = 17 keys ends with step 6 (18 keys), which triggers the first fit.
TINY = dict(layout="nw_ucla", queue_size=8, num_prototypes=3, prototype_keys=6, prototype_every=3, num_positives=10)
TINY |= dict(halp_start_epoch=1, encoder_args=dict(hidden_size=8, num_layers=1))
KEYS = [
    "generated",
    "halp",
    "info",
    "kept_fraction",
    "loss",
    "neg_sim",
    "pos_sim",
    "query_cosine",
    "query_std",
    "refit",
]


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_halp(seed=0, **kw):
    torch.manual_seed(seed)
    return HaLP.from_flat(**TINY | kw)


def replay(model, batch, g):
    "The next step recomputed from the units on copies: InfoNCE, HaLP's term, then the enqueue and a fit of the keys."
    model, g = copy.deepcopy(model), copy.deepcopy(g)
    views = model.views(batch, g)
    q = model.embed(model.encoder_q, views.queries[0], None, g)
    with torch.no_grad():
        model.momentum_update()
        key = model.embed(model.encoder_k, views.key, None, g)
    info = info_nce(q, key, model.queue, model.temperature)
    points, targets, keep = hallucinate(
        key, model.halp.prototypes, 10, model.halp.config.lam, model.halp.config.hardness, g
    )
    halp = halp_loss(q, points, keep, model.temperature, model.halp.config.mu)
    model.enqueue(key)
    recent = model.queue[:, (model.queue_ptr - 6 + torch.arange(6)) % 8].T
    return info, halp, keep, spherical_kmeans(recent, 3, g)


@pytest.mark.parametrize(
    "encoder, views, stream, args",
    [("bigru", "halp", "joint", TINY["encoder_args"]), ("stgcn", "hiclr", "motion", dict(hidden_channels=4))],
)
def test_steps_give_finite_losses_and_move_the_queue(batch, encoder, views, stream, args):
    model = tiny_halp(encoder=encoder, view_augmentation=views, stream=stream, encoder_args=args)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(1, 9):
        out = model.training_step(batch, torch.Generator().manual_seed(step))
        assert sorted(out) == KEYS
        assert all(v.isfinite().all() for v in out.values())
        assert model.queue_ptr.item() == 3 * step % 8
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
    assert out["generated"].item() and 0 <= out["kept_fraction"].item() <= 1
    assert -1 / 0.07 <= out["halp"].item() <= 1 / 0.07


def test_warm_up_then_a_fit_every_period(batch):
    model = tiny_halp()
    g = torch.Generator().manual_seed(0)
    outs = run(model, batch, g, 13)
    refits = [i for i, o in enumerate(outs, 1) if o["refit"]]
    generated = [i for i, o in enumerate(outs, 1) if o["generated"]]
    assert refits == [6, 9, 12] and generated == list(range(7, 14))
    for o in outs[:6]:  # the warm-up: no HaLP term at all
        assert o["halp"].item() == 0 and o["kept_fraction"].item() == 0 and torch.equal(o["loss"], o["info"])
    assert (model.halp.keys_seen, model.halp.fits, model.halp.steps_since_fit) == (39, 3, 1)


def test_no_fit_before_the_warm_up_ends(batch):
    model = tiny_halp(queue_size=9, prototype_keys=6)  # warm-up of 19 keys: 7 steps of 3 (21 keys)
    g = torch.Generator().manual_seed(0)
    outs = run(model, batch, g, 7)
    assert [bool(o["refit"]) for o in outs] == [False] * 6 + [True]
    assert torch.count_nonzero(model.halp.prototypes) > 0


def test_the_term_is_halp_loss_of_hallucinate_and_the_fit_comes_after_it(batch):
    model = tiny_halp(mu=2.0, hardness="paper")
    g = torch.Generator().manual_seed(1)
    run(model, batch, g, 7)  # a fit after step 6: step 8 uses it, step 9 uses it and refits
    for expect_refit in (False, True):
        before = model.halp.prototypes.clone()
        info, halp, keep, refit_prototypes = replay(model, batch, g)
        out = model.training_step(batch, g)
        torch.testing.assert_close(out["info"], info.detach(), rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(out["halp"], halp.detach(), rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(out["loss"], info + halp, rtol=1e-6, atol=1e-6)
        assert out["kept_fraction"].item() == keep.float().mean().item()
        assert bool(out["refit"]) == expect_refit
        if expect_refit:  # the term used the old prototypes; the new ones fit the keys enqueued by this step
            assert not torch.equal(model.halp.prototypes, before)
            torch.testing.assert_close(model.halp.prototypes, refit_prototypes)
        else:
            assert torch.equal(model.halp.prototypes, before)


def test_mu_schedule_before_halp_start_epoch_is_exactly_moco(batch):
    halp = tiny_halp(halp_start_epoch=3, mu=2.0)
    torch.manual_seed(0)
    moco = MoCo.from_flat(
        encoder="bigru", layout="nw_ucla", queue_size=8, view_augmentation="halp", encoder_args=TINY["encoder_args"]
    )
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    for _ in range(8):  # warm by step 6, yet epoch 1 < 3: nothing generated, nothing fitted, no extra draw
        a, b = halp.training_step(batch, g1), moco.training_step(batch, g2)
        assert torch.equal(a["loss"], b["loss"]) and a["halp"].item() == 0 and not a["refit"] and not a["generated"]
    assert torch.equal(halp.queue, moco.queue) and torch.equal(g1.get_state(), g2.get_state())
    assert halp.halp.fits == 0 and halp.halp.keys_seen == 0  # the warm-up counts from halp_start_epoch
    halp.set_epoch(3)  # as after the reference's resume: 2K+1 = 17 more keys (6 steps) before the first fit
    outs = run(halp, batch, g1, 6)
    assert [bool(o["refit"]) for o in outs] == [False] * 5 + [True] and not any(o["generated"] for o in outs)
    assert all(o["halp"].item() == 0 and torch.equal(o["loss"], o["info"]) for o in outs)
    assert (halp.halp.keys_seen, halp.halp.fits) == (18, 1)
    mu1 = copy.deepcopy(halp)
    mu1.halp.config = dataclasses.replace(mu1.halp.config, mu=1.0)
    a, b = halp.training_step(batch, copy.deepcopy(g1)), mu1.training_step(batch, copy.deepcopy(g1))
    assert a["generated"] and a["halp"].item() < 0
    torch.testing.assert_close(a["halp"], 2 * b["halp"])


def test_key_encoder_changes_only_by_momentum_and_no_gradient_leaves_the_query(batch):
    model = tiny_halp(momentum=0.99)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    g = torch.Generator().manual_seed(0)
    run(model, batch, g, 6)
    for _ in range(3):  # generating steps
        q = [p.detach().clone() for p in model.encoder_q.parameters()]
        k = [p.detach().clone() for p in model.encoder_k.parameters()]
        out = model.training_step(batch, g)
        assert out["generated"]
        for q0, k0, k1 in zip(q, k, model.encoder_k.parameters(), strict=True):
            torch.testing.assert_close(k1, 0.99 * k0 + 0.01 * q0, rtol=1e-6, atol=1e-7)
        optimizer.zero_grad()
        out["loss"].backward()
        assert all(p.grad is None for p in model.encoder_k.parameters())
        assert not model.halp.prototypes.requires_grad and not model.queue.requires_grad
        optimizer.step()
    g2 = torch.Generator().manual_seed(0)
    key = torch.nn.functional.normalize(torch.randn(3, 128, generator=g2), dim=1).requires_grad_()
    points, _, keep = hallucinate(key, model.halp.prototypes, 10, generator=g2)
    assert not points.requires_grad  # no gradient reaches keys or points, even from an anchor that asks for one


@pytest.mark.parametrize("steps", [4, 6, 8, 9])  # mid-warm-up, the step of the first fit, between fits, at a refit
def test_state_dict_round_trip_restores_the_next_step(batch, steps):
    model = tiny_halp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    g = torch.Generator().manual_seed(5)
    train(model, optimizer, batch, g, steps)
    fresh = tiny_halp(seed=123)
    fresh.load_state_dict(copy.deepcopy(model.state_dict()))
    counters = lambda m: (m.halp.keys_seen, m.halp.steps_since_fit, m.halp.fits, m.epoch)  # noqa: E731
    assert counters(fresh) == counters(model) and torch.equal(fresh.halp.prototypes, model.halp.prototypes)
    fresh_optimizer = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    fresh_optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    results = []
    for m, opt in ((model, optimizer), (fresh, fresh_optimizer)):
        outs = train(m, opt, batch, copy.deepcopy(g), 4)  # across the next fit
        results.append((outs, m.state_dict()))
    (a, sa), (b, sb) = results
    assert all(torch.equal(x[k], y[k]) for x, y in zip(a, b) for k in KEYS)
    assert any(o["refit"] for o in a) and sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa if isinstance(sa[k], torch.Tensor))
    assert counters(fresh) == counters(model)


def test_build_method_and_named_errors():
    torch.manual_seed(0)
    model = build_method("halp", **TINY | dict(encoder_args=None), encoder_hidden_size=8, encoder_num_layers=1)
    assert type(model) is HaLP and model.hparams["method"] == "halp" and model.hparams["prototype_every"] == 3
    defaults = method_parameters("halp")
    assert [defaults[k] for k in ("encoder", "layout", "stream", "queue_size")] == ["bigru", "ntu25", "joint", 16384]
    for kw, name in [
        (dict(hardness="hard"), "hardness"),
        (dict(num_positives=0), "num_positives"),
        (dict(halp_start_epoch=0), "halp_start_epoch"),
        (dict(prototype_keys=20), "prototype_keys"),
        (dict(lam=1.5), "lam"),
    ]:
        with pytest.raises(ValueError, match=name):
            HaLP.from_flat(**TINY | kw)


def test_prototype_schedule_counts_steps_across_epochs():
    sched = PrototypeSchedule(num_prototypes=2, dim=4, keys=4, every=2, warmup=5)
    queue, ptr = torch.nn.functional.normalize(torch.randn(4, 8), dim=0), torch.tensor(0)
    fits = [sched.step(queue, ptr, 3, active=step != 2) for step in range(1, 7)]
    # step 2 is inactive: its keys do not count, and step 3 (6 keys counted) completes the warm-up and fits
    assert fits == [False, False, True, False, True, False] and sched.keys_seen == 15


@pytest.mark.parametrize("warmup_from, fits, keys_seen", [("start", [4, 6], 12), ("run", [3, 5], 18)])
def test_warm_up_counts_from_the_start_epoch_or_the_run(warmup_from, fits, keys_seen):
    "Steps 1-2 before halp_start_epoch: 'start' (the reference) counts keys from step 3, 'run' from step 1."
    sched = PrototypeSchedule(num_prototypes=2, dim=4, keys=4, every=2, warmup=5, warmup_from=warmup_from)
    queue, ptr = torch.nn.functional.normalize(torch.randn(4, 8), dim=0), torch.tensor(0)
    assert [step for step in range(1, 7) if sched.step(queue, ptr, 3, active=step >= 3)] == fits
    assert sched.keys_seen == keys_seen


def test_warmup_from_run_fits_at_halp_start_epoch(batch):
    "`warmup_from='run'` counts the MoCo phase's keys: the queue is warm, the first fit follows the first HaLP step."
    model = tiny_halp(halp_start_epoch=2, warmup_from="run")
    g = torch.Generator().manual_seed(0)
    assert not any(o["refit"] or o["generated"] for o in run(model, batch, g, 6))
    assert (model.halp.keys_seen, model.halp.fits) == (18, 0)
    model.set_epoch(2)
    assert [bool(o["refit"]) for o in run(model, batch, g, 4)] == [True, False, False, True]


def _fit_on_rank(rank, world_size, port, folder):
    torch.distributed.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size
    )
    queue = torch.nn.functional.normalize(torch.randn(16, 32, generator=torch.Generator().manual_seed(0)), dim=0)
    sched = PrototypeSchedule(num_prototypes=4, dim=16, keys=24, every=2, warmup=5)
    fitted = sched.step(queue, torch.tensor(3), 6, torch.Generator().manual_seed(100 + rank))  # a seed per rank
    torch.save({"prototypes": sched.prototypes, "fitted": fitted}, f"{folder}/rank{rank}.pt")
    torch.distributed.destroy_process_group()


def test_every_process_gets_rank_0s_prototypes(tmp_path):
    r0, r1 = run_two_processes(_fit_on_rank, tmp_path)
    assert r0["fitted"] and r1["fitted"] and torch.equal(r0["prototypes"], r1["prototypes"])
    queue = torch.nn.functional.normalize(torch.randn(16, 32, generator=torch.Generator().manual_seed(0)), dim=0)
    recent = queue[:, (3 - 24 + torch.arange(24)) % 32].T
    assert torch.equal(r0["prototypes"], spherical_kmeans(recent, 4, torch.Generator().manual_seed(100)))
