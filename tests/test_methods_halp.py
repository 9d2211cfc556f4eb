"""`halp_loss` (HaLP's eq. 8 as coded, anshulbshah/HaLP@ae460b4 `moco/builder_single_modality_halp.py` L212-L218) on
hallucinated positives: hand values, a loop over the kept pairs, gradients, degenerate anchors, CUDA.

The geometry's own checks (k-means, Fréchet means, t*, slerp, the rank filter, `hallucinate`) and their brute-force
oracles are in nbs/43_methods.halp.ipynb, under each unit.
"""

import pytest
import torch
import torch.nn.functional as F

from skelnb.losses import halp_loss
from skelnb.methods.halp import hallucinate, spherical_kmeans


def unit(generator, *shape, dim=-1, dtype=torch.float32):
    return F.normalize(torch.randn(*shape, generator=generator, dtype=dtype), dim=dim)


def halp_setup(seed=0, dim=16):
    g = torch.Generator().manual_seed(seed)
    protos = unit(g, 20, dim)
    keys = F.normalize(protos[torch.randint(20, (64,), generator=g)] + 0.3 * torch.randn(64, dim, generator=g), dim=1)
    return keys, protos, g


def test_halp_loss_hand_values_and_loop():
    e = torch.eye(3)
    points = torch.stack([e[0], e[0], e[1], e[2]])[None]
    assert halp_loss(e[:1], points, torch.tensor([[True, True, False, False]]), mu=2.0).item() == pytest.approx(
        -2 / 0.07, rel=1e-6
    )
    nothing = halp_loss(e[:1], points, torch.zeros(1, 4, dtype=torch.bool))
    assert nothing.item() == 0.0 and torch.isfinite(nothing)
    keys, protos, g = halp_setup(2)
    points, _, keep = hallucinate(keys, protos, generator=g)
    q = unit(g, 64, 16)
    pairs = [(n, j) for n in range(64) for j in range(100) if keep[n, j]]
    expected = -1.5 / 0.1 * sum(float(q[n] @ points[n, j]) for n, j in pairs) / (len(pairs) + 1e-8)
    assert halp_loss(q, points, keep, temperature=0.1, mu=1.5).item() == pytest.approx(expected, rel=1e-5)


def test_no_gradient_reaches_keys_prototypes_or_points():
    keys, protos, g = halp_setup(3)
    keys, protos = keys.clone().requires_grad_(), protos.clone().requires_grad_()
    points, targets, keep = hallucinate(keys, protos, generator=g)
    q = unit(g, 64, 16).requires_grad_()
    points = points.clone().requires_grad_()
    halp_loss(q, points, keep).backward()
    assert q.grad is not None and points.grad is None and keys.grad is None and protos.grad is None


def test_halp_loss_is_finite_for_degenerate_anchors():
    "Anchors on a prototype (ω = 0 to p0) or opposite one (ω = π to a target): a finite loss, no NaN."
    _, protos, g = halp_setup(4)
    anchors = torch.cat([protos[:5], -protos[5:10], F.normalize(protos[10:15] + 1e-6 * protos[15:20], dim=1)])
    points, _, keep = hallucinate(anchors, protos, generator=g)
    assert torch.isfinite(halp_loss(anchors, points, keep))


@pytest.mark.cuda
def test_geometry_on_cuda():
    "k-means, hallucination and the loss on a CUDA device (the k-means' own checks: the notebook's #| cuda cell)."
    device = torch.device("cuda")
    g = torch.Generator(device=device).manual_seed(0)
    x = F.normalize(torch.randn(256, 128, generator=g, device=device), dim=1)
    prototypes = spherical_kmeans(x, 20, g)
    points, targets, keep = hallucinate(x[:64], prototypes, generator=g)
    assert points.device.type == "cuda" and torch.isfinite(halp_loss(x[:64], points, keep)).item()
