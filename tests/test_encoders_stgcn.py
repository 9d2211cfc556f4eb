"""skelnb.encoders.stgcn against the reference ST-GCN of HiCLR, on real data.

TEST ORACLE. `OracleGraph`, `OracleBlock` and `OracleSTGCN` below are a restatement, written for these tests in our own
words, of what `HiCLR:net/utils/graph.py` ('spatial' strategy, max_hop 1), `net/utils/tgcn.py` and `net/st_gcn.py`
(Model + st_gcn) compute, with the reference's module structure and parameter names (so that their state dicts are
state dicts "saved by the reference code"): hop distances by powers of the adjacency up to max_hop (farther = inf),
column normalisation by loops, the partition by nested loops over (j, i), residuals as plain callables, ten
`edge_importance{i}` parameters registered after the modules, `net/hiclr.py`'s MLP wrap of `fc`, and
`processor/pretrain.py`'s `weights_init` matching class names.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from skelnb.graph import DropAddEdges
from skelnb.core import shared_data
from skelnb.encoders.common import LoadResult, projector_mlp, reference_init
from skelnb.encoders.stgcn import (
    STGCN,
    GraphConv,
    STGCNBlock,
    graph_partition,
    hop_distance_to_center,
    load_reference_state_dict,
    normalized_adjacency,
    reference_key_names,
)
from skelnb.layouts import NTU25, NW_UCLA
from skelnb.testing import NTU_BONES_1BASED, UCLA_BONES_1BASED, graph_edges_1based

# ------------------------------------------------------------------------------------------------ oracle
# ST-GCN's graphs (`HiCLR:net/utils/graph.py`, `neighbor_1base`): joint count, 1-based centre, 1-based edges
REF_EDGES_1BASED = {
    "ntu-rgb+d": (25, 21, graph_edges_1based(NTU_BONES_1BASED)),
    "nw-ucla": (20, 3, graph_edges_1based(UCLA_BONES_1BASED)),
}


def oracle_partition(layout_name, max_hop=1):
    n, centre, edges = REF_EDGES_1BASED[layout_name]
    centre -= 1
    links = [(i, i) for i in range(n)] + [(a - 1, b - 1) for a, b in edges]
    adj = np.zeros((n, n))
    for a, b in links:
        adj[a, b] = adj[b, a] = 1
    hop = np.full((n, n), np.inf)
    reach = [np.linalg.matrix_power(adj, d) > 0 for d in range(max_hop + 1)]
    for d in range(max_hop, -1, -1):
        hop[reach[d]] = d
    within = np.zeros((n, n))
    for d in range(max_hop + 1):
        within[hop == d] = 1
    col = within.sum(0)
    norm = np.zeros((n, n))
    for j in range(n):
        for i in range(n):
            norm[j, i] = within[j, i] / col[i] if col[i] > 0 else 0
    parts = []
    for d in range(max_hop + 1):
        root, close, far = np.zeros((n, n)), np.zeros((n, n)), np.zeros((n, n))
        for i in range(n):
            for j in range(n):
                if hop[j, i] != d:
                    continue
                if hop[j, centre] == hop[i, centre]:
                    root[j, i] = norm[j, i]
                elif hop[j, centre] > hop[i, centre]:
                    close[j, i] = norm[j, i]
                else:
                    far[j, i] = norm[j, i]
        parts += [root] if d == 0 else [root + close, far]
    return np.stack(parts)


class OracleGraphConv(nn.Module):
    def __init__(self, c_in, c_out, k):
        super().__init__()
        self.k = k
        self.conv = nn.Conv2d(c_in, c_out * k, kernel_size=(1, 1))

    def forward(self, x, A):
        y = self.conv(x)
        n, kc, t, v = y.shape
        y = y.view(n, self.k, kc // self.k, t, v)
        out = torch.zeros(n, kc // self.k, t, A.shape[-1], dtype=y.dtype)
        for k in range(self.k):  # output w = sum over v of y[..., v] * A[k, v, w]
            out = out + torch.matmul(y[:, k], A[k])
        return out


class OracleBlock(nn.Module):
    def __init__(self, c_in, c_out, k, stride=1, dropout=0.0, residual=True):
        super().__init__()
        self.gcn = OracleGraphConv(c_in, c_out, k)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, (9, 1), (stride, 1), (4, 0)),
            nn.BatchNorm2d(c_out),
            nn.Dropout(dropout, inplace=True),
        )
        if not residual:
            self.residual = lambda x: 0
        elif c_in == c_out and stride == 1:
            self.residual = lambda x: x
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(c_in, c_out, kernel_size=1, stride=(stride, 1)), nn.BatchNorm2d(c_out)
            )

    def forward(self, x, A):
        r = self.residual(x)
        return torch.relu(self.tcn(self.gcn(x, A)) + r)


class OracleSTGCN(nn.Module):
    def __init__(self, layout_name="ntu-rgb+d", num_class=60, hidden=16, hidden_dim=256, dropout=0.5, mlp=False):
        super().__init__()
        self.register_buffer("A", torch.tensor(oracle_partition(layout_name), dtype=torch.float32))
        k, v = self.A.shape[:2]
        self.data_bn = nn.BatchNorm1d(3 * v)
        spec = [
            (3, hidden, 1, False),
            (hidden, hidden, 1, True),
            (hidden, hidden, 1, True),
            (hidden, hidden, 1, True),
            (hidden, 2 * hidden, 2, True),
            (2 * hidden, 2 * hidden, 1, True),
            (2 * hidden, 2 * hidden, 1, True),
            (2 * hidden, 4 * hidden, 2, True),
            (4 * hidden, 4 * hidden, 1, True),
            (4 * hidden, hidden_dim, 1, True),
        ]
        self.st_gcn_networks = nn.ModuleList(
            OracleBlock(a, b, k, s, dropout if res else 0.0, res) for a, b, s, res in spec
        )
        self.fc = nn.Linear(hidden_dim, num_class)
        for i in range(10):
            self.register_parameter(f"edge_importance{i + 1}", nn.Parameter(torch.ones(k, v, v)))
        if mlp:
            self.fc = nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.ReLU(), self.fc)

    def forward(self, x, adjacency=None):
        n, c, t, v, m = x.shape
        y = self.data_bn(x.permute(0, 4, 3, 1, 2).contiguous().view(n * m, v * c, t))
        y = y.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).contiguous().view(n * m, c, t, v)
        for i, blk in enumerate(self.st_gcn_networks):
            base = self.A if adjacency is None else adjacency
            y = blk(y, base * getattr(self, f"edge_importance{i + 1}"))
        y = F.avg_pool2d(y, y.shape[2:]).view(n, m, -1).mean(1)
        return self.fc(y)


def oracle_weights_init(m):
    name = type(m).__name__
    if "Conv1d" in name or "Conv2d" in name or "Linear" in name:
        m.weight.data.normal_(0.0, 0.02)
        if m.bias is not None:
            m.bias.data.fill_(0)
    elif "BatchNorm" in name:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


def randomise(model, seed=0):
    "Trained-looking values everywhere: weights, BN statistics and edge importance away from their initial values."
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name == "A" or t.dtype != torch.float32:
                continue
            if "running_var" in name:
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif "edge_importance" in name:
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.1 + (1.0 if name.endswith("bn.weight") else 0.0))
    return model


# ------------------------------------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def ntu(ntu_hiclr_samples):
    "Two of the NTU samples through HiCLR's pipeline, (2, 3, 50, 25, 2): one person, then two (A058); small for speed."
    return ntu_hiclr_samples[:2]


@pytest.fixture(scope="module")
def ucla():
    "Two NW-UCLA sequences through HiCLR's pipeline, one person slot: (2, 3, 50, 20, 1)."
    from skelnb.data.samples import ucla_samples

    if shared_data("nw_ucla", "all_sqe") is None:
        pytest.skip("shared data absent")
    return ucla_samples(["a01_s01_e01_v01", "a12_s10_e04_v03"]).x[..., :1]


def resample(x, frames):
    "Linear resampling in time of (N, C, T, V, M), to get other frame counts from real data."
    n, c, t, v, m = x.shape
    y = F.interpolate(
        x.permute(0, 1, 3, 4, 2).reshape(n, c * v * m, t), size=frames, mode="linear", align_corners=False
    )
    return y.view(n, c, v, m, frames).permute(0, 1, 4, 2, 3).contiguous()


def count(m):
    return sum(p.numel() for p in m.parameters())


# ------------------------------------------------------------------------------------------------ graph
@pytest.mark.parametrize("layout,name", [(NTU25, "ntu-rgb+d"), (NW_UCLA, "nw-ucla")])
def test_partition_equals_reference(layout, name):
    np.testing.assert_allclose(graph_partition(layout), oracle_partition(name), atol=1e-7)
    assert graph_partition(layout).dtype == np.float32


@pytest.mark.parametrize("layout", [NTU25, NW_UCLA])
def test_partition_full_distance(layout):
    "With true hop distances every edge is split once each way (a tree), and the sums are the same."
    A, Af = graph_partition(layout, "reference"), graph_partition(layout, "full")
    np.testing.assert_allclose(A.sum(0), Af.sum(0), atol=1e-7)
    np.testing.assert_allclose(A.sum(0), normalized_adjacency(layout), atol=1e-7)
    e = len(layout.edges)
    assert [(a > 0).sum() for a in Af] == [layout.num_joints, e, e]
    np.testing.assert_allclose(Af[1], Af[2].T * 0 + Af[1], atol=0)  # shape sanity
    assert ((Af[1] > 0) == (Af[2] > 0).T).all()  # each edge: one direction in A1, the other in A2


def test_hop_distance_truncation():
    d = hop_distance_to_center(NTU25)
    assert d[20] == 0 and (d[[1, 2, 4, 8]] == 1).all() and np.isinf(d).sum() == 20
    assert np.isfinite(hop_distance_to_center(NTU25, None)).all()


def test_bad_partition_option():
    with pytest.raises(ValueError, match="distance must be"):
        graph_partition(NTU25, "paper")


# ------------------------------------------------------------------------------------------------ structure
def test_parameter_counts():
    assert count(STGCN(60, NTU25)) == 836_800
    m = STGCN(60, NTU25)
    assert count(m) - count(m.fc) == 821_380
    assert sum(p.numel() for n, p in m.named_parameters() if n.startswith("edge_importance")) == 18_750
    assert count(STGCN(num_class=128, mlp=True)) == 920_068
    assert count(OracleSTGCN()) == 836_800 and count(OracleSTGCN(num_class=128, mlp=True)) == 920_068


@pytest.mark.parametrize("layout,name", [(NTU25, "ntu-rgb+d"), (NW_UCLA, "nw-ucla")])
@pytest.mark.parametrize("mlp", [False, True])
def test_same_names_and_same_seeded_init_as_reference(layout, name, mlp):
    "Same state-dict keys and shapes; the same seed gives the same default init and the same reference_init."
    torch.manual_seed(3)
    ours = STGCN(128, layout, mlp=mlp)
    torch.manual_seed(3)
    ref = OracleSTGCN(name, num_class=128, mlp=mlp)
    a, b = ours.state_dict(), ref.state_dict()
    assert sorted(a) == sorted(b)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    torch.manual_seed(4)
    reference_init(ours)
    torch.manual_seed(4)
    ref.apply(oracle_weights_init)
    a, b = ours.state_dict(), ref.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_reference_init_values():
    torch.manual_seed(0)
    m = reference_init(STGCN())
    w = torch.cat([x.weight.flatten() for x in m.modules() if isinstance(x, (nn.Conv2d, nn.Linear))])
    assert abs(w.mean()) < 1e-3 and abs(w.std() - 0.02) < 3e-4
    for x in m.modules():
        if isinstance(x, (nn.Conv2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d)):
            assert (x.bias == 0).all()
        if isinstance(x, (nn.BatchNorm1d, nn.BatchNorm2d)):
            assert (x.running_mean == 0).all() and (x.running_var == 1).all()
    bn = torch.cat([x.weight for x in m.modules() if isinstance(x, (nn.BatchNorm1d, nn.BatchNorm2d))])
    assert abs(bn.mean() - 1) < 5e-3 and 0.01 < bn.std() < 0.03
    assert all((m.importance(i) == 1).all() for i in range(10))


def test_block_plan():
    m = STGCN()
    plan = [
        (
            b.gcn.conv.in_channels,
            b.gcn.conv.out_channels // 3,
            b.tcn[2].stride[0],
            b.tcn[4].p,
            type(b.residual).__name__,
        )
        for b in m.st_gcn_networks
    ]
    assert plan == [
        (3, 16, 1, 0.0, "NoneType"),
        (16, 16, 1, 0.5, "Identity"),
        (16, 16, 1, 0.5, "Identity"),
        (16, 16, 1, 0.5, "Identity"),
        (16, 32, 2, 0.5, "Sequential"),
        (32, 32, 1, 0.5, "Identity"),
        (32, 32, 1, 0.5, "Identity"),
        (32, 64, 2, 0.5, "Sequential"),
        (64, 64, 1, 0.5, "Identity"),
        (64, 256, 1, 0.5, "Sequential"),
    ]
    assert m.data_bn.num_features == 75 and STGCN(layout=NW_UCLA).data_bn.num_features == 60


def test_projector_mlp():
    p = projector_mlp()
    assert [type(x) for x in p] == [nn.Linear, nn.ReLU, nn.Linear]
    assert (p[0].in_features, p[0].out_features, p[2].out_features) == (256, 256, 128)
    assert count(projector_mlp(2048, 2048, 128)) == 2048 * 2048 + 2048 + 2048 * 128 + 128


# ------------------------------------------------------------------------------------------------ shapes, real data
@pytest.mark.parametrize("which", ["ntu", "ucla"])
@pytest.mark.parametrize("persons", [1, 2])
@pytest.mark.parametrize("frames", [50, 64, 13])
def test_shapes(which, persons, frames, request):
    x = request.getfixturevalue(which)
    layout = NTU25 if which == "ntu" else NW_UCLA
    if x.shape[-1] < persons:
        x = torch.cat([x, torch.zeros_like(x)], -1)
    x = resample(x[..., :persons], frames) if frames != 50 else x[..., :persons]
    m = STGCN(7, layout).eval()
    t_out = -(-(-(-frames // 2)) // 2)  # two stride-2 convolutions with padding 4: ceil(ceil(T/2)/2)
    with torch.no_grad():
        assert m(x).shape == (x.shape[0], 7)
        assert m.features(x).shape == (x.shape[0], 256)
        assert m.feature_maps(x).shape == (x.shape[0] * persons, 256, t_out, layout.num_joints)
        assert torch.isfinite(m(x)).all()


def test_bad_input_shapes(ntu, ucla):
    m = STGCN()
    with pytest.raises(ValueError, match=r"expected \(N, 3, T, 25, M\) for layout ntu25, got \(2, 3, 50, 20, 1\)"):
        m(ucla)
    with pytest.raises(ValueError, match="got \\(3, 50, 25, 2\\)"):
        m(ntu[0])
    with pytest.raises(ValueError, match="got \\(2, 2, 50, 25, 2\\)"):
        m(ntu[:, :2])
    with pytest.raises(ValueError, match="adjacency subsets"):
        GraphConv(3, 4, 3)(torch.zeros(1, 3, 5, 25), torch.zeros(2, 25, 25))
    with pytest.raises(ValueError, match="odd"):
        STGCNBlock(3, 4, temporal_kernel=4)


# ------------------------------------------------------------------------------------------------ against the oracle
@pytest.mark.parametrize("mlp", [False, True])
def test_outputs_equal_reference_after_loading(ntu, mlp):
    ref = randomise(OracleSTGCN(num_class=128, mlp=mlp), seed=1).eval()
    ours = STGCN(num_class=128, mlp=mlp)
    assert load_reference_state_dict(ours, ref.state_dict()) == LoadResult([], [], [])
    ours.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(ntu), ref(ntu), rtol=1e-5, atol=1e-5)


def test_train_mode_batchnorm_matches_reference(ntu):
    "Train mode without dropout: batch statistics and running-stat updates as in the reference."
    ref = randomise(OracleSTGCN(dropout=0.0), seed=2).train()
    ours = STGCN(dropout=0.0).train()
    load_reference_state_dict(ours, ref.state_dict())
    torch.testing.assert_close(ours(ntu), ref(ntu), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours.data_bn.running_mean, ref.data_bn.running_mean)
    torch.testing.assert_close(ours.st_gcn_networks[9].tcn[3].running_var, ref.st_gcn_networks[9].tcn[3].running_var)


def test_ucla_outputs_equal_reference(ucla):
    ref = randomise(OracleSTGCN("nw-ucla", num_class=10), seed=3).eval()
    ours = STGCN(10, NW_UCLA)
    load_reference_state_dict(ours, ref.state_dict())
    ours.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(ucla), ref(ucla), rtol=1e-5, atol=1e-5)


class FixedGraph:
    "A stand-in for DropAddEdges that returns a given adjacency and records its calls."

    def __init__(self, A):
        self.A, self.calls = A, 0

    def adjacency(self, A, generator=None, num_samples=None):
        self.calls += 1
        return self.A


def test_drop_add_edges_hook_matches_reference_order(ntu):
    "The perturbed graph replaces A in every block, multiplied by that block's edge importance (drop_graph branch)."
    ref = randomise(OracleSTGCN(), seed=4).eval()
    ours = STGCN()
    load_reference_state_dict(ours, ref.state_dict())
    ours.eval()
    other = torch.rand(3, 25, 25)
    hook = FixedGraph(other)
    with torch.no_grad():
        torch.testing.assert_close(ours(ntu, drop_add_edges=hook), ref(ntu, adjacency=other), rtol=1e-5, atol=1e-5)
    assert hook.calls == 10


def test_drop_add_edges_behaviour(ntu):
    m = randomise(STGCN(), seed=7).eval()
    x = torch.cat([ntu[1:2], ntu[1:2]])
    g = lambda s: torch.Generator().manual_seed(s)
    with torch.no_grad():
        plain = m(x)
        torch.testing.assert_close(m(x, DropAddEdges(0.0, 0.0), g(0)), plain, rtol=1e-5, atol=1e-6)
        cfg = DropAddEdges(0.3, 0.1)
        a = m(x, cfg, g(0))
        assert torch.equal(a, m(x, cfg, g(0)))
        assert not torch.equal(a, m(x, cfg, g(1)))
        assert (a - plain).abs().max() > 1e-5
        torch.testing.assert_close(a[0], a[1])
        per = m(x, DropAddEdges(0.3, 0.1, per_sample=True), g(0))
        assert per.shape == (2, 60) and (per[0] - per[1]).abs().max() > 1e-5


def test_per_sample_draw_is_shared_by_persons(ntu):
    "per_sample=True: sample n's graph is used for both of its persons (rows n*M .. n*M+M-1)."
    m = STGCN().eval()
    seen = []
    block0 = m.st_gcn_networks[0]
    block0.gcn.register_forward_hook(lambda mod, inp, out: seen.append(inp[1]))
    with torch.no_grad():
        m(torch.cat([ntu, ntu[:1]]), DropAddEdges(0.5, 0.2, per_sample=True), torch.Generator().manual_seed(0))
    A = seen[0]
    assert A.shape == (6, 3, 25, 25)
    assert torch.equal(A[0], A[1]) and torch.equal(A[2], A[3]) and not torch.equal(A[1], A[2])


# ------------------------------------------------------------------------------------------------ training behaviour
@pytest.mark.parametrize("dae", [None, DropAddEdges(0.2, 0.1)])
def test_gradients_reach_every_parameter(ntu, dae):
    m = reference_init(STGCN(num_class=128, mlp=True)).train()
    m(ntu, drop_add_edges=dae, generator=torch.Generator().manual_seed(0)).pow(2).sum().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_eval_deterministic_train_stochastic(ntu):
    m = reference_init(STGCN()).eval()
    with torch.no_grad():
        assert torch.equal(m(ntu), m(ntu))
        m.train()
        assert not torch.equal(m(ntu), m(ntu))


def test_fixed_graph_option(ntu):
    m = STGCN(edge_importance=False)
    assert count(m) == 836_800 - 18_750 and m.importance(3) == 1.0
    with torch.no_grad():
        assert m.eval()(ntu).shape == (2, 60)


# ------------------------------------------------------------------------------------------------ loading
def aimclr_names(sd, prefix=""):
    out = {}
    for k, v in sd.items():
        if k.startswith("edge_importance"):
            k = f"edge_importance.{int(k[len('edge_importance') :]) - 1}"
        out[prefix + k] = v
    return out


def test_load_full_checkpoints(ntu):
    "A HiCLR/AimCLR model checkpoint with module. and encoder_q./encoder_k. parts, queue and mask_param."
    ref_q = randomise(OracleSTGCN(), seed=5).eval()
    ref_k = randomise(OracleSTGCN(), seed=6).eval()
    for rename in (lambda sd, p: {p + k: v for k, v in sd.items()}, aimclr_names):
        sd = {
            **rename(ref_q.state_dict(), "module.encoder_q."),
            **rename(ref_k.state_dict(), "module.encoder_k."),
            "module.queue": torch.randn(128, 8),
            "module.queue_ptr": torch.zeros(1, dtype=torch.long),
            "mask_param": torch.zeros(1),
        }
        for enc, ref in (("encoder_q", ref_q), ("encoder_k", ref_k)):
            ours = STGCN()
            other = "module.encoder_k." if enc == "encoder_q" else "module.encoder_q."
            ignored = [k for k in sd if k.startswith(other) or "encoder" not in k]
            assert load_reference_state_dict(ours, sd, encoder=enc) == ([], [], ignored)
            with torch.no_grad():
                torch.testing.assert_close(ours.eval()(ntu), ref(ntu), rtol=1e-5, atol=1e-5)


def test_key_names():
    names = reference_key_names(
        {"module.encoder_q.edge_importance.9": 0, "encoder_q.module.fc.weight": 0, "encoder_k.A": 0, "queue": 0}
    )
    assert names == {
        "module.encoder_q.edge_importance.9": "edge_importance10",
        "encoder_q.module.fc.weight": "fc.weight",
        "encoder_k.A": None,
        "queue": None,
    }
    assert reference_key_names({"edge_importance.0": 0, "data_bn.weight": 0}) == {
        "edge_importance.0": "edge_importance1",
        "data_bn.weight": "data_bn.weight",
    }


def test_missing_and_unexpected_reported():
    pre = {f"encoder_q.{k}": v for k, v in OracleSTGCN(num_class=128, mlp=True).state_dict().items()}
    pre["encoder_q.extra.weight"] = torch.zeros(3)
    del pre["encoder_q.st_gcn_networks.3.tcn.0.running_mean"]
    missing, unexpected, ignored = load_reference_state_dict(STGCN(num_class=60), pre)
    assert missing == ["st_gcn_networks.3.tcn.0.running_mean", "fc.weight", "fc.bias"] and ignored == []
    assert sorted(unexpected) == sorted(
        [
            "encoder_q.fc.0.weight",
            "encoder_q.fc.0.bias",
            "encoder_q.fc.2.weight",
            "encoder_q.fc.2.bias",
            "encoder_q.extra.weight",
        ]
    )
    # the edge importance of a fixed-graph model has nowhere to go
    missing, unexpected, _ = load_reference_state_dict(STGCN(edge_importance=False), OracleSTGCN().state_dict())
    assert missing == [] and sorted(unexpected) == sorted(f"edge_importance{i}" for i in range(1, 11))


def test_shape_mismatch_raises_naming_keys():
    with pytest.raises(ValueError, match=r"A: checkpoint \(3, 25, 25\) vs model \(3, 20, 20\)") as e:
        load_reference_state_dict(STGCN(layout=NW_UCLA), OracleSTGCN().state_dict())
    assert "data_bn.weight: checkpoint (75,) vs model (60,)" in str(e.value)
    with pytest.raises(ValueError, match=r"fc.weight: checkpoint \(60, 256\) vs model \(10, 256\)"):
        load_reference_state_dict(STGCN(num_class=10), OracleSTGCN().state_dict())
