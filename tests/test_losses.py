"""skelnb.losses against hand-derived values and per-sample loop restatements of the reference
(JHang2020/HiCLR@49ffdf8 net/hiclr.py, maoyunyao/CMD@6e9a8ac moco/builder_cmd.py).

TEST ORACLES. The `loop_*` functions below were written for these tests, in our own words, from reference §4.1-4.2
(MoCo logits, HiCLR's hierarchical terms and AimCLR's nearest-neighbour mining as HiCLR runs them) and §4.5 (CMD's
distillation). Each works one sample at a time on Python floats, in float64; the tensors under test are float64 too,
so the values must agree to 1e-12.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from skelnb.losses import (
    HiclrLoss,
    cmd_loss,
    contrastive_logits,
    hiclr_loss,
    hierarchy_term,
    info_nce,
    nnm_info_nce,
)


def unit(generator, *shape, dim=-1, dtype=torch.float64):
    return F.normalize(torch.randn(*shape, generator=generator, dtype=dtype), dim=dim)


def dot(u, v):
    return sum(a * b for a, b in zip(u, v))


def column(queue, j):
    return [row[j] for row in queue]


def softmax(v):
    m = max(v)
    e = [math.exp(x - m) for x in v]
    return [x / sum(e) for x in e]


def loop_logits(z, k, queue, T):
    "MoCo's logits of one sample: [z·k, z·m_1, ..., z·m_K] / T (the queue's columns are the m_j)."
    return [dot(z, k) / T] + [dot(z, column(queue, j)) / T for j in range(len(queue[0]))]


def loop_hierarchy(p, y, sim):
    "One sample's hierarchical term between the prediction p and the target y (probability lists)."
    if sim == "kl":
        return -sum(yi * math.log(pi) for yi, pi in zip(y, p))
    if sim == "cosine":
        return 1 - dot(p, y) / math.sqrt(dot(p, p) * dot(y, y))
    return sum(abs(pi - yi) for pi, yi in zip(p, y))


def loop_hiclr(views, k, queue, T=0.07, sim="kl", weight=0.5):
    "HiCLR's loss one sample at a time: InfoNCE of view 0, then view i against view i-1 (weak to strong)."
    n = len(k)
    info = sum(-math.log(softmax(loop_logits(views[0][s], k[s], queue, T))[0]) for s in range(n)) / n
    terms = []
    for i in range(1, len(views)):
        total = 0.0
        for s in range(n):
            y = softmax(loop_logits(views[i - 1][s], k[s], queue, T))
            p = softmax(loop_logits(views[i][s], k[s], queue, T))
            total += loop_hierarchy(p, y, sim)
        terms.append(total / n)
    return info + weight * sum(terms), info, terms


def loop_nnm(views, k, queue, T=0.07, topk=1):
    "AimCLR's mining loss one sample at a time: positives {0} and each view's top-k queue entries (shifted by one)."
    total = 0.0
    for s in range(len(k)):
        positives = {0}
        for z in views:
            sims = [dot(z[s], column(queue, j)) for j in range(len(queue[0]))]
            positives |= {1 + j for j in sorted(range(len(sims)), key=lambda j: -sims[j])[:topk]}
        ell = loop_logits(views[0][s], k[s], queue, T)
        log_z = math.log(sum(math.exp(x) for x in ell))
        total += -sum(ell[j] - log_z for j in positives) / len(positives)
    return total / len(k)


def loop_cmd(queries, keys, queues, topk, Tt=0.05, Ts=0.1):
    "CMD's distillation: for each ordered pair of streams and each sample, KL(teacher top-k || student), batch mean."
    total = 0.0
    for a in range(len(queries)):
        for b in range(len(queries)):
            if a == b:
                continue
            for s in range(len(queries[a])):
                sims = [dot(keys[a][s], column(queues[a], j)) for j in range(len(queues[a][0]))]
                index = sorted(range(len(sims)), key=lambda j: -sims[j])[:topk]
                t = softmax([sims[j] / Tt for j in index])
                p = softmax([dot(queries[b][s], column(queues[b], j)) / Ts for j in index])
                total += sum(ti * (math.log(ti) - math.log(pi)) for ti, pi in zip(t, p)) / len(queries[a])
    return total


def lists(*tensors):
    return [t.tolist() for t in tensors]


# --- MoCo ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("K,T", [(1, 0.07), (4, 0.07), (16, 0.2)])
def test_info_nce_closed_forms(K, T):
    e = torch.eye(K + 2, dtype=torch.float64)
    q, orthogonal_queue = e[:1], e[2:].T
    # identical query and key, negatives orthogonal: log(1 + K e^{-1/T})
    assert info_nce(q, q, orthogonal_queue, T).item() == pytest.approx(math.log1p(K * math.exp(-1 / T)), rel=1e-12)
    # orthogonal query and key, every negative equal to the query: log(1 + K e^{1/T})
    queue_of_q = q.T.repeat(1, K)
    expected = 1 / T + math.log(K + math.exp(-1 / T))  # = log(1 + K e^{1/T}) without overflow
    assert info_nce(q, e[1:2], queue_of_q, T).item() == pytest.approx(expected, rel=1e-12)
    # everything orthogonal: log(1 + K)
    assert info_nce(q, e[1:2], orthogonal_queue, T).item() == pytest.approx(math.log(1 + K), rel=1e-12)


def test_contrastive_logits_values_and_gradients():
    g = torch.Generator().manual_seed(0)
    q, k, queue = unit(g, 4, 6), unit(g, 4, 6), unit(g, 6, 9, dim=0)
    logits = contrastive_logits(q, k, queue, 0.1)
    expected = [loop_logits(*row, queue.tolist(), 0.1) for row in zip(q.tolist(), k.tolist())]
    assert torch.allclose(logits, torch.tensor(expected, dtype=torch.float64), atol=1e-12)
    q_, k_, queue_ = (t.clone().requires_grad_() for t in (q, k, queue))
    info_nce(q_, k_, queue_).backward()
    assert q_.grad is not None and k_.grad is None and queue_.grad is None


def test_contrastive_logits_refuses_bad_shapes():
    q = torch.zeros(2, 4)
    with pytest.raises(ValueError, match="k: expected the shape of q"):
        contrastive_logits(q, torch.zeros(2, 5), torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"queue: expected a tensor \(D, K\) with D = 4"):
        contrastive_logits(q, q, torch.zeros(3, 4))
    with pytest.raises(ValueError, match=r"q: expected a tensor \(N, D\)"):
        info_nce(torch.zeros(4), q, torch.zeros(4, 3))


# --- HiCLR ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("sim", ["kl", "cosine", "l1"])
@pytest.mark.parametrize("num_views", [2, 3, 4])
def test_hiclr_matches_loop(seed, sim, num_views):
    g = torch.Generator().manual_seed(seed)
    views, k, queue = [unit(g, 3, 5) for _ in range(num_views)], unit(g, 3, 5), unit(g, 5, 7, dim=0)
    out = hiclr_loss(views, k, queue, temperature=0.1, sim=sim, weight=0.3)
    total, info, terms = loop_hiclr(lists(*views), k.tolist(), queue.tolist(), 0.1, sim, 0.3)
    assert isinstance(out, HiclrLoss) and len(out.hierarchy) == num_views - 1
    assert out.info.item() == pytest.approx(info, abs=1e-12)
    assert [h.item() for h in out.hierarchy] == pytest.approx(terms, abs=1e-12)
    assert out.total.item() == pytest.approx(total, abs=1e-12)
    assert out.total.item() == pytest.approx(out.info.item() + 0.3 * sum(h.item() for h in out.hierarchy), abs=1e-12)


def test_hiclr_released_total_is_weight_half():
    "The released code's L_info + (L_2 + L_3)/2 is the default weight with three views."
    g = torch.Generator().manual_seed(3)
    views, k, queue = [unit(g, 4, 8) for _ in range(3)], unit(g, 4, 8), unit(g, 8, 16, dim=0)
    out = hiclr_loss(views, k, queue)
    assert out.total.item() == pytest.approx(out.info.item() + (out.hierarchy[0] + out.hierarchy[1]).item() / 2)


def test_hiclr_kl_value_and_gradient():
    "The reported value is the soft-target cross-entropy (= KL + H(target)); its gradient is KL's."
    g = torch.Generator().manual_seed(4)
    v0, v1, k, queue = unit(g, 5, 8), unit(g, 5, 8).requires_grad_(), unit(g, 5, 8), unit(g, 8, 12, dim=0)
    term = hiclr_loss([v0, v1], k, queue).hierarchy[0]
    target = contrastive_logits(v0, k, queue).softmax(-1)
    log_p = contrastive_logits(v1, k, queue).log_softmax(-1)
    kl = F.kl_div(log_p, target, reduction="batchmean")
    entropy = -(target * target.log()).sum(-1).mean()
    assert term.item() == pytest.approx((kl + entropy).item(), abs=1e-12)
    (ours,) = torch.autograd.grad(term, v1)
    (theirs,) = torch.autograd.grad(kl, v1)
    assert torch.allclose(ours, theirs, atol=1e-12)


@pytest.mark.parametrize("sim", ["kl", "cosine", "l1"])
def test_hiclr_stop_gradient_on_the_weaker_view(sim):
    g = torch.Generator().manual_seed(5)
    views = [unit(g, 3, 6).requires_grad_() for _ in range(3)]
    k, queue = unit(g, 3, 6).requires_grad_(), unit(g, 6, 10, dim=0).requires_grad_()
    out = hiclr_loss(views, k, queue, sim=sim)
    grads = torch.autograd.grad(out.hierarchy[1], views, allow_unused=True, retain_graph=True)
    assert grads[0] is None and grads[1] is None and grads[2].abs().sum() > 0  # view 2 pulled towards sg(view 1)
    out.total.backward()
    assert k.grad is None and queue.grad is None


def test_hierarchy_similarities_vanish_on_equal_views():
    g = torch.Generator().manual_seed(6)
    logits = torch.randn(4, 9, generator=g, dtype=torch.float64)
    entropy = -(logits.softmax(-1) * logits.log_softmax(-1)).sum(-1).mean()
    assert hierarchy_term(logits, logits, "kl").item() == pytest.approx(entropy.item(), abs=1e-12)
    for sim in ("cosine", "l1"):
        assert hierarchy_term(logits, logits, sim).item() == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="sim: expected one of"):
        hierarchy_term(logits, logits, "js")


# --- nearest-neighbour mining ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("topk", [1, 2, 5])
@pytest.mark.parametrize("num_views", [1, 3])
def test_nnm_matches_loop(seed, topk, num_views):
    g = torch.Generator().manual_seed(10 + seed)
    views, k, queue = [unit(g, 4, 5) for _ in range(num_views)], unit(g, 4, 5), unit(g, 5, 8, dim=0)
    expected = loop_nnm(lists(*views), k.tolist(), queue.tolist(), 0.07, topk)
    assert nnm_info_nce(views, k, queue, topk=topk).item() == pytest.approx(expected, abs=1e-12)


def test_nnm_counts_a_shared_neighbour_once():
    "Two views with the same nearest queue entry: two positives (the key and that entry), not three."
    e = torch.eye(4, dtype=torch.float64)
    queue = torch.stack([e[0], e[1], e[2]], dim=1)  # (4, 3)
    view = F.normalize(e[0] + 0.1 * e[3], dim=0)[None]
    loss = nnm_info_nce([view, view], e[3:], queue, temperature=1.0)
    ell = contrastive_logits(view, e[3:], queue, 1.0).log_softmax(-1)[0]
    assert loss.item() == pytest.approx(-(ell[0] + ell[1]).item() / 2, abs=1e-12)


def test_nnm_gradient_reaches_the_first_view_only():
    g = torch.Generator().manual_seed(12)
    views = [unit(g, 3, 5).requires_grad_() for _ in range(3)]
    nnm_info_nce(views, unit(g, 3, 5), unit(g, 5, 6, dim=0)).backward()
    assert views[0].grad is not None and views[1].grad is None and views[2].grad is None


# --- CMD -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("topk", [1, 4, 9])
@pytest.mark.parametrize("num_streams", [2, 3])
def test_cmd_matches_loop(seed, topk, num_streams):
    g = torch.Generator().manual_seed(20 + seed)
    queries = [unit(g, 3, 6) for _ in range(num_streams)]
    keys = [unit(g, 3, 6) for _ in range(num_streams)]
    queues = [unit(g, 6, 9, dim=0) for _ in range(num_streams)]
    expected = loop_cmd(lists(*queries), lists(*keys), lists(*queues), topk)
    assert cmd_loss(queries, keys, queues, topk=topk).item() == pytest.approx(expected, abs=1e-12)


def test_cmd_streams_by_name_and_gradients():
    g = torch.Generator().manual_seed(23)
    names = ("joint", "motion", "bone")
    queries = {s: unit(g, 3, 6).requires_grad_() for s in names}
    keys = {s: unit(g, 3, 6).requires_grad_() for s in names}
    queues = {s: unit(g, 6, 9, dim=0).requires_grad_() for s in names}
    by_name = cmd_loss(queries, keys, queues, topk=5)
    in_order = cmd_loss([queries[s] for s in names], [keys[s] for s in names], [queues[s] for s in names], topk=5)
    assert by_name.item() == pytest.approx(in_order.item(), abs=1e-12)
    by_name.backward()
    assert all(queries[s].grad is not None and keys[s].grad is None and queues[s].grad is None for s in names)


def test_cmd_is_zero_when_the_student_is_the_teacher():
    g = torch.Generator().manual_seed(24)
    k, queue = unit(g, 4, 6), unit(g, 6, 10, dim=0)
    assert cmd_loss([k, k], [k, k], [queue, queue], topk=6, teacher_temperature=0.1).item() == pytest.approx(
        0, abs=1e-12
    )


def test_cmd_refuses_bad_input():
    g = torch.Generator().manual_seed(25)
    x, queue = unit(g, 2, 4), unit(g, 4, 5, dim=0)
    with pytest.raises(ValueError, match="topk: expected 1 <= topk <= K = 5"):
        cmd_loss([x, x], [x, x], [queue, queue], topk=6)
    with pytest.raises(ValueError, match="expected the same >= 2 streams"):
        cmd_loss({"joint": x}, {"joint": x}, {"joint": queue}, topk=2)
    with pytest.raises(ValueError, match="expected the same >= 2 streams"):
        cmd_loss({"joint": x, "bone": x}, {"joint": x, "motion": x}, {"joint": queue, "bone": queue}, topk=2)
    with pytest.raises(ValueError, match="queries: expected a dict or a sequence"):
        cmd_loss(x, [x, x], [queue, queue], topk=2)


@pytest.mark.cuda
def test_losses_on_cuda_equal_cpu():
    g = torch.Generator().manual_seed(30)
    views, k, queue = [unit(g, 8, 16, dtype=torch.float32) for _ in range(3)], unit(g, 8, 16, dtype=torch.float32), None
    queue = unit(g, 16, 64, dim=0, dtype=torch.float32)
    cpu = hiclr_loss(views, k, queue)
    gpu = hiclr_loss([v.cuda() for v in views], k.cuda(), queue.cuda())
    assert torch.allclose(gpu.total.cpu(), cpu.total, atol=1e-4)
    assert nnm_info_nce([v.cuda() for v in views], k.cuda(), queue.cuda()).item() == pytest.approx(
        nnm_info_nce(views, k, queue).item(), abs=1e-4
    )
    gpu_cmd = cmd_loss([v.cuda() for v in views], [k.cuda()] * 3, [queue.cuda()] * 3, topk=32)
    assert gpu_cmd.item() == pytest.approx(cmd_loss(views, [k] * 3, [queue] * 3, topk=32).item(), abs=1e-3)
