"""MoCo v2 (skelnb.methods.moco): steps on real NW-UCLA batches, the queue, the momentum update, checkpoints."""

import copy

import pytest
import torch
import torch.nn.functional as F

from skelnb.methods import Contrast, MoCo, build_method
from skelnb.methods.moco import gather_keys
from conftest import run_two_processes, train

TINY = {
    "stgcn": dict(hidden_channels=4, hidden_dim=16),
    "dsta": dict(config=((8, 8, 4, 1), (8, 16, 4, 2))),
    "bigru": dict(hidden_size=8, num_layers=1),
}


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_moco(encoder="stgcn", seed=0, **kw):
    torch.manual_seed(seed)
    return MoCo.from_flat(encoder=encoder, layout="nw_ucla", queue_size=8, encoder_args=TINY[encoder], **kw)


class Recording(MoCo):
    "MoCo whose `after_step` hook keeps the step's key (the extension point HaLP uses)."

    def after_step(self, views, queries, key, out, generator=None):
        self.last_key = key


@pytest.mark.parametrize(
    "encoder, views, stream",
    [("stgcn", "hiclr", "joint"), ("dsta", "hiclr", "bone"), ("bigru", "halp", "motion"), ("stgcn", "halp", "joint")],
)
def test_steps_give_finite_losses(batch, encoder, views, stream):
    moco = tiny_moco(encoder, view_augmentation=views, stream=stream)
    for step in range(2):
        out = moco.training_step(batch, torch.Generator().manual_seed(step))
        assert sorted(out) == ["info", "loss", "neg_sim", "pos_sim", "query_cosine", "query_std"]
        assert all(v.isfinite() for v in out.values())
        out["loss"].backward()
    assert (moco.iterations.item(), moco.samples_seen.item()) == (2, 6)
    assert -1 <= out["pos_sim"].item() <= 1 and -1 <= out["neg_sim"].item() <= 1


def test_queue_pointer_moves_and_holds_the_normalised_keys(batch):
    torch.manual_seed(0)
    moco = Recording.from_flat(layout="nw_ucla", queue_size=8, encoder_args=TINY["stgcn"])
    g = torch.Generator().manual_seed(0)
    old = moco.queue.clone()
    moco.training_step(batch, g)
    key = moco.last_key
    assert moco.queue_ptr.item() == 3
    torch.testing.assert_close(key.norm(dim=1), torch.ones(3))
    assert torch.equal(moco.queue[:, :3].T, key) and torch.equal(moco.queue[:, 3:], old[:, 3:])
    moco.training_step(batch, g)
    moco.training_step(batch, g)  # columns 6, 7, then 0: wraps around the queue of 8
    assert moco.queue_ptr.item() == 1
    assert torch.equal(moco.queue[:, [6, 7, 0]].T, moco.last_key)


def test_key_encoder_changes_only_by_momentum(batch):
    moco = tiny_moco(momentum=0.99)
    optimizer = torch.optim.SGD(moco.parameters(), lr=0.5)
    g = torch.Generator().manual_seed(0)
    for _ in range(2):
        q = [p.detach().clone() for p in moco.encoder_q.parameters()]
        k = [p.detach().clone() for p in moco.encoder_k.parameters()]
        out = moco.training_step(batch, g)
        for q0, k0, k1 in zip(q, k, moco.encoder_k.parameters(), strict=True):
            torch.testing.assert_close(k1, 0.99 * k0 + 0.01 * q0, rtol=1e-6, atol=1e-7)
        optimizer.zero_grad()
        out["loss"].backward()
        assert all(p.grad is None for p in moco.encoder_k.parameters())
        optimizer.step()
    assert any(not torch.equal(a, b) for a, b in zip(q, moco.encoder_q.parameters()))


@pytest.mark.parametrize("encoder_init", ["default", "reference"])
@pytest.mark.parametrize("key_init", ["copy", "redraw"])
def test_key_init(encoder_init, key_init):
    moco = tiny_moco(encoder_init=encoder_init, key_init=key_init)
    pairs = list(zip(moco.encoder_q.parameters(), moco.encoder_k.parameters(), strict=True))
    assert all(not k.requires_grad for _, k in pairs)
    same = all(torch.equal(q, k) for q, k in pairs)
    assert same == (key_init == "copy")
    assert (moco.hparams["encoder_init"], moco.hparams["key_init"]) == (encoder_init, key_init)


def test_state_dict_round_trip_restores_the_next_step(batch):
    moco = tiny_moco()
    optimizer = torch.optim.SGD(moco.parameters(), lr=0.1, momentum=0.9)
    g = torch.Generator().manual_seed(5)
    train(moco, optimizer, batch, g, 2)
    moco.set_epoch(7)
    fresh = tiny_moco(seed=123)
    fresh.load_state_dict(copy.deepcopy(moco.state_dict()))
    assert fresh.epoch == 7 and fresh.iterations.item() == 2 and fresh.samples_seen.item() == 6
    fresh_optimizer = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    fresh_optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    results = []
    for model, opt in ((moco, optimizer), (fresh, fresh_optimizer)):
        torch.manual_seed(9)  # the encoders' dropout draws from torch's global generator
        out = model.training_step(batch, copy.deepcopy(g))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        results.append((out, model.state_dict()))
    (a, sa), (b, sb) = results
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa if isinstance(sa[k], torch.Tensor))


def test_bad_parameters_are_named():
    for kw, name in [
        (dict(queue_size=-1), "queue_size"),
        (dict(momentum=2.0), "momentum"),
        (dict(temperature=0), "temperature"),
        (dict(stream="bones"), "stream"),
        (dict(view_augmentation="simclr"), "view_augmentation"),
        (dict(key_init="clone"), "key_init"),
        (dict(key_init="reference"), "key_init"),
        (dict(encoder_init="normal"), "encoder_init"),
    ]:
        with pytest.raises(ValueError, match=name):
            MoCo.from_flat(**kw)
    with pytest.raises(ValueError, match="epoch"):
        tiny_moco().set_epoch(0)
    with pytest.raises(ValueError, match="queue_size: a global batch of 9"):
        tiny_moco().enqueue(torch.randn(9, 128))
    with pytest.raises(ValueError, match="unknown parameter 'sets'"):
        build_method("moco", sets="BA")


def _enqueue_on_rank(rank, world_size, port, folder):
    torch.distributed.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size
    )
    torch.manual_seed(0)  # the same initial queue on every rank, as DDP's broadcast of buffers gives
    moco = MoCo.from_flat(layout="nw_ucla", queue_size=10, encoder_args=TINY["stgcn"])
    keys = F.normalize(torch.randn(3, 128, generator=torch.Generator().manual_seed(rank)), dim=1)
    moco.enqueue(keys)
    torch.save({"queue": moco.queue, "ptr": moco.queue_ptr, "keys": keys}, f"{folder}/rank{rank}.pt")
    torch.distributed.destroy_process_group()


def test_enqueue_all_gathers_keys_across_processes(tmp_path):
    r0, r1 = run_two_processes(_enqueue_on_rank, tmp_path)
    assert r0["ptr"].item() == r1["ptr"].item() == 6
    assert torch.equal(r0["queue"], r1["queue"])
    assert torch.equal(r0["queue"][:, :6].T, torch.cat([r0["keys"], r1["keys"]]))


def test_gather_keys_without_a_process_group_is_the_identity():
    keys = torch.randn(4, 8)
    assert gather_keys(keys) is keys


def test_extension_points_for_several_queues_and_encoder_pairs():
    "What a multi-stream method (CMD) uses: a second queue with its pointer, a second momentum pair."

    class TwoStreams(MoCo):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.register_buffer("queue_motion", F.normalize(torch.randn(128, 4), dim=0))
            self.register_buffer("queue_ptr_motion", torch.zeros((), dtype=torch.long))
            self.motion_q = torch.nn.Linear(3, 3)
            self.motion_k = copy.deepcopy(self.motion_q).requires_grad_(False)

        def momentum_pairs(self):
            return super().momentum_pairs() + [(self.motion_q, self.motion_k)]

    torch.manual_seed(0)
    model = TwoStreams(layout="nw_ucla", contrast=Contrast(queue_size=8, momentum=0.5), encoder_args=TINY["stgcn"])
    keys = F.normalize(torch.randn(3, 128), dim=1)
    model.enqueue(keys, "queue_motion", "queue_ptr_motion")
    assert (model.queue_ptr_motion.item(), model.queue_ptr.item()) == (3, 0)
    assert torch.equal(model.queue_motion[:, :3].T, keys)
    with torch.no_grad():
        model.motion_q.weight.add_(1.0)
    before = model.motion_k.weight.clone()
    model.momentum_update()
    torch.testing.assert_close(model.motion_k.weight, 0.5 * before + 0.5 * model.motion_q.weight)
    state = model.state_dict()
    assert {"queue_motion", "queue_ptr_motion", "_extra_state"} <= set(state)
