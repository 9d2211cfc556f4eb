"""skelnb.encoders.bigru against CMD/HaLP's `moco/GRU.py` (anshulbshah/HaLP@ae460b4).

TEST ORACLE. `OracleBIGRU` below was written for these tests, in our own words, from the reference's semantics:
a BatchNorm1d over the flat (N, T, F) sequence's features, then `encoder.gru`, one
`nn.GRU(F, H, L, bidirectional=True, batch_first=True)` called on one frame at a time with the hidden state carried
between calls, the per-frame outputs concatenated along time, and the last frame's output as the feature; `fc` on top.
Its module names are the reference's, so its `state_dict()` has the reference's key names. `oracle_weights_init`
restates `weights_init_gru` (xavier_uniform_ on every 2-D parameter of the direct children) and `oracle_mlp` the
`--mlp` replacement of `fc`.
"""

import io

import numpy as np
import pytest
import torch
import torch.nn as nn

from skelnb.batch import to_sequence
from skelnb.encoders.bigru import (
    BiGRU,
    ForwardScanningGRU,
    as_reference_gru,
    load_reference_state_dict,
    bigru_init,
    reference_state_dict,
    stepwise_features,
)
from skelnb.layouts import NTU25, NW_UCLA


class OracleEncoderRNN(nn.Module):
    def __init__(self, input_size, hidden_size, num_layers):
        super().__init__()
        self.gru = nn.GRU(input_size, hidden_size, num_layers=num_layers, bidirectional=True, batch_first=True)

    def forward(self, seq):
        per_frame, hidden = [], None
        for t in range(seq.shape[1]):  # one frame per call, hidden state carried over
            step_out, hidden = self.gru(seq[:, t : t + 1, :], hidden)
            per_frame.append(step_out)
        return torch.cat(per_frame, dim=1)[:, -1, :]  # every sample has all T frames


class OracleBIGRU(nn.Module):
    def __init__(self, input_size=150, hidden_size=1024, num_layers=3, num_class=60):
        super().__init__()
        self.encoder = OracleEncoderRNN(input_size, hidden_size, num_layers)
        self.fc = nn.Linear(2 * hidden_size, num_class)
        self.input_norm = nn.BatchNorm1d(input_size)

    def features(self, seq):
        seq = self.input_norm(seq.permute(0, 2, 1).contiguous()).permute(0, 2, 1).contiguous()
        return self.encoder(seq)

    def forward(self, seq):
        return self.fc(self.features(seq))


def oracle_weights_init(model):
    with torch.no_grad():
        for child in model.children():
            for p in child.parameters():
                if p.dim() == 2:
                    nn.init.xavier_uniform_(p)


def oracle_mlp(model):
    width = model.fc.weight.shape[1]
    model.fc = nn.Sequential(nn.Linear(width, width), nn.ReLU(), model.fc)


def oracle_true_bigru_features(model, seq):
    "A true BiGRU's feature with the oracle's weights: one whole-sequence call, the top layer's two last states."
    seq = model.input_norm(seq.permute(0, 2, 1)).permute(0, 2, 1).contiguous()
    _, h_n = model.encoder.gru(seq)
    return torch.cat([h_n[-2], h_n[-1]], dim=-1)


def params(model):
    return sum(p.numel() for p in model.parameters())


def view(N=2, T=64, V=25, M=2, seed=0):
    return torch.randn(N, 3, T, V, M, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def full_pair():
    "A full-size oracle with random reference-style init, and a skelnb BiGRU loaded from its state dict."
    torch.manual_seed(1)
    oracle = OracleBIGRU()
    oracle_weights_init(oracle)
    with torch.no_grad():
        oracle.input_norm.running_mean.uniform_(-0.5, 0.5)
        oracle.input_norm.running_var.uniform_(0.5, 2)
    model = BiGRU(num_class=60)
    assert load_reference_state_dict(model, oracle.state_dict()) == ([], [], [])
    return oracle.eval(), model.eval()


# --- numerics ----------------------------------------------------------------------------------------------------


def test_default_equals_stepwise_oracle(full_pair):
    oracle, model = full_pair
    x = view(N=2)
    with torch.no_grad():
        ref = oracle.features(to_sequence(x))
        ours = model.features(x)
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)
        torch.testing.assert_close(model(x), oracle(to_sequence(x)), atol=1e-5, rtol=0)
        torch.testing.assert_close(stepwise_features(model, x), ref, atol=1e-5, rtol=0)


def test_default_equals_oracle_in_training_mode():
    "Training mode: BatchNorm on batch statistics, identical running-stat updates; small width, T = 50, one person."
    torch.manual_seed(2)
    oracle = OracleBIGRU(input_size=75, hidden_size=48, num_layers=3, num_class=7)
    oracle_weights_init(oracle)
    model = BiGRU(num_class=7, num_persons=1, hidden_size=48)
    load_reference_state_dict(model, oracle.state_dict())
    x = view(N=4, T=50, M=1, seed=3) * 0.3 + 0.1
    torch.testing.assert_close(model(x), oracle(to_sequence(x)), atol=1e-5, rtol=0)
    torch.testing.assert_close(model.input_norm.running_mean, oracle.input_norm.running_mean)
    torch.testing.assert_close(model.input_norm.running_var, oracle.input_norm.running_var)


def test_differs_from_true_bigru(full_pair):
    oracle, model = full_pair
    x = view(N=2, seed=4)
    true_mode = BiGRU(num_class=60, bidirectional="true").eval()
    assert load_reference_state_dict(true_mode, oracle.state_dict()) == ([], [], [])
    with torch.no_grad():
        truly, ours = true_mode.features(x), model.features(x)
        torch.testing.assert_close(truly, oracle_true_bigru_features(oracle, to_sequence(x)), atol=1e-5, rtol=0)
        assert (truly - ours).abs().max() > 1e-2
        assert (truly[:, 1024:] - ours[:, 1024:]).abs().max() > 1e-2


def test_forward_scanning_is_causal():
    gru = ForwardScanningGRU(12, hidden_size=16, num_layers=2)
    seq = torch.randn(2, 9, 12)
    edited = seq.clone()
    edited[:, 5:] = 0
    with torch.no_grad():
        a, ha = gru(seq)
        b, _ = gru(edited)
    torch.testing.assert_close(a[:, :5], b[:, :5], atol=0, rtol=0)
    assert ha.shape == (4, 2, 16) and a.shape == (2, 9, 32)


# --- initialisation ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mlp", [False, True])
def test_seeded_init_equals_reference(mlp):
    num_class = 128 if mlp else 60
    torch.manual_seed(123)
    oracle = OracleBIGRU(num_class=num_class)
    oracle_weights_init(oracle)
    if mlp:
        oracle_mlp(oracle)
    torch.manual_seed(123)
    model = BiGRU(num_class=num_class, mlp=mlp)
    ref = oracle.state_dict()
    ours = reference_state_dict(model)
    assert list(ours) == list(ref) or sorted(ours) == sorted(ref)
    for key in ref:
        torch.testing.assert_close(ours[key], ref[key], atol=0, rtol=0, msg=key)


def test_reference_init_only_touches_matrices():
    model = BiGRU(num_class=5, hidden_size=16)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    bigru_init(model)
    after = model.state_dict()
    for key in before:
        changed = not torch.equal(before[key], after[key])
        assert changed == (after[key].dim() == 2), key


# --- shapes and parameter counts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", [NTU25, NW_UCLA])
@pytest.mark.parametrize("M", [1, 2])
@pytest.mark.parametrize("T", [64, 50])
@pytest.mark.parametrize("mode", ["forward", "true"])
def test_shapes(layout, M, T, mode):
    model = BiGRU(num_class=11, layout=layout, num_persons=M, hidden_size=24, bidirectional=mode).eval()
    assert model.input_size == layout.num_joints * 3 * M
    x = view(N=3, T=T, V=layout.num_joints, M=M)
    with torch.no_grad():
        assert model(x).shape == (3, 11)
        assert model.features(x).shape == (3, 48)
        assert model.features(to_sequence(x)).shape == (3, 48)
    first_layer = model.gru if mode == "true" else model.gru.l0
    assert first_layer.input_size == model.input_size


def test_parameter_counts():
    model = BiGRU(num_class=60)
    assert params(model) == 45_121_896
    assert params(model.gru) == 44_998_656
    assert params(BiGRU(num_class=128)) == 45_261_228
    assert params(BiGRU(num_class=128, mlp=True)) == 49_457_580
    assert params(BiGRU(num_class=60, bidirectional="true")) == 45_121_896
    assert params(BiGRU(num_class=60, layout=NW_UCLA, num_persons=1)) == 45_121_896 - 2 * 3 * 1024 * 90 - 2 * 90
    assert model.feature_dim == 2048


@pytest.mark.parametrize("mode", ["forward", "true"])
@pytest.mark.parametrize("mlp", [False, True])
def test_gradients_reach_every_parameter(mode, mlp):
    model = BiGRU(num_class=9, hidden_size=16, bidirectional=mode, mlp=mlp).train()
    model(view(N=3, T=20)).square().sum().backward()
    dead = [
        n
        for n, p in model.named_parameters()
        if p.grad is None or not torch.isfinite(p.grad).all() or p.grad.abs().sum() == 0
    ]
    assert dead == []


def test_eval_is_deterministic_and_train_uses_batch_stats():
    model = BiGRU(num_class=9, hidden_size=32).eval()
    x = view(N=4, T=30)
    with torch.no_grad():
        a, b = model(x), model(x)
        assert torch.equal(a, b)
        assert torch.equal(model(x[:2]), a[:2]) or torch.allclose(model(x[:2]), a[:2], atol=1e-6)
        model.train()
        c = model(x)
    assert not torch.allclose(a, c)
    assert model.input_norm.num_batches_tracked.item() == 1


# --- state dicts ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["forward", "true"])
def test_state_dict_round_trip(mode):
    torch.manual_seed(5)
    model = BiGRU(num_class=6, hidden_size=20, bidirectional=mode).eval()
    x = view(N=2, T=16)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    copy = BiGRU(num_class=6, hidden_size=20, bidirectional=mode).eval()
    copy.load_state_dict(torch.load(buffer))
    again = BiGRU(num_class=6, hidden_size=20, bidirectional=mode).eval()
    assert load_reference_state_dict(again, reference_state_dict(model)) == ([], [], [])
    with torch.no_grad():
        assert torch.equal(copy(x), model(x)) and torch.equal(again(x), model(x))
    for k, v in reference_state_dict(again).items():
        assert torch.equal(v, reference_state_dict(model)[k])


@pytest.mark.parametrize("prefix", ["", "encoder_q.", "module.encoder_q.", "module."])
def test_load_oracle_state_dict_with_prefixes(prefix):
    torch.manual_seed(6)
    oracle = OracleBIGRU(input_size=150, hidden_size=32, num_class=4).eval()
    oracle_weights_init(oracle)
    model = BiGRU(num_class=4, hidden_size=32).eval()
    state = {prefix + k: v for k, v in oracle.state_dict().items()}
    assert load_reference_state_dict(model, {"epoch": 3, "state_dict": state}) == ([], [], [])
    x = view(N=2, T=12)
    with torch.no_grad():
        torch.testing.assert_close(model(x), oracle(to_sequence(x)), atol=1e-5, rtol=0)


def test_load_reports_missing_and_unexpected_by_name():
    oracle = OracleBIGRU(hidden_size=8, num_class=4)
    oracle_mlp(oracle)
    state = {f"encoder_q.{k}": v for k, v in oracle.state_dict().items() if not k.startswith("fc.")}
    state |= {
        "encoder_k.fc.0.weight": torch.zeros(16, 16),
        "queue": torch.zeros(4, 2),
        "encoder_q.extra.bias": torch.zeros(2),
    }
    model = BiGRU(num_class=4, hidden_size=8, mlp=True)
    missing, unexpected, ignored = load_reference_state_dict(model, state)
    assert missing == ["fc.0.weight", "fc.0.bias", "fc.2.weight", "fc.2.bias"]
    assert unexpected == ["encoder_q.extra.bias"]
    assert ignored == ["encoder_k.fc.0.weight", "queue"]  # other parts of the model (key encoder, queue) are left alone
    # the key encoder on request
    key_state = {f"module.encoder_k.{k}": v for k, v in oracle.state_dict().items()} | {"module.queue": torch.zeros(3)}
    assert load_reference_state_dict(model, key_state, encoder="encoder_k") == ([], [], ["module.queue"])
    # a bare encoder's dict with a stray key
    assert load_reference_state_dict(model, oracle.state_dict() | {"queue": torch.zeros(3)}) == ([], ["queue"], [])
    with pytest.raises(ValueError, match=r"unexpected keys \['queue'\]"):
        load_reference_state_dict(model, oracle.state_dict() | {"queue": torch.zeros(3)}, strict=True)


def test_load_rejects_wrong_shapes():
    oracle = OracleBIGRU(hidden_size=8, num_class=4)
    with pytest.raises(ValueError, match=r"fc.weight: checkpoint \(4, 16\) vs model \(5, 16\)"):
        load_reference_state_dict(BiGRU(num_class=5, hidden_size=8), oracle.state_dict())
    with pytest.raises(ValueError, match="weight_ih_l0"):
        load_reference_state_dict(BiGRU(num_class=4, hidden_size=8, layout=NW_UCLA), oracle.state_dict())


def test_as_reference_gru_matches_oracle_module():
    oracle = OracleBIGRU(hidden_size=8, num_class=4)
    model = BiGRU(num_class=4, hidden_size=8)
    load_reference_state_dict(model, oracle.state_dict())
    gru = as_reference_gru(model)
    for k, v in oracle.encoder.gru.state_dict().items():
        assert torch.equal(gru.state_dict()[k], v), k


# --- bad input -----------------------------------------------------------------------------------------------------


def test_bad_input():
    model = BiGRU(num_class=4, hidden_size=8)
    with pytest.raises(ValueError, match=r"expected \(N, 3, T, 25, 2\)"):
        model(view(V=20))
    with pytest.raises(ValueError, match=r"\(N, T, 150\)"):
        model(torch.randn(2, 10, 149))
    with pytest.raises(ValueError, match="no frames"):
        model(view(T=0))
    with pytest.raises(ValueError, match="no adjacency"):
        model(view(), drop_add_edges=0.2)
    with pytest.raises(ValueError, match="must be one of"):
        BiGRU(bidirectional=True)
    with pytest.raises(ValueError, match="init must be"):
        BiGRU(init="xavier")


# --- real data -----------------------------------------------------------------------------------------------------


def test_real_ntu_views_match_oracle(shared, full_pair):
    from skelnb.augment.halp import halp_eval_transform
    from skelnb.data.samples import ntu_samples

    if not (shared / "ntu_samples").is_dir():
        pytest.skip("no NTU samples in the shared data")
    halp = ntu_samples("halp")  # the five NTU samples through HaLP's pipeline, with their frame counts
    x = halp_eval_transform()(halp).x
    oracle, model = full_pair
    with torch.no_grad():
        torch.testing.assert_close(model.features(x), oracle.features(to_sequence(x)), atol=1e-5, rtol=0)
