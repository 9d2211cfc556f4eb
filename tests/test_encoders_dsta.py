"""skelnb.encoders.dsta against HiCLR's DSTA-Net (`HiCLR:net/dsta.py` as the transformer configs build it).

TEST ORACLE. `OracleDSTANet` / `OracleBlock` below are a restatement, written for these tests in our own words, of what
the reference module computes with spatial attention on and temporal attention off: the same submodules in the same
registration order and under the reference's attribute names (proj, input_map, graph_layers.{i}.{atts, pes.pe,
ff_nets, in_nets, alphas, attention0s, out_nets, out_nett, downs1, downs2, downt2}, fc), the positional-encoding
buffer tiled over `num_frame` frames, DSTA's own init in the constructor, and `fix_conv1`. `oracle_weights_init` is
HiCLR pretraining's `weights_init` (processor/pretrain.py), `oracle_hiclr_encoder` the MLP wrap of net/hiclr.py.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

import skelnb.encoders.dsta as dsta_module
from skelnb.graph import DropAddEdges
from skelnb.core import shared_data
from skelnb.encoders.common import encoder_entries, reference_init, strip_module
from skelnb.encoders.dsta import (
    DSTA_CONFIG,
    DSTABlock,
    DSTANet,
    count_parameters,
    dsta_init,
    frames_after,
    load_reference_state_dict,
    parameter_table,
    reference_key_map,
    spatial_positional_encoding,
    to_reference_state_dict,
)

CONFIG = [list(c) for c in DSTA_CONFIG]


# ------------------------------------------------------------------------------------------------ the oracle
class OraclePE(nn.Module):
    def __init__(self, channels, joints, frames):
        super().__init__()
        rows = torch.tensor([float(j) for _ in range(frames) for j in range(joints)])[:, None]  # joint id per (t, v)
        freq = torch.exp(torch.arange(0, channels, 2).float() * -(math.log(10000.0) / channels))
        table = torch.zeros(frames * joints, channels)
        table[:, 0::2], table[:, 1::2] = torch.sin(rows * freq), torch.cos(rows * freq)
        self.register_buffer("pe", table.view(frames, joints, channels).permute(2, 0, 1)[None])

    def forward(self, x):
        return x + self.pe[:, :, : x.shape[2]]


def seq(conv, channels):
    return nn.Sequential(conv, nn.BatchNorm2d(channels))


class OracleBlock(nn.Module):
    def __init__(self, cin, cout, inter, stride, joints, frames, subsets=3, attentiondrop=0.0):
        super().__init__()
        self.cin, self.inter, self.S = cin, inter, subsets
        self.register_buffer("atts", torch.zeros(1, subsets, joints, joints))
        self.pes = OraclePE(cin, joints, frames)
        self.ff_nets = seq(nn.Conv2d(cout, cout, 1, 1, padding=0, bias=True), cout)
        self.in_nets = nn.Conv2d(cin, 2 * subsets * inter, 1, bias=True)
        self.alphas = nn.Parameter(torch.ones(1, subsets, 1, 1))
        self.attention0s = nn.Parameter(torch.ones(1, subsets, joints, joints) / joints)
        self.out_nets = seq(nn.Conv2d(cin * subsets, cout, 1, bias=True), cout)
        self.out_nett = seq(nn.Conv2d(cout, cout, (7, 1), padding=(3, 0), bias=True, stride=(stride, 1)), cout)
        self.proj_res = cin != cout or stride != 1
        if self.proj_res:
            self.downs1 = seq(nn.Conv2d(cin, cout, 1, bias=True), cout)
            self.downs2 = seq(nn.Conv2d(cin, cout, 1, bias=True), cout)
            self.downt2 = seq(nn.Conv2d(cout, cout, (1, 1), (stride, 1), padding=(0, 0), bias=True), cout)
        self.act, self.drop = nn.LeakyReLU(0.1), nn.Dropout(attentiondrop)

    def res(self, name, x):
        return getattr(self, name)(x) if self.proj_res else x

    def maps(self, x):
        n, c, t, v = x.shape
        qk = self.in_nets(self.pes(x)).view(n, 2 * self.S, self.inter, t, v)
        q, k = qk[:, : self.S], qk[:, self.S :]
        return (
            self.atts
            + torch.tanh(torch.einsum("nsctu,nsctv->nsuv", q, k) / (self.inter * t)) * self.alphas
            + self.attention0s.repeat(n, 1, 1, 1)
        )

    def forward(self, x):
        n, c, t, v = x.shape
        a = self.maps(x)
        y = torch.einsum("nctu,nsuv->nsctv", x, a).contiguous().view(n, self.S * self.cin, t, v)
        y = self.act(self.res("downs1", x) + self.out_nets(y))
        y = self.act(self.res("downs2", x) + self.ff_nets(y))
        return self.act(self.drop(self.res("downt2", y)) + self.out_nett(y))


class OracleDSTANet(nn.Module):
    def __init__(self, num_class=60, joints=25, frames=50, attentiondrop=0.0, fix_conv1=False, config=CONFIG):
        super().__init__()
        self.width = config[-1][1]
        self.proj = nn.Conv2d(3, config[0][0], 1)
        self.input_map = nn.Sequential(nn.BatchNorm2d(config[0][0]), nn.LeakyReLU(0.1))
        self.graph_layers = nn.ModuleList()
        for cin, cout, inter, stride in config:
            self.graph_layers.append(OracleBlock(cin, cout, inter, stride, joints, frames, attentiondrop=attentiondrop))
            frames = int(frames / stride + 0.5)
        self.fc = nn.Linear(self.width, num_class)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.constant_(m.bias, 0)
        if fix_conv1:
            self.proj.weight.requires_grad = False
            self.proj.bias.requires_grad = False

    def feature(self, x):
        n, c, t, v, m = x.shape
        h = self.input_map(self.proj(x.permute(0, 4, 1, 2, 3).contiguous().view(n * m, c, t, v)))
        for layer in self.graph_layers:
            h = layer(h)
        h = h.view(n, m, self.width, -1).permute(0, 1, 3, 2).contiguous().view(n, -1, self.width, 1)
        return h.mean(3).mean(1)

    def forward(self, x):
        return self.fc(self.feature(x))


def oracle_weights_init(m):
    kind = m.__class__.__name__
    if "Conv1d" in kind or "Conv2d" in kind or "Linear" in kind:
        m.weight.data.normal_(0.0, 0.02)
        if m.bias is not None:
            m.bias.data.fill_(0)
    elif "BatchNorm" in kind:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


def oracle_hiclr_encoder(feature_dim=128):
    "encoder_q of the HiCLR pretraining model: DSTANet(num_class=128) with its fc wrapped into an MLP."
    enc = OracleDSTANet(feature_dim, attentiondrop=0.5)
    enc.fc = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), enc.fc)
    return enc


def randomise(model, seed=0):
    "Give every parameter and BN statistic a distinct random value, so that a wrong mapping cannot go unnoticed."
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.dtype.is_floating_point and not name.endswith(("atts", "pes.pe", "pos_enc")):
                if name.endswith("running_var"):
                    t.copy_(torch.rand(t.shape, generator=g) + 0.5)
                else:
                    t.copy_(
                        torch.randn(t.shape, generator=g) * (0.3 if t.dim() > 1 else 0.2)
                        + (1.0 if name.endswith(("alphas", "alpha")) else 0.0)
                    )
            elif name.endswith("num_batches_tracked"):
                t.fill_(7)
    return model


# ------------------------------------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def ucla():
    "Four NW-UCLA sequences, resized to 32 frames, (4, 3, 32, 20, 1)."
    import json
    from skelnb.data.pipelines import resize_frames

    folder = shared_data("nw_ucla", "all_sqe")
    if folder is None:
        pytest.skip("shared data absent")
    seqs = []
    for f in sorted(folder.glob("*.json"))[:4]:
        xyz = np.asarray(json.loads(f.read_text())["skeletons"], np.float32)  # (T, 20, 3)
        seqs.append(resize_frames(xyz[:, None], 32).transpose(3, 0, 2, 1))  # (3, 32, 20, 1)
    return torch.from_numpy(np.stack(seqs).astype(np.float32))


# ------------------------------------------------------------------------------------------------ structure
def test_parameter_counts():
    net = DSTANet(60)
    assert count_parameters(net) == 1_561_900
    assert count_parameters(net) - count_parameters(net.fc) == 1_546_480
    assert count_parameters(OracleDSTANet(60)) == 1_561_900
    assert count_parameters(DSTANet(128, mlp=True)) == count_parameters(oracle_hiclr_encoder()) == 1_645_168
    assert sum(r["total"] for r in parameter_table(net)) == 1_561_900
    assert count_parameters(DSTANet(60, layout="nw_ucla")) == count_parameters(OracleDSTANet(60, joints=20))
    assert count_parameters(DSTANet(60, layout="kinect_v1")) == 1_561_900 - 8 * 3 * (25**2 - 20**2)


def test_positional_encoding_equals_reference_buffer():
    for cin, joints, frames in ((32, 25, 50), (128, 25, 13), (64, 20, 7)):
        ref = OraclePE(cin, joints, frames).pe
        ours = spatial_positional_encoding(cin, joints)
        assert torch.equal(ref, ours[None].expand_as(ref))


def test_frames_after_matches_convolutions():
    net = DSTANet(60).eval()
    for T in (1, 2, 7, 50, 63, 64):
        h = net.stem(torch.randn(2, 3, T, 25))
        seen = [T]
        for b in net.blocks:
            h = b(h)
            seen.append(h.shape[2])
        assert seen == frames_after(T)


def test_key_names_cover_the_reference():
    ours = DSTANet(60)
    ref_keys = set(OracleDSTANet(60).state_dict())
    mapped = set(reference_key_map(ours))
    buffers = {k for k in ref_keys if k.endswith((".atts", ".pes.pe"))}
    assert len(buffers) == 16
    assert mapped == ref_keys - buffers
    assert set(to_reference_state_dict(ours)) == ref_keys
    # the order of entries is the reference's too
    assert list(to_reference_state_dict(ours)) == list(OracleDSTANet(60).state_dict())


@pytest.mark.parametrize("mlp", [False, True])
def test_same_seed_same_weights_as_reference(mlp):
    "Registration order matches: from one seed, construction + DSTA init (+ MLP wrap) draw the same numbers."
    torch.manual_seed(3)
    ours = DSTANet(128, mlp=mlp)
    torch.manual_seed(3)
    ref = oracle_hiclr_encoder() if mlp else OracleDSTANet(128)
    mine = to_reference_state_dict(ours)
    for k, v in ref.state_dict().items():
        assert torch.equal(v, mine[k]), k
    # HiCLR pretraining's weights_init afterwards, from one seed again
    torch.manual_seed(4)
    reference_init(ours)
    torch.manual_seed(4)
    ref.apply(oracle_weights_init)
    mine = to_reference_state_dict(ours)
    for k, v in ref.state_dict().items():
        assert torch.equal(v, mine[k]), k
    # and init="reference" in the constructor is the same as both steps
    torch.manual_seed(3)
    a = DSTANet(128, mlp=mlp, init="reference")
    torch.manual_seed(3)
    b = DSTANet(128, mlp=mlp)
    reference_init(b)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_init_statistics():
    torch.manual_seed(0)
    net = DSTANet(60)
    conv = net.blocks[7].temporal[0]
    fan_out = conv.out_channels * 7
    assert abs(conv.weight.std().item() - math.sqrt(2 / fan_out)) < 0.05 * math.sqrt(2 / fan_out)
    assert conv.bias.abs().max() > 0  # DSTA init leaves conv biases at PyTorch's default
    assert torch.equal(net.fc.bias.data, torch.zeros(60))
    reference_init(net)
    weights = torch.cat([m.weight.flatten() for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))])
    bn = torch.cat([m.weight.flatten() for m in net.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(weights.std().item() - 0.02) < 0.001 and abs(weights.mean().item()) < 0.001
    assert abs(bn.mean().item() - 1) < 0.005 and abs(bn.std().item() - 0.02) < 0.003
    assert all(m.bias.abs().max() == 0 for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d)))
    assert torch.equal(net.blocks[2].alpha.data, torch.ones(1, 3, 1, 1))
    assert torch.equal(net.blocks[2].attention0.data, torch.full((1, 3, 25, 25), 1 / 25))
    dsta_init(net)
    assert torch.equal(net.blocks[2].aggregate[1].weight.data, torch.ones(64))


# ------------------------------------------------------------------------------------------------ reference parity
@pytest.mark.parametrize("prefix", ["encoder_q.", "module.encoder_q.", "encoder_q.module."])
def test_load_reference_prefixes(prefix):
    ref = randomise(OracleDSTANet(60))
    a, b = DSTANet(60), DSTANet(60)
    assert load_reference_state_dict(a, ref.state_dict()) == ([], [], [])
    assert load_reference_state_dict(b, {prefix + k: v for k, v in ref.state_dict().items()}) == ([], [], [])
    for (k, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), k


def test_load_reference_state_dict_outputs_equal(ntu):
    "Eval mode on real samples (the 2nd has two persons): scores, features and every attention map equal."
    ntu = ntu[:3]
    ref = randomise(OracleDSTANet(60)).eval()
    ours = DSTANet(60).eval()
    assert load_reference_state_dict(ours, ref.state_dict()) == ([], [], [])
    with torch.no_grad():
        torch.testing.assert_close(ours(ntu), ref(ntu), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(ours.features(ntu), ref.feature(ntu), rtol=1e-5, atol=1e-5)
        for b_ours, b_ref, h in zip(ours.attention_maps(ntu), _oracle_maps(ref, ntu), range(8)):
            torch.testing.assert_close(b_ours.flatten(0, 1), b_ref, rtol=1e-5, atol=1e-6)


def _oracle_maps(ref, x):
    n, c, t, v, m = x.shape
    h = ref.input_map(ref.proj(x.permute(0, 4, 1, 2, 3).reshape(n * m, c, t, v)))
    out = []
    for layer in ref.graph_layers:
        out.append(layer.maps(h))
        h = layer(h)
    return out


def test_train_mode_outputs_equal(ntu):
    "Batch-statistics BN, gradients: same outputs and same gradients as the oracle."
    ntu = ntu[:2]
    ref = randomise(OracleDSTANet(60), seed=5).train()
    ours = DSTANet(60).train()
    load_reference_state_dict(ours, ref.state_dict())
    out_r, out_o = ref(ntu), ours(ntu)
    torch.testing.assert_close(out_o, out_r, rtol=1e-5, atol=1e-5)
    out_r.square().sum().backward()
    out_o.square().sum().backward()
    names = reference_key_map(ours)
    params = dict(ours.named_parameters())
    for k, p in ref.named_parameters():
        torch.testing.assert_close(params[names[k]].grad, p.grad, rtol=1e-4, atol=1e-5, msg=k)


def test_round_trip_to_reference(ntu):
    ntu = ntu[:2]
    torch.manual_seed(0)
    ours = randomise(DSTANet(60), seed=2).eval()
    ref = OracleDSTANet(60).eval()
    ref.load_state_dict(to_reference_state_dict(ours), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(ref(ntu), ours(ntu), rtol=1e-5, atol=1e-5)
    back = DSTANet(60).eval()
    assert load_reference_state_dict(back, to_reference_state_dict(ours, prefix="module.")) == ([], [], [])
    for (k, a), b in zip(ours.state_dict().items(), back.state_dict().values()):
        assert torch.equal(a, b), k


def test_pretraining_checkpoint(ntu):
    "A HiCLR pretraining state dict: encoder_q with the MLP head, encoder_k, queue, queue_ptr, mask_param."
    ntu = ntu[:2]
    q, k = randomise(oracle_hiclr_encoder(), 1).eval(), oracle_hiclr_encoder()
    sd = {
        **{"encoder_q." + n: v for n, v in q.state_dict().items()},
        **{"encoder_k." + n: v for n, v in k.state_dict().items()},
        "queue": torch.randn(128, 16),
        "queue_ptr": torch.zeros(1, dtype=torch.long),
        "mask_param": torch.zeros(1),
    }
    sd = {"module." + n: v for n, v in sd.items()}
    ours = DSTANet(128, mlp=True).eval()
    missing, unexpected, ignored = load_reference_state_dict(ours, sd)
    assert missing == [] and unexpected == []
    assert ignored == [n for n in sd if not n.startswith("module.encoder_q.")]
    with torch.no_grad():
        torch.testing.assert_close(ours(ntu), q(ntu), rtol=1e-5, atol=1e-5)
    # the linear-evaluation stage: a classifier from the same checkpoint keeps the backbone, fc stays missing
    clf = DSTANet(60).eval()
    missing, unexpected, _ = load_reference_state_dict(clf, sd)
    assert missing == ["fc.weight", "fc.bias"]
    assert {"module.encoder_q.fc.0.weight", "module.encoder_q.fc.2.bias"} <= set(unexpected)
    with torch.no_grad():
        torch.testing.assert_close(clf.features(ntu), q.feature(ntu), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="fc.weight"):
        load_reference_state_dict(DSTANet(60), sd, strict=True)


def test_load_rejects_wrong_buffers_and_shapes():
    sd = OracleDSTANet(60).state_dict()
    bad = dict(sd)
    bad["graph_layers.3.atts"] = torch.full((1, 3, 25, 25), 0.1)
    with pytest.raises(ValueError, match="graph_layers.3.atts"):
        load_reference_state_dict(DSTANet(60), bad)
    bad = dict(sd)
    bad["graph_layers.0.pes.pe"] = bad["graph_layers.0.pes.pe"] + 1
    with pytest.raises(ValueError, match="positional encoding"):
        load_reference_state_dict(DSTANet(60), bad)
    with pytest.raises(ValueError, match="fc.weight"):
        load_reference_state_dict(DSTANet(128), sd)
    with pytest.raises(ValueError, match="joints"):
        load_reference_state_dict(DSTANet(60, layout="nw_ucla"), sd)
    # a reference built for 20 joints loads into a 20-joint model
    small = randomise(OracleDSTANet(10, joints=20)).eval()
    ours = DSTANet(10, layout="nw_ucla").eval()
    assert load_reference_state_dict(ours, small.state_dict()) == ([], [], [])
    x = torch.randn(2, 3, 30, 20, 1)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), small(x), rtol=1e-5, atol=1e-5)


def test_reference_prefixes():
    keys = ["module.encoder_q.proj.weight", "encoder_q.module.fc.weight", "encoder_k.proj.weight", "queue"]
    assert [strip_module(k) for k in keys] == [
        "encoder_q.proj.weight",
        "encoder_q.fc.weight",
        "encoder_k.proj.weight",
        "queue",
    ]
    assert encoder_entries(dict.fromkeys(keys)) == ({keys[0]: "proj.weight", keys[1]: "fc.weight"}, keys[2:])
    assert encoder_entries(dict.fromkeys(keys), "encoder_k") == ({keys[2]: "proj.weight"}, [keys[0], keys[1], keys[3]])
    assert encoder_entries({"proj.weight": 0}, encoder=None) == ({"proj.weight": "proj.weight"}, [])
    assert encoder_entries({"proj.weight": 0, "queue": 0}) == ({"proj.weight": "proj.weight", "queue": "queue"}, [])


def test_runtime_T_in_normaliser_and_reference_frame_cap():
    "The reference divides by the runtime T; its PE buffer makes T > num_frame fail there, not here."
    ref = randomise(OracleDSTANet(60)).eval()
    ours = DSTANet(60).eval()
    load_reference_state_dict(ours, ref.state_dict())
    x = torch.randn(1, 3, 30, 25, 2)  # shorter than the reference's num_frame: both work, equal
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)
    long = torch.randn(1, 3, 64, 25, 1)
    with pytest.raises(RuntimeError):
        ref(long)
    assert ours(long).shape == (1, 60)
    ref64 = OracleDSTANet(60, frames=64).eval()
    ref64.load_state_dict(to_reference_state_dict(ours, num_frame=64))
    with torch.no_grad():
        torch.testing.assert_close(ours(long), ref64(long), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------------ behaviour
@pytest.mark.parametrize("T", [1, 7, 50, 64])
@pytest.mark.parametrize("M", [1, 2])
def test_shapes_persons_frames(ntu, T, M):
    net = DSTANet(60).eval()
    x = torch.nn.functional.interpolate(ntu[:2, ..., :M].flatten(3), size=(T, 25 * M)).view(2, 3, T, 25, M)
    x = x[1:] if T > 7 else x
    with torch.no_grad():
        assert net(x).shape == (len(x), 60) and net.features(x).shape == (len(x), 256)
        assert [m.shape for m in net.attention_maps(x)] == [(len(x), M, 3, 25, 25)] * 8


@pytest.mark.parametrize("layout", ["ntu25", "kinect_v1", "nw_ucla"])
def test_layouts(ucla, layout):
    from skelnb.layouts import get_layout

    V = get_layout(layout).num_joints
    net = DSTANet(10, layout=layout).eval()
    assert net.blocks[0].attention0.shape == (1, 3, V, V) and net.blocks[5].pos_enc.shape == (128, 1, V)
    x = ucla if V == 20 else torch.randn(4, 3, 32, V, 1)
    with torch.no_grad():
        assert net(x).shape == (4, 10)
    assert DSTANet(10, layout=None, num_joints=V).blocks[0].attention0.shape == (1, 3, V, V)


def test_bad_input():
    net = DSTANet(60)
    with pytest.raises(ValueError, match="25 joints"):
        net(torch.randn(1, 3, 50, 20, 2))
    with pytest.raises(ValueError, match=r"\(N, C, T, V, M\)"):
        net(torch.randn(3, 50, 25, 2))
    with pytest.raises(ValueError, match="25 joints"):
        DSTANet(layout="ntu25", num_joints=20)
    with pytest.raises(ValueError, match="init"):
        DSTANet(init="kaiming")
    with pytest.raises(ValueError, match="even"):
        spatial_positional_encoding(5, 25)
    with pytest.raises(TypeError, match="DropAddEdges"):
        net(torch.randn(1, 3, 8, 25, 1), drop_add_edges=0.1)
    with pytest.raises(ValueError, match="25 joints"):
        DSTABlock(32, 32, 16)(torch.randn(1, 32, 8, 20))


def test_gradients_reach_every_parameter(ntu):
    torch.manual_seed(0)
    for dae in (None, DropAddEdges(0.1, 0.05)):
        net = DSTANet(60, attention_drop=0.5).train()
        net(ntu, drop_add_edges=dae).logsumexp(1).sum().backward()
        dead = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
        assert dead == []


def test_fix_stem(ntu):
    net = DSTANet(60, fix_stem=True).train()
    net(ntu).sum().backward()
    frozen = sorted(n for n, p in net.named_parameters() if not p.requires_grad)
    assert frozen == ["stem.0.bias", "stem.0.weight"]
    assert net.stem[0].weight.grad is None and net.stem[1].weight.grad is not None
    ref = OracleDSTANet(60, fix_conv1=True)
    assert sorted(reference_key_map(net)[n] for n, p in ref.named_parameters() if not p.requires_grad) == frozen


def test_eval_deterministic_train_dropout(ntu):
    net = DSTANet(60, attention_drop=0.5).eval()
    with torch.no_grad():
        assert torch.equal(net(ntu), net(ntu))
        net.train()
        torch.manual_seed(0)
        a = net(ntu)
        torch.manual_seed(1)
        b = net(ntu)
        torch.manual_seed(0)
        c = net(ntu)
    assert not torch.allclose(a, b) and torch.equal(a, c)
    assert all(b.drop.p == 0.5 for b in net.blocks)
    # the dropout sits on the temporal residual: with it forced to zero the block output is LReLU(temporal(y))
    block = net.blocks[2].eval()
    h = torch.randn(2, 32, 20, 25)
    block.drop.p = 1.0
    block.drop.train()
    y = block.act(
        block.down_spatial1(h)
        + block.aggregate(torch.einsum("nctu,nsuv->nsctv", h, block.attention(h)).reshape(2, 96, 20, 25))
    )
    y = block.act(block.down_spatial2(h) + block.feedforward(y))
    torch.testing.assert_close(block(h), block.act(block.temporal(y)))


def test_drop_add_edges_every_block(ntu, monkeypatch):
    net = DSTANet(60).eval()
    calls = []
    original = dsta_module.DropAddEdges.attention

    def spy(self, att, generator=None):
        calls.append(tuple(att.shape))
        return original(self, att, generator)

    monkeypatch.setattr(dsta_module.DropAddEdges, "attention", spy)
    with torch.no_grad():
        base = net(ntu)
        assert calls == []
        torch.testing.assert_close(net(ntu, DropAddEdges(0.0, 0.0)), base, rtol=1e-5, atol=1e-6)
        assert calls == [(10, 3, 25, 25)] * 8
        g = lambda: torch.Generator().manual_seed(7)
        a, b = net(ntu, DropAddEdges(0.3, 0.1), g()), net(ntu, DropAddEdges(0.3, 0.1), g())
        assert torch.equal(a, b) and not torch.allclose(a, base, atol=1e-4)
        per = net(ntu, DropAddEdges(0.3, 0.1, per_sample=True), g())
        assert per.shape == (5, 60) and not torch.allclose(per, a)
        calls.clear()
        net(ntu, True)
        assert len(calls) == 8


def test_drop_add_edges_block_equals_manual(ntu):
    "With Drop/Add Edges on, the block uses drop_add_attention(att) in place of att, nothing else changes."
    from skelnb.graph import drop_add_attention

    torch.manual_seed(0)
    block = DSTABlock(32, 64, 16, stride=2).eval()
    h = torch.randn(3, 32, 20, 25)
    att = drop_add_attention(block.attention(h), 0.3, 0.1, torch.Generator().manual_seed(1))
    y = block.act(
        block.down_spatial1(h) + block.aggregate(torch.einsum("nctu,nsuv->nsctv", h, att).reshape(3, 96, 20, 25))
    )
    y = block.act(block.down_spatial2(h) + block.feedforward(y))
    expected = block.act(block.down_temporal(y) + block.temporal(y))
    torch.testing.assert_close(block(h, DropAddEdges(0.3, 0.1), torch.Generator().manual_seed(1)), expected)
