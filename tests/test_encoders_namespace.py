"""skelnb.encoders as one namespace: the three encoders share a constructor order, `features`/`forward`/`feature_dim`,
one `LoadResult`, and `load_reference_state_dict` dispatches on the model and reads checkpoint files."""

import inspect

import pytest
import torch

import skelnb.encoders as E
from skelnb.encoders import (
    ENCODERS,
    BiGRU,
    DSTANet,
    LoadResult,
    STGCN,
    build_encoder,
    load_reference_state_dict,
    projector_mlp,
    reference_init,
)
from skelnb.encoders.bigru import reference_state_dict as bigru_reference_names
from skelnb.encoders.dsta import to_reference_state_dict as dsta_reference_names
from skelnb.layouts import get_layout

SMALL = {"stgcn": {}, "dsta": {}, "bigru": {"hidden_size": 16}}  # a narrow BiGRU keeps the tests fast
REFERENCE_NAMES = {"stgcn": lambda m: m.state_dict(), "dsta": dsta_reference_names, "bigru": bigru_reference_names}


def view(N=2, T=20, V=25, M=2, seed=0):
    return torch.randn(N, 3, T, V, M, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", list(ENCODERS))
def test_one_constructor_order(name):
    params = list(inspect.signature(ENCODERS[name]).parameters.values())
    assert [p.name for p in params[:3]] == ["num_class", "layout", "in_channels"]
    assert [p.default for p in params[:3]] == [60, "ntu25", 3]
    assert params[-1].name == "mlp" and params[-1].default is False and params[-2].name == "init"
    assert list(inspect.signature(ENCODERS[name].forward).parameters) == ["self", "x", "drop_add_edges", "generator"]
    model = ENCODERS[name](7, "nw_ucla", 3, **SMALL[name])  # positional (num_class, layout, in_channels)
    assert model.fc.out_features == 7


@pytest.mark.parametrize("name, feature_dim", [("stgcn", 256), ("dsta", 256), ("bigru", 2048)])
def test_feature_dim(name, feature_dim):
    model = build_encoder(name).eval()
    assert model.feature_dim == feature_dim
    with torch.no_grad():
        assert model.features(view(N=1, T=8)).shape == (1, feature_dim)


@pytest.mark.parametrize("name", list(ENCODERS))
@pytest.mark.parametrize("layout, M, T", [("ntu25", 2, 50), ("ntu25", 1, 13), ("nw_ucla", 2, 64), ("kinect_v1", 1, 7)])
def test_shapes_across_layouts_persons_frames(name, layout, M, T):
    V = get_layout(layout).num_joints
    extra = {"num_persons": M} if name == "bigru" else {}
    model = build_encoder(name, num_class=5, layout=layout, **SMALL[name], **extra).eval()
    with torch.no_grad():
        assert model(view(N=3, T=T, V=V, M=M)).shape == (3, 5)
        assert model.features(view(N=3, T=T, V=V, M=M)).shape == (3, model.feature_dim)


@pytest.mark.parametrize("name", list(ENCODERS))
@pytest.mark.parametrize("mlp", [False, True])
def test_gradients_reach_every_parameter(name, mlp):
    model = build_encoder(name, num_class=4, mlp=mlp, **SMALL[name]).train()
    model(view(N=3, T=16)).logsumexp(-1).sum().backward()
    dead = [
        n
        for n, p in model.named_parameters()
        if p.grad is None or not torch.isfinite(p.grad).all() or not p.grad.abs().sum() > 0
    ]
    assert dead == []


@pytest.mark.parametrize("name", list(ENCODERS))
def test_eval_is_deterministic(name):
    model = build_encoder(name, num_class=4, **SMALL[name]).eval()
    x = view(N=3, T=16)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_build_encoder_names():
    assert type(build_encoder("BiGRU", hidden_size=8)) is BiGRU and type(build_encoder("dsta")) is DSTANet
    with pytest.raises(ValueError, match="known: stgcn, dsta, bigru"):
        build_encoder("resnet")


def test_inits():
    torch.manual_seed(0)
    a = STGCN(init="reference")
    torch.manual_seed(0)
    b = reference_init(STGCN())
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    default = BiGRU(hidden_size=16, init=None)  # PyTorch's U(±1/√H) for the GRU
    assert default.gru.l0.weight_hh_l0.abs().max() <= 16**-0.5
    with pytest.raises(ValueError, match="init must be"):
        STGCN(init="dsta")
    with pytest.raises(ValueError, match="init must be"):
        DSTANet(init="bigru")
    with pytest.raises(ValueError, match="init must be"):
        BiGRU(init="reference")


def test_projector_mlp_shape():
    assert [k for k in projector_mlp(2048, 2048, 128).state_dict()] == ["0.weight", "0.bias", "2.weight", "2.bias"]


@pytest.mark.parametrize("name", list(ENCODERS))
@pytest.mark.parametrize("wrapper", ["bare", "state_dict", "model"])
def test_round_trip_through_a_file(tmp_path, ntu, name, wrapper):
    "Reference key names under module.encoder_q. beside other parts, saved to a file, loaded by path: outputs equal."
    torch.manual_seed(1)
    model = build_encoder(name, num_class=60, **SMALL[name]).eval()
    weights = {f"module.encoder_q.{k}": v for k, v in REFERENCE_NAMES[name](model).items()}
    weights |= {"module.encoder_k.extra": torch.zeros(1), "module.queue": torch.randn(128, 4)}
    saved = weights if wrapper == "bare" else {"epoch": 3, wrapper: weights}
    torch.save(saved, tmp_path / "checkpoint.pt")
    fresh = build_encoder(name, num_class=60, **SMALL[name]).eval()
    result = load_reference_state_dict(fresh, tmp_path / "checkpoint.pt")
    assert isinstance(result, LoadResult)
    assert result == ([], [], ["module.encoder_k.extra", "module.queue"])
    with torch.no_grad():
        assert torch.equal(fresh(ntu), model(ntu))
    # the key encoder on request (keyword arguments pass through): here it has one unknown key and nothing else
    key = build_encoder(name, num_class=60, **SMALL[name])
    result = load_reference_state_dict(key, str(tmp_path / "checkpoint.pt"), encoder="encoder_k")
    assert result.missing == list(key.state_dict()) and result.unexpected == ["module.encoder_k.extra"]


@pytest.mark.parametrize("name", list(ENCODERS))
def test_missing_unexpected_strict(name):
    pretrained = build_encoder(name, num_class=128, mlp=True, **SMALL[name])
    state = {f"encoder_q.{k}": v for k, v in REFERENCE_NAMES[name](pretrained).items()}
    classifier = build_encoder(name, num_class=60, **SMALL[name])
    result = load_reference_state_dict(classifier, state)
    assert result.missing == ["fc.weight", "fc.bias"] and result.ignored == []
    assert result.unexpected == [
        "encoder_q.fc.0.weight",
        "encoder_q.fc.0.bias",
        "encoder_q.fc.2.weight",
        "encoder_q.fc.2.bias",
    ]
    with pytest.raises(
        ValueError, match=r"missing keys \['fc.weight', 'fc.bias'\], unexpected keys \['encoder_q.fc.0.weight'"
    ):
        load_reference_state_dict(build_encoder(name, num_class=60, **SMALL[name]), state, strict=True)
    with pytest.raises(ValueError, match="shape mismatch"):
        load_reference_state_dict(
            build_encoder(name, num_class=60, layout="nw_ucla", **SMALL[name]),
            {k: v for k, v in REFERENCE_NAMES[name](classifier).items() if "pes.pe" not in k and "atts" not in k},
        )


def test_unknown_model_and_bad_checkpoint(tmp_path):
    with pytest.raises(TypeError, match="no reference loader for Linear"):
        load_reference_state_dict(torch.nn.Linear(2, 2), {})
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(TypeError, match="expected a state dict"):
        load_reference_state_dict(STGCN(), tmp_path / "list.pt")
    with pytest.raises(FileNotFoundError):
        load_reference_state_dict(STGCN(), tmp_path / "absent.pt")


def test_namespace_names():
    for name in (
        "STGCN",
        "DSTANet",
        "BiGRU",
        "projector_mlp",
        "LoadResult",
        "ENCODERS",
        "build_encoder",
        "load_reference_state_dict",
        "reference_init",
        "dsta_init",
        "bigru_init",
        "read_checkpoint",
    ):
        assert hasattr(E, name), name
