"""skelnb.graph (HiCLR's Drop/Add Edges) against the reference, on the NTU and NW-UCLA graphs.

TEST ORACLE. `oracle_drop_add` is a per-tensor NumPy restatement (written for these tests, in our own words) of what
HiCLR's `net/st_gcn.py` / `net/dsta.py` do given the random values they drew: drop_graph (nn.Dropout with p = r) or
drop_graph2 (rescaled to the sum), then randadd (marks where the graph is zero, set to 1 or to the mean, the whole
scaled back to the sum). It works in float64, as the reference does.
"""

import numpy as np
import pytest
import torch
from scipy import stats

from skelnb.graph import DropAddEdges, apply_drop_add, drop_add_adjacency, drop_add_attention, sample_drop_add
from skelnb.layouts import NTU25, NW_UCLA


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def uniform_ks(values, low, high):
    return stats.kstest(np.asarray(values, np.float64).ravel(), "uniform", args=(low, high - low)).pvalue


def oracle_drop_add(A, keep, r_drop, add, value="one", rescale="dropout"):
    "TEST ORACLE: drop_graph (nn.Dropout p=r) or drop_graph2, then randadd, on one whole tensor A, given the marks."
    A = np.asarray(A, np.float64)
    out = A * keep
    if rescale == "dropout":
        out = out / (1 - r_drop)
    elif rescale == "sum":
        out = out * A.sum() / out.sum()
    soa = out.sum()
    ind = np.where(add, 1.0 if value == "one" else soa / A.size, 0.0)
    ind[out != 0] = 0.0
    if ind.sum() == 0:
        return out
    return (out + ind) * (soa / (soa + ind.sum()))


def ntu_spatial_adjacency():
    """A (3, 25, 25) ST-GCN-like adjacency of the NTU graph (test helper): Â = (adjacency + I) D⁻¹ split in self-loops,
    edges away from the centre and edges towards it (the encoders' exact partition is not needed here)."""
    a = NTU25.adjacency().astype(np.float64)
    a_hat = a / a.sum(0, keepdims=True)
    d = NTU25.hop_distance
    edge = (a > 0) & ~np.eye(25, dtype=bool)
    A0 = np.where(np.eye(25, dtype=bool), a_hat, 0)
    A1 = np.where(edge & (d[:, None] >= d[None, :]), a_hat, 0)  # [j, i]: source j, target i
    A2 = np.where(edge & (d[:, None] < d[None, :]), a_hat, 0)
    return torch.from_numpy(np.stack([A0, A1, A2]))


@pytest.mark.parametrize("rescale", ["dropout", "sum", "none"])
def test_drop_add_matches_oracle(rescale):
    A = ntu_spatial_adjacency()
    np.testing.assert_allclose(A.sum(0).numpy(), NTU25.adjacency() / NTU25.adjacency().sum(0), atol=1e-12)
    for seed in range(5):
        graph = A[None]
        p = sample_drop_add(graph.shape, 0.3, 0.2, gen(seed))
        got = apply_drop_add(graph, p, 1.0, rescale)[0]
        want = oracle_drop_add(
            A.numpy(), p["keep"][0].numpy(), float(p["drop_rate"][0]), p["add"][0].numpy(), "one", rescale
        )
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    att = torch.rand(4, 3, 25, 25, dtype=torch.float64)
    for per_sample in (False, True):
        graph = att if per_sample else att[None]
        p = sample_drop_add(graph.shape, 0.1, 0.05, gen(9))
        got = apply_drop_add(graph, p, "mean", rescale)
        for k in range(len(graph)):
            want = oracle_drop_add(
                graph[k].numpy(), p["keep"][k].numpy(), float(p["drop_rate"][k]), p["add"][k].numpy(), "mean", rescale
            )
            np.testing.assert_allclose(got[k].numpy(), want, rtol=1e-12, atol=1e-12)


def test_drop_add_draws():
    A = ntu_spatial_adjacency()
    p = sample_drop_add((8000, *A.shape), 0.1, 0.05, gen(18))
    assert uniform_ks(p["drop_rate"], 0, 0.1) > 1e-3 and uniform_ks(p["add_rate"], 0, 0.05) > 1e-3
    # given its rate, each entry is dropped / marked independently with that probability
    dropped = (~p["keep"]).float().mean((1, 2, 3)).numpy()
    marked = p["add"].float().mean((1, 2, 3)).numpy()
    n = A.numel()
    z_drop = (dropped - p["drop_rate"].numpy()) / np.sqrt(
        p["drop_rate"].numpy() * (1 - p["drop_rate"].numpy()) / n + 1e-12
    )
    z_add = (marked - p["add_rate"].numpy()) / np.sqrt(p["add_rate"].numpy() * (1 - p["add_rate"].numpy()) / n + 1e-12)
    assert abs(z_drop.mean()) < 0.05 and abs(z_drop.std() - 1) < 0.05
    assert abs(z_add.mean()) < 0.05 and abs(z_add.std() - 1) < 0.05


def test_drop_add_rates_and_conservation():
    "On the NTU ST-GCN adjacency: realised drop/add rates and the sums, per sample."
    A = ntu_spatial_adjacency()
    nonzero = A != 0
    out = drop_add_adjacency(A, 0.1, 0.0, gen(19), num_samples=5000)
    dropped = ((out == 0) & nonzero).sum((1, 2, 3)).double() / nonzero.sum()
    assert abs(dropped.mean().item() - 0.05) < 0.003  # E[r] = 0.1 / 2
    assert abs(out.sum((1, 2, 3)).mean().item() / A.sum().item() - 1) < 0.005  # dropout keeps the sum on average
    out = drop_add_adjacency(A, 0.0, 0.05, gen(20), num_samples=5000)
    added = ((out != 0) & ~nonzero).sum((1, 2, 3)).double() / (~nonzero).sum()
    assert abs(added.mean().item() - 0.025) < 0.002
    np.testing.assert_allclose(out.sum((1, 2, 3)).numpy(), A.sum().item(), rtol=1e-12)  # adding keeps it exactly
    out = drop_add_adjacency(A, 0.1, 0.05, gen(21), num_samples=500, drop_rescale="sum")
    np.testing.assert_allclose(out.sum((1, 2, 3)).numpy(), A.sum().item(), rtol=1e-12)
    # with the add step, the edges that exist keep their relative weights
    out = drop_add_adjacency(A, 0.0, 0.05, gen(22), num_samples=10)
    ratio = out[:, nonzero] / A[nonzero]
    np.testing.assert_allclose(ratio.numpy(), ratio[:, :1].expand_as(ratio).numpy(), rtol=1e-12)


def test_drop_add_gradients_and_defaults():
    att = torch.rand(2, 3, 20, 20, requires_grad=True)
    out = drop_add_attention(att, 0.2, 0.1, gen(0))
    out.sum().backward()
    assert att.grad is not None and torch.isfinite(att.grad).all()
    assert DropAddEdges().attention(att.detach(), gen(0)).shape == att.shape
    assert drop_add_attention(att.detach(), 0.2, 0.1, gen(0), per_sample=True).shape == att.shape
    # st_gcn's randadd adds ones, dsta's adds the mean: DropAddEdges picks by target
    A = torch.from_numpy(NW_UCLA.adjacency())[None]
    dae = DropAddEdges(drop_rate=0.0, add_rate=0.9)
    out = dae.adjacency(A, gen(1))
    new = (out != 0) & (A == 0)
    assert new.any() and torch.allclose(
        out[new], out[A != 0][0].expand(int(new.sum()))
    )  # added edges weigh like existing ones
    with pytest.raises(ValueError, match="num_samples"):
        DropAddEdges(per_sample=True).adjacency(A)
    assert DropAddEdges(per_sample=True).adjacency(A, gen(1), num_samples=3).shape == (3, 1, 20, 20)
    # a zero tensor (nothing to keep) stays zero, without 0/0
    assert torch.equal(drop_add_attention(torch.zeros(2, 3, 5, 5), 0.5, 0.5, gen(2)), torch.zeros(2, 3, 5, 5))


def test_noop_settings():
    A = ntu_spatial_adjacency()
    assert torch.equal(drop_add_adjacency(A, 0.0, 0.0, gen()), A)


def test_bad_settings():
    with pytest.raises(ValueError, match="drop_rescale"):
        drop_add_adjacency(ntu_spatial_adjacency(), drop_rescale="x")
    with pytest.raises(ValueError, match="K, V, V"):
        drop_add_adjacency(torch.zeros(25, 25))
    with pytest.raises(ValueError, match="N, S, V, V"):
        drop_add_attention(torch.zeros(3, 25, 25))


def test_draws_are_the_batch_draws():
    "Drop/Add Edges draws through skelnb.batch.uniform: the rates first, then the per-entry marks."
    from skelnb.batch import uniform

    g = gen(5)
    p = sample_drop_add((2, 4, 4), 0.3, 0.2, gen(5))
    r_drop = uniform((2,), 0.0, 0.3, g)
    keep = uniform((2, 4, 4), 0, 1, g) >= r_drop.view(2, 1, 1)
    assert torch.equal(p["drop_rate"], r_drop) and torch.equal(p["keep"], keep)


@pytest.mark.cuda
def test_cuda_drop_add():
    A = ntu_spatial_adjacency()
    want = drop_add_adjacency(A, 0.3, 0.2, gen(1), num_samples=4)
    got = drop_add_adjacency(A.cuda(), 0.3, 0.2, gen(1), num_samples=4)  # CPU draws, GPU tensors
    np.testing.assert_allclose(got.cpu().numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
