"""CMD and HaLP+CMD (skelnb.methods.cmd): real NW-UCLA steps, three queues and pairs, distillation, schedule."""

import copy

import pytest
import torch

from skelnb.losses import cmd_loss, info_nce
from skelnb.methods import CMD, CMD_STREAMS, HaLP, HaLPCMD, build_method
from skelnb.losses import halp_loss
from skelnb.methods.halp import hallucinate
from skelnb.streams import to_stream
from conftest import train

TINY = dict(hidden_size=8, num_layers=1)
SMALL = dict(layout="nw_ucla", queue_size=16, topk=4, encoder_args=TINY)
HALP = dict(SMALL, num_prototypes=3, prototype_keys=8, num_positives=5)


pytestmark = pytest.mark.usefixtures("one_thread")


class Recording:
    "Mixin whose `after_step` keeps the step's query and key embeddings (dicts by stream)."

    def after_step(self, views, queries, key, out, generator=None):
        self.last = (views, queries, key)
        super().after_step(views, queries, key, out, generator)


class RecordingCMD(Recording, CMD):
    pass


class RecordingHaLPCMD(Recording, HaLPCMD):
    pass


def build(cls=CMD, seed=0, **kw):
    torch.manual_seed(seed)
    return cls.from_flat(**(HALP if issubclass(cls, HaLPCMD) else SMALL) | kw)


def warmed_halp_cmd(batch, cls=HaLPCMD, **kw):
    "A HaLP+CMD past its warm-up (11 steps of 3 samples: 2K+1 = 33) with fitted prototypes."
    model = build(cls, halp_start_epoch=1, **kw)
    g = torch.Generator().manual_seed(0)
    for _ in range(11):
        model.training_step(batch, g)
    assert all(s.fitted for s in model.halp.values())
    return model, g


@pytest.mark.parametrize("cls", [CMD, HaLPCMD])
def test_steps_give_finite_losses_and_move_every_pointer(batch, cls):
    model = build(cls, halp_start_epoch=1, warmup_samples=3) if cls is HaLPCMD else build(cls)
    g = torch.Generator().manual_seed(0)
    for step in range(3):
        out = model.training_step(batch, g)
        assert all(v.isfinite() for v in out.values()), out
        out["loss"].backward()
        pointers = [getattr(model, model.queue_names(s)[1]).item() for s in CMD_STREAMS]
        assert pointers == [3 * (step + 1)] * 3
    assert (model.iterations.item(), model.samples_seen.item()) == (3, 9)
    if cls is HaLPCMD:
        assert out["halp"].item() < 0 and all(0 < out[f"kept_{s}"] <= 1 for s in CMD_STREAMS)
    model.training_step(batch, g)
    model.training_step(batch, g)
    model.training_step(batch, g)  # 18 keys: every queue of 16 wraps around
    assert [getattr(model, model.queue_names(s)[1]).item() for s in CMD_STREAMS] == [2, 2, 2]


def test_each_key_encoder_changes_only_by_momentum(batch):
    model = build(momentum=0.99)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    g = torch.Generator().manual_seed(0)
    for _ in range(2):
        before = [[p.detach().clone() for p in m.parameters()] for pair in model.momentum_pairs() for m in pair]
        out = model.training_step(batch, g)
        for (q0, k0), (_, key) in zip(zip(before[::2], before[1::2]), model.momentum_pairs(), strict=True):
            for q, k, k1 in zip(q0, k0, key.parameters(), strict=True):
                torch.testing.assert_close(k1, 0.99 * k + 0.01 * q, rtol=1e-6, atol=1e-7)
        optimizer.zero_grad()
        out["loss"].backward()
        assert all(p.grad is None for _, key in model.momentum_pairs() for p in key.parameters())
        optimizer.step()
    queries = [query for query, _ in model.momentum_pairs()]
    assert all(any(not torch.equal(a, b) for a, b in zip(q0, q.parameters())) for q0, q in zip(before[::2], queries))


def test_streams_are_to_stream_of_the_augmented_joint_views(batch):
    model = build()
    inputs = {}
    for s in CMD_STREAMS:
        for role, encoder in zip(("q", "k"), model.stream_encoders(s)):
            encoder.register_forward_pre_hook(lambda m, args, key=(s, role): inputs.__setitem__(key, args[0]))
    g = torch.Generator().manual_seed(3)
    views = model.views(batch, copy.deepcopy(g))  # the same draws as the step's
    model.training_step(batch, g)
    for role, view in (("q", views.queries[0]), ("k", views.key)):
        assert view.stream == "joint" and view.x.shape[2] == 64  # HaLP/CMD views: 64 frames, joints
        for s in CMD_STREAMS:
            assert torch.equal(inputs[s, role], to_stream(view.x, s, "nw_ucla")), (s, role)
    assert not torch.equal(inputs["joint", "q"], inputs["joint", "k"])


def test_losses_are_infonce_per_stream_plus_cmd_loss_on_the_same_embeddings(batch):
    model = build(RecordingCMD, cmd_weight=0.5)
    model.training_step(batch, torch.Generator().manual_seed(0))
    queues = {s: model.stream_queue(s).clone() for s in CMD_STREAMS}
    out = model.training_step(batch, torch.Generator().manual_seed(1))
    _, queries, keys = model.last
    distill = cmd_loss(queries, keys, queues, topk=4, teacher_temperature=0.05, student_temperature=0.1)
    assert torch.equal(out["cmd"], distill.detach())
    info = {s: info_nce(queries[s], keys[s], queues[s], 0.07) for s in CMD_STREAMS}
    assert all(torch.equal(out[f"info_{s}"], info[s].detach()) for s in CMD_STREAMS)
    torch.testing.assert_close(out["loss"], info["joint"] + info["motion"] + info["bone"] + 0.5 * distill)
    for s in CMD_STREAMS:  # the keys were enqueued after the loss, each into its own queue
        assert torch.equal(model.stream_queue(s)[:, 3:6].T, keys[s])
        torch.testing.assert_close(out[f"pos_sim_{s}"], (queries[s] * keys[s]).sum(1).mean())


def test_halp_term_is_halp_loss_per_stream_on_each_streams_key(batch):
    model, g = warmed_halp_cmd(batch, RecordingHaLPCMD, mu=2.0)
    prototypes = {s: model.halp[s].prototypes.clone() for s in CMD_STREAMS}
    replay = copy.deepcopy(g)
    out = model.training_step(batch, g)
    _, queries, keys = model.last
    model.views(batch, replay)  # the step's view draws, then its positives' draws in stream order
    expected = 0
    for s in CMD_STREAMS:
        points, _, keep = hallucinate(keys[s], prototypes[s], 5, 0.8, "code", replay)
        expected = expected + halp_loss(queries[s], points, keep, 0.07)
        assert torch.equal(out[f"kept_{s}"], keep.float().mean())
    torch.testing.assert_close(out["halp"], 2.0 * expected.detach())  # the term added to the loss, μ included
    cmd_part = sum(out[f"info_{s}"] for s in CMD_STREAMS) + out["cmd"]
    torch.testing.assert_close(out["loss"].detach(), cmd_part + 2.0 * expected.detach())


def test_halp_cmd_schedule_mu_warmup_and_refresh(batch):
    model = build(HaLPCMD, mu=2.0, halp_start_epoch=3, prototype_every=3)
    g = torch.Generator().manual_seed(0)
    for epoch in (1, 2):  # μ = 0: no counting, no prototypes, CMD's loss alone
        model.set_epoch(epoch)
        out = model.training_step(batch, g)
        assert (out["mu"].item(), out["halp"].item(), model.halp["joint"].keys_seen) == (0, 0, 0)
        torch.testing.assert_close(out["loss"].detach(), sum(out[f"info_{s}"] for s in CMD_STREAMS) + out["cmd"])
    model.set_epoch(3)
    fits = []
    for step in range(11):  # warm-up: 2K+1 = 33 samples from the start epoch
        out = model.training_step(batch, g)
        assert (out["mu"].item(), out["halp"].item()) == (2.0, 0.0)
        assert all(s.fitted == (step == 10) for s in model.halp.values())
        fits += [model.iterations.item()] if out["refit"] else []
    for _ in range(7):
        out = model.training_step(batch, g)
        assert out["halp"].item() < 0
        fits += [model.iterations.item()] if out["refit"] else []
    assert fits == [13, 16, 19]  # at the end of the step that completes the warm-up, then every 3 steps
    assert {(s.keys_seen, s.fits, s.steps_since_fit) for s in model.halp.values()} == {(54, 3, 1)}


def test_state_dict_round_trip_restores_the_next_step(batch):
    model, g = warmed_halp_cmd(batch, prototype_every=3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train(model, optimizer, batch, g, 2)
    model.set_epoch(7)
    fresh = build(HaLPCMD, seed=123, halp_start_epoch=1, prototype_every=3)
    fresh.load_state_dict(copy.deepcopy(model.state_dict()))
    assert fresh.epoch == 7 and all(s.fitted for s in fresh.halp.values())
    assert {(s.keys_seen, s.fits, s.steps_since_fit) for s in fresh.halp.values()} == {(39, 1, 2)}
    fresh_optimizer = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    fresh_optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    results = []
    for m, opt in ((model, optimizer), (fresh, fresh_optimizer)):
        torch.manual_seed(9)
        out = m.training_step(batch, copy.deepcopy(g))  # 3 steps since the fit, prototype_every 3: a refit
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        results.append((out, m.state_dict()))
    (a, sa), (b, sb) = results
    assert a["halp"].item() < 0 and all(torch.equal(a[k], b[k]) for k in a)
    assert a["refit"] and sa.keys() == sb.keys() and {f"halp.{s}.prototypes" for s in CMD_STREAMS} <= set(sa)
    assert all(torch.equal(sa[k], sb[k]) for k in sa if isinstance(sa[k], torch.Tensor))


def test_build_method_and_bad_parameters():
    model = build_method(
        "halp_cmd", layout="nw_ucla", queue_size=16, topk=4, num_prototypes=3, prototype_keys=8, encoder_hidden_size=8
    )
    assert isinstance(model, HaLPCMD) and model.hparams["method"] == "halp_cmd"
    assert model.encoder_q_bone.hidden_size == 8 and model.hparams["mu"] == 1.0
    assert type(build_method("cmd", layout="nw_ucla", queue_size=16, topk=4, encoder_hidden_size=8)) is CMD
    for kw, name in [
        (dict(topk=17), "topk"),
        (dict(teacher_temperature=0), "teacher_temperature"),
        (dict(prototype_every=0), "prototype_every"),
        (dict(num_prototypes=9), "num_prototypes"),
        (dict(hardness="soft"), "hardness"),
        (dict(halp_start_epoch=0), "halp_start_epoch"),
    ]:
        with pytest.raises(ValueError, match=name):
            HaLPCMD.from_flat(**HALP | kw)


@pytest.mark.parametrize("warmup_from", ["start", "run"])
def test_halp_and_halp_cmd_joint_stream_schedules_agree(batch, warmup_from):
    "Single-modality HaLP and HaLP+CMD's joint stream: the same warm-up, fits, generation and counters, step by step."
    schedule = dict(halp_start_epoch=2, prototype_every=3, warmup_from=warmup_from)
    halp = HaLP.from_flat(**{k: v for k, v in HALP.items() if k != "topk"}, **schedule)
    model = build(HaLPCMD, **schedule)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    counters = lambda s: (s.keys_seen, s.steps_since_fit, s.fits, s.warmup)  # noqa: E731
    log = []
    for step in range(1, 19):
        if step == 4:
            halp.set_epoch(2)
            model.set_epoch(2)
        a, b = halp.training_step(batch, g1), model.training_step(batch, g2)
        assert (bool(a["refit"]), bool(a["generated"])) == (bool(b["refit"]), bool(b["generated"])), step
        assert counters(halp.halp) == counters(model.halp["joint"]), step
        assert all(counters(model.halp[s]) == counters(model.halp["joint"]) for s in CMD_STREAMS)
        log.append(bool(a["refit"]))
    first = 14 if warmup_from == "start" else 11  # 33 keys counted from step 4 (epoch 2), or from step 1
    assert [i for i, r in enumerate(log, 1) if r] == list(range(first, 19, 3))


@pytest.mark.cuda
def test_halp_cmd_step_stays_on_the_gpu(batch):
    "Views, streams, queues, prototypes and every output on the batch's device (nothing copied to the host)."
    model = build(HaLPCMD, halp_start_epoch=1, warmup_samples=3).cuda()
    gpu = batch.to("cuda")
    g = torch.Generator("cuda").manual_seed(0)
    for _ in range(3):
        out = model.training_step(gpu, g)
        out["loss"].backward()
    assert all(v.is_cuda and v.isfinite() for v in out.values())
    assert out["halp"].item() < 0 and model.halp["bone"].prototypes.is_cuda
