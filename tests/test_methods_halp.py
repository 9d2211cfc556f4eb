"""skelnb.methods.halp (HaLP's geometry) against hand-derived values, brute-force restatements and the closed form's
defining property (anshulbshah/HaLP@ae460b4 moco/generator.py L8-L61, HaLP paper eqs. 2-8).

TEST ORACLES, written for these tests in our own words: `brute_frechet_mean` (plain Riemannian gradient descent in
float64, step 1, run to convergence from the cluster's first key, as geomstats starts), `brute_kmeans` (spherical
Lloyd's in float64, a Python loop over clusters with that mean, until the assignment is stable) and the loops that
restate the rank filter and the HaLP loss pair by pair.
"""

import math

import pytest
import torch
import torch.nn.functional as F

import skelnb.methods
from skelnb.losses import halp_loss
from skelnb.methods.halp import (
    equidistant_t,
    frechet_means,
    geodesic_distance,
    hallucinate,
    kmeanspp_seeds,
    lloyd_step,
    mean_log_map,
    rank_filter,
    slerp,
    spherical_kmeans,
)


def unit(generator, *shape, dim=-1, dtype=torch.float32):
    return F.normalize(torch.randn(*shape, generator=generator, dtype=dtype), dim=dim)


def brute_frechet_mean(points, steps=2000):
    points = points.double()
    m = points[0]
    for _ in range(steps):
        theta = torch.acos((points @ m).clamp(-1, 1))[:, None]
        scale = torch.where(theta > 1e-12, theta / torch.sin(theta).clamp_min(1e-300), torch.ones_like(theta))
        v = (scale * (points - torch.cos(theta) * m)).mean(0)
        if v.norm() < 1e-13:
            break
        m = torch.cos(v.norm()) * m + torch.sin(v.norm()) * v / v.norm()
    return m


def brute_kmeans(x, seeds, max_iter=100):
    x, centroids, labels = x.double(), seeds.double().clone(), None
    for _ in range(max_iter):
        new_labels = torch.acos((x @ centroids.T).clamp(-1, 1)).argmin(1)
        if labels is not None and torch.equal(new_labels, labels):
            break
        labels = new_labels
        for c in range(len(centroids)):
            if (labels == c).any():
                centroids[c] = brute_frechet_mean(x[labels == c], steps=300)
    return centroids


def kmeans_cost(x, centroids, power=2):
    """Mean squared (`power` 2) geodesic distance of a key to its nearest centroid, what Lloyd's with Fréchet means
    minimises; `power` 1: the mean geodesic distance."""
    return torch.acos((x.double() @ centroids.double().T).clamp(-1, 1)).min(1).values.pow(power).mean().item()


def clustered(seed, n=256, dim=16, centres=8, spread=0.3):
    g = torch.Generator().manual_seed(seed)
    c = unit(g, centres, dim)
    return F.normalize(c[torch.randint(centres, (n,), generator=g)] + spread * torch.randn(n, dim, generator=g), dim=1)


# --- distances, seeding, Fréchet means -----------------------------------------------------------------------------


def test_geodesic_distance():
    e = torch.eye(3)
    assert geodesic_distance(e[0], e[1]).item() == pytest.approx(math.pi / 2, abs=1e-6)
    assert geodesic_distance(e[0], -e[0]).item() == pytest.approx(math.pi, abs=1e-6)
    for angle in (1e-6, 1e-4, 0.3):
        b = torch.tensor([math.cos(angle), math.sin(angle), 0.0])
        assert geodesic_distance(e[0], b).item() == pytest.approx(angle, rel=1e-3)


def test_kmeanspp_draws_in_proportion_to_the_distance_not_its_square():
    "Keys e0, e1, -e0: after e0 the next seed is e1 with probability (π/2)/(π/2 + π) = 1/3 (squared: 1/5)."
    x = torch.stack([torch.eye(3)[0], torch.eye(3)[1], -torch.eye(3)[0]])
    g = torch.Generator().manual_seed(0)
    after_e0 = [s for s in (kmeanspp_seeds(x, 2, g) for _ in range(3000)) if s[0, 0] == 1]
    share_e1 = sum(bool(s[1, 1] == 1) for s in after_e0) / len(after_e0)
    assert len(after_e0) > 800 and abs(share_e1 - 1 / 3) < 0.05


def test_kmeanspp_seeds_are_distinct_keys_and_reproducible():
    x = clustered(1)
    g = torch.Generator().manual_seed(2)
    seeds = kmeanspp_seeds(x, 20, g)
    assert len(torch.unique(seeds, dim=0)) == 20 and bool(((seeds @ x.T) > 1 - 1e-6).any(1).all())
    assert torch.equal(kmeanspp_seeds(x, 20, g.manual_seed(5)), kmeanspp_seeds(x, 20, g.manual_seed(5)))


@pytest.mark.parametrize("seed", range(3))
def test_frechet_means_converge_to_the_brute_force_mean(seed):
    g = torch.Generator().manual_seed(seed)
    x = F.normalize(torch.randn(60, 32, generator=g, dtype=torch.float64) + 0.4, dim=1)
    labels = torch.randint(3, (60,), generator=g)
    exact = torch.stack([brute_frechet_mean(x[labels == c]) for c in range(3)])
    close = frechet_means(x, labels, x[:3], steps=30)
    assert geodesic_distance(close, exact).max().item() < 1e-9
    default = frechet_means(x, labels, x[:3])  # FRECHET_STEPS: the documented precision
    counts = torch.bincount(labels, minlength=3).double()[:, None]
    assert mean_log_map(x, labels, default, counts).norm(dim=1).max().item() < 5e-3
    assert geodesic_distance(default, exact).max().item() < 1e-2


def test_frechet_mean_hand_derived():
    e = torch.eye(3, dtype=torch.float64)
    two = frechet_means(e[:2], torch.zeros(2, dtype=torch.long), e[2:])
    assert torch.allclose(two[0], F.normalize(e[0] + e[1], dim=0), atol=1e-12)  # the geodesic midpoint
    ring = torch.tensor([[0.6 * math.cos(a), 0.6 * math.sin(a), 0.8] for a in (0, 2 * math.pi / 3, 4 * math.pi / 3)])
    assert torch.allclose(frechet_means(ring.double(), torch.zeros(3, dtype=torch.long), e[:1])[0], e[2], atol=1e-12)
    antipodal = frechet_means(torch.stack([e[0], -e[0]]), torch.zeros(2, dtype=torch.long), e[1:2])
    assert torch.isfinite(antipodal).all()


# --- k-means -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_spherical_kmeans_no_worse_than_brute_force_lloyd(seed):
    "From the same seeds the brute-force Lloyd's and skelnb's reach the same cost (skelnb's is not higher)."
    x = clustered(10 + seed)
    g = torch.Generator().manual_seed(seed)
    ours = spherical_kmeans(x, 8, g.manual_seed(seed))
    brute = brute_kmeans(x, kmeanspp_seeds(x, 8, g.manual_seed(seed)))
    assert kmeans_cost(x, ours) <= kmeans_cost(x, brute) + 1e-5
    assert kmeans_cost(x, ours, power=1) <= kmeans_cost(x, brute, power=1) + 1e-4
    assert torch.allclose(ours.norm(dim=1), torch.ones(8), atol=1e-5)


@pytest.mark.parametrize("seed", range(3))
def test_spherical_kmeans_no_worse_than_brute_force_on_halp_sized_keys(seed):
    "256 random unit keys in R^128 into 20 clusters (HaLP's fit), both from the same k-means++ seeds."
    g = torch.Generator().manual_seed(100 + seed)
    x = unit(g, 256, 128)
    ours = kmeans_cost(x, spherical_kmeans(x, 20, g.manual_seed(seed)))
    assert ours <= kmeans_cost(x, brute_kmeans(x, kmeanspp_seeds(x, 20, g.manual_seed(seed)))) + 1e-5


def test_spherical_kmeans_reproducible_and_unit():
    x = clustered(3)
    g = torch.Generator()
    a, b = spherical_kmeans(x, 20, g.manual_seed(1)), spherical_kmeans(x, 20, g.manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, spherical_kmeans(x, 20, g.manual_seed(2)))
    assert a.shape == (20, 16) and torch.allclose(a.norm(dim=1), torch.ones(20), atol=1e-5)


def test_empty_cluster_is_reseeded_from_a_key():
    keys = F.normalize(torch.tensor([[1.0, 0.1, 0], [1.0, -0.1, 0], [1.0, 0, 0.1]]), dim=1)
    centroids = torch.stack([torch.eye(3)[0], -torch.eye(3)[0]])  # nobody is nearest the second
    new = lloyd_step(keys, centroids, torch.Generator().manual_seed(0))
    assert bool(((new[1] @ keys.T) > 1 - 1e-6).any())
    few = torch.eye(8)[[0, 1, 2] * 5]  # 3 distinct keys, 5 clusters: some cluster is empty at every iteration
    fit = spherical_kmeans(few, 5, torch.Generator().manual_seed(0), max_iter=20)
    assert torch.isfinite(fit).all() and bool(((fit @ few.T) > 1 - 1e-6).any(1).all())


def test_spherical_kmeans_refuses_bad_input():
    x = clustered(0, n=10)
    with pytest.raises(ValueError, match="num_clusters: expected 1 <= num_clusters <= N = 10"):
        spherical_kmeans(x, 11)
    with pytest.raises(ValueError, match=r"x: expected a floating-point tensor \(N, D\)"):
        spherical_kmeans(x[0], 2)
    with pytest.raises(ValueError, match="max_iter"):
        spherical_kmeans(x, 2, max_iter=0)


# --- t*, slerp, rank filter ---------------------------------------------------------------------------------------


def configurations(seed, n=300, dim=8, clusters=20):
    "Random anchors with their nearest prototype p0 and every other prototype as a target, float64."
    g = torch.Generator().manual_seed(seed)
    protos = unit(g, clusters, dim, dtype=torch.float64)
    anchors = unit(g, n, dim, dtype=torch.float64)
    p0 = (anchors @ protos.T).argmax(1)
    others = torch.stack([torch.tensor([j for j in range(clusters) if j != i]) for i in p0.tolist()])
    return anchors[:, None], protos[p0][:, None], protos[others]


@pytest.mark.parametrize("seed", range(3))
def test_t_star_puts_the_slerp_point_at_equal_distance(seed):
    anchor, p0, target = configurations(seed)
    t = equidistant_t(anchor, p0, target)
    point = slerp(anchor, target, t)
    assert torch.allclose((point * p0).sum(-1), (point * target).sum(-1), atol=1e-6)
    before = slerp(anchor, target, 0.9 * t)  # between the anchor and the boundary: still nearer p0
    assert bool(((before * p0).sum(-1) >= (before * target).sum(-1) - 1e-9).all())


def test_negative_t_star_is_kept_and_equidistant():
    e = torch.eye(3, dtype=torch.float64)
    target, p0, anchor = e[1], F.normalize(e[1] + 0.2 * e[0], dim=0), F.normalize(-e[1] + 0.3 * e[0], dim=0)
    t = equidistant_t(anchor, p0, target)
    omega = torch.acos(anchor @ target)
    kappa = (1 - target @ p0) / (anchor @ (p0 - target))
    assert t.item() < 0 and (kappa + torch.cos(omega)).item() < 0
    assert t.item() == pytest.approx((torch.atan(torch.sin(omega) / (kappa + torch.cos(omega))) / omega).item())
    point = slerp(anchor, target, t)
    assert (point @ p0).item() == pytest.approx((point @ target).item(), abs=1e-6)  # the 1e-8 terms: ~3e-9


def test_degenerate_angles_are_finite():
    e = torch.eye(4)
    near = F.normalize(e[0] + 1e-7 * e[1], dim=0)
    far = F.normalize(-e[0] + 1e-7 * e[1], dim=0)
    for a, b in [(e[0], e[0]), (e[0], near), (e[0], -e[0]), (e[0], far)]:
        for p0 in (e[2], a, F.normalize(a + e[3], dim=0)):
            t = equidistant_t(a, p0, b)
            assert torch.isfinite(t) and torch.isfinite(slerp(a, b, t)).all() and torch.isfinite(slerp(a, b, 0.5)).all()
    tie = F.normalize(e[0] + e[1], dim=0)  # anchor equidistant to p0 and target: κ's denominator is 1e-8
    assert torch.isfinite(equidistant_t(tie, e[0], e[1]))


def test_slerp_keeps_unit_norm_and_meets_its_ends():
    g = torch.Generator().manual_seed(7)
    a, b = unit(g, 50, 16, dtype=torch.float64), unit(g, 50, 16, dtype=torch.float64)
    for t in (-0.7, 0.0, 0.25, 1.0, 1.6):
        assert torch.allclose(slerp(a, b, t).norm(dim=-1), torch.ones(50, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-12) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-12)
    t = torch.rand(50, generator=g, dtype=torch.float64)
    angle_a, angle_b = geodesic_distance(slerp(a, b, t), a), geodesic_distance(slerp(a, b, t), b)
    assert torch.allclose(angle_a + angle_b, geodesic_distance(a, b), atol=1e-9)  # on the great circle, between
    assert torch.allclose(angle_a, t * geodesic_distance(a, b), atol=1e-9)


def test_rank_filter_keeps_exactly_the_right_points():
    g = torch.Generator().manual_seed(8)
    protos, points = unit(g, 6, 4), unit(g, 10, 7, 4)
    p0 = torch.randint(6, (10,), generator=g)
    keep = rank_filter(points, protos, p0)
    for n in range(10):
        for j in range(7):
            sims = [float(points[n, j] @ protos[c]) for c in range(6)]
            assert bool(keep[n, j]) == (max(range(6), key=lambda c: sims[c]) == int(p0[n]))


# --- hallucination and the loss ------------------------------------------------------------------------------------


def halp_setup(seed=0, dim=16):
    g = torch.Generator().manual_seed(seed)
    protos = unit(g, 20, dim)
    keys = F.normalize(protos[torch.randint(20, (64,), generator=g)] + 0.3 * torch.randn(64, dim, generator=g), dim=1)
    return keys, protos, g


def test_hallucinate_targets_points_and_filter():
    keys, protos, g = halp_setup()
    points, targets, keep = hallucinate(keys, protos, num_positives=100, generator=g)
    p0 = (keys @ protos.T).argmax(1)
    assert points.shape == (64, 100, 16) and targets.shape == (64, 100) and keep.dtype == torch.bool
    assert bool((targets != p0[:, None]).all())
    counts = torch.bincount((targets - (targets > p0[:, None]).long()).flatten(), minlength=19)  # rank among the 19
    assert counts.min() > 0.7 * 6400 / 19 and counts.max() < 1.3 * 6400 / 19  # uniform with replacement
    assert torch.allclose(points.norm(dim=-1), torch.ones(64, 100), atol=1e-5)
    assert torch.equal(keep, rank_filter(points, protos, p0)) and 0.5 < keep.float().mean() < 1
    again = hallucinate(keys, protos, num_positives=100, generator=g.manual_seed(0))
    first = hallucinate(keys, protos, num_positives=100, generator=g.manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(again, first))


@pytest.mark.parametrize("hardness,low,high", [("code", 0.2, 1.0), ("paper", 0.0, 0.8)])
def test_hardness_interval(hardness, low, high):
    "t/t*: 'code' draws t in [(1-λ)t*, t*], 'paper' t ~ U(0, λt*); recovered from the point's angle to the anchor."
    keys, protos, g = halp_setup(1)
    keys, protos = keys.double(), protos.double()
    points, targets, _ = hallucinate(keys, protos, num_positives=200, lam=0.8, hardness=hardness, generator=g)
    anchor, target = keys[:, None], protos[targets]
    t_star = equidistant_t(anchor, protos[(keys @ protos.T).argmax(1)][:, None], target)
    t = geodesic_distance(points, anchor) / geodesic_distance(anchor, target) * torch.sign(t_star)
    fraction = (t / t_star).flatten()
    assert fraction.min().item() == pytest.approx(low, abs=0.01) and fraction.max().item() == pytest.approx(
        high, abs=0.01
    )
    assert abs(fraction.mean().item() - (low + high) / 2) < 0.01  # uniform over the interval


def test_hallucinate_refuses_bad_input():
    keys, protos, g = halp_setup()
    with pytest.raises(ValueError, match="hardness: expected one of"):
        hallucinate(keys, protos, hardness="easy")
    with pytest.raises(ValueError, match=r"\(C >= 2, D\)"):
        hallucinate(keys, protos[:1])


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


def test_no_gradient_reaches_keys_prototypes_targets_or_points():
    keys, protos, g = halp_setup(3)
    keys, protos = keys.clone().requires_grad_(), protos.clone().requires_grad_()
    points, targets, keep = hallucinate(keys, protos, generator=g)
    assert not points.requires_grad and not targets.is_floating_point() and not keep.requires_grad
    q = unit(g, 64, 16).requires_grad_()
    points = points.clone().requires_grad_()
    halp_loss(q, points, keep).backward()
    assert q.grad is not None and points.grad is None and keys.grad is None and protos.grad is None
    assert not spherical_kmeans(keys, 20, g).requires_grad


def test_methods_namespace():
    for name in ("spherical_kmeans", "hallucinate", "slerp", "equidistant_t", "rank_filter"):
        assert getattr(skelnb.methods, name) is getattr(skelnb.methods.halp, name)


@pytest.mark.cuda
def test_geometry_on_cuda():
    device = torch.device("cuda")
    g = torch.Generator(device=device).manual_seed(0)
    x = F.normalize(torch.randn(256, 128, generator=g, device=device), dim=1)
    prototypes = spherical_kmeans(x, 20, g)
    assert prototypes.device.type == "cuda" and torch.allclose(prototypes.norm(dim=1), torch.ones(20, device=device))
    assert kmeans_cost(x.cpu(), prototypes.cpu()) <= kmeans_cost(x.cpu(), x[:20].cpu())
    points, targets, keep = hallucinate(x[:64], prototypes, generator=g)
    assert points.device.type == "cuda" and torch.isfinite(halp_loss(x[:64], points, keep)).item()


def test_hallucinate_is_finite_for_degenerate_anchors():
    "Anchors on a prototype (ω = 0 to p0) or opposite one (ω = π to a target): finite points and loss, no NaN."
    _, protos, g = halp_setup(4)
    anchors = torch.cat([protos[:5], -protos[5:10], F.normalize(protos[10:15] + 1e-6 * protos[15:20], dim=1)])
    points, targets, keep = hallucinate(anchors, protos, generator=g)
    assert torch.isfinite(points).all()
    loss = halp_loss(anchors, points, keep)
    assert torch.isfinite(loss)
    t = equidistant_t(anchors[:, None], protos[(anchors @ protos.T).argmax(1)][:, None], protos[targets])
    assert torch.isfinite(t).all()
