"""skelnb.evaluate.core beyond the notebook's tests: CMD's per-stream encoders, the truncated and foreign files, the
result file's keys, on a 1-epoch MoCo run over 16 real NW-UCLA sequences."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from skelnb.core import shared_data
from skelnb.evaluate.core import (
    Result,
    data_card,
    extract_features,
    file_sha256,
    load_encoder,
    open_split,
    protocol_card,
    topk_accuracy,
)
from skelnb.methods import build_method
from skelnb.checkpoint import load_checkpoint, newest_checkpoint, write_checkpoint
from skelnb.train import train
from conftest import ucla_split

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(encoder="stgcn", encoder_hidden_channels=4, encoder_hidden_dim=16, queue_size=16, dim=8)


@pytest.fixture(scope="module")
def ucla(tmp_path_factory):
    "A prepared split of 16 real NW-UCLA sequences (4 actions x 4), HiCLR's pipeline, 50 frames."
    return ucla_split(tmp_path_factory.mktemp("ucla") / "split", actions=(1, 2, 3, 4), num_classes=12)


@pytest.fixture(scope="module")
def run(ucla, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(method="moco", data=str(ucla), output=str(out), epochs=2, batch_size=4, progress=False, **TINY)
    return out


def cmd_checkpoint(run, path: Path):
    "A checkpoint of a tiny CMD (BiGRU) in the trainer's format: the MoCo run's, with CMD's identity and state."
    state = load_checkpoint(newest_checkpoint(run / "checkpoints"))
    torch.manual_seed(0)
    cmd = build_method("cmd", encoder="bigru", layout="nw_ucla", queue_size=16, dim=8, topk=4, encoder_hidden_size=8)
    state["identity"]["trainer"]["method"] = "cmd"
    state["identity"]["method"] = json.loads(json.dumps(cmd.hparams))
    state["method"] = cmd.state_dict()
    write_checkpoint(path, state)
    return cmd


def test_cmd_streams(run, tmp_path):
    "Each stream's query encoder of a CMD checkpoint, bit for bit; an unknown stream is refused."
    cmd = cmd_checkpoint(run, tmp_path / "ckpt-000000001.pt")
    for stream in ("joint", "motion", "bone"):
        model, info = load_encoder(tmp_path, stream=stream)
        expected = cmd.stream_encoders(stream)[0].state_dict()
        assert info["method"] == "cmd" and info["stream"] == stream and info["encoder"] == "bigru"
        assert all(torch.equal(model.state_dict()[k], v) for k, v in expected.items())
    with pytest.raises(ValueError, match="not 'velocity'"):
        load_encoder(tmp_path, stream="velocity")


def test_refusals(run, tmp_path):
    ckpt = newest_checkpoint(run / "checkpoints")
    with pytest.raises(ValueError, match="'stgcn' encoder, asked for 'dsta'"):
        load_encoder(ckpt, encoder="dsta")
    bad = tmp_path / "ckpt-000000009.pt"
    bad.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    with pytest.raises(ValueError, match="ckpt-000000009.pt: not a readable checkpoint"):
        load_encoder(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(ValueError, match="foreign.pt: not a skelnb checkpoint"):
        load_encoder(foreign)
    state = load_checkpoint(ckpt)
    state["method"] = {k: v for k, v in state["method"].items() if not k.startswith("encoder_q.fc")}
    write_checkpoint(tmp_path / "nofc.pt", state)
    with pytest.raises(ValueError, match="nofc.pt: the encoder_q tensors do not fit"):
        load_encoder(tmp_path / "nofc.pt")
    model, _ = load_encoder(ckpt)
    torch.save({f"encoder_q.{k}": v for k, v in model.state_dict().items()}, tmp_path / "ref.pt")
    args = dict(hidden_channels=4, hidden_dim=16)
    with pytest.raises(ValueError, match="ref.pt: not a reference checkpoint"):  # 60 classes, the file has 8
        load_encoder(tmp_path / "ref.pt", reference=True, encoder="stgcn", layout="nw_ucla", num_class=60, **args)


def test_features_and_result_file(run, ucla, tmp_path):
    "Features of the run's encoder scored by a nearest class mean: result.json has the agreed keys, and loads back."
    model, info = load_encoder(run)
    feats = extract_features(model, open_split(ucla), batch_size=3)
    assert feats.features.shape == (16, 16) and torch.isfinite(feats.features).all()
    means = torch.stack([feats.features[feats.labels == c].mean(0) for c in range(12)]).nan_to_num(-1e9)
    scores = feats.features @ means.T
    acc = topk_accuracy(scores, feats.labels)
    card = protocol_card("centroid", None, encoder_info=info, data=dict(test=data_card(ucla)), seeds=[0])
    assert card["checkpoint_sha256"] == file_sha256(info["checkpoint"])
    assert card["data"]["test"]["num_samples"] == 16
    result = Result("centroid", card, [dict(seed=0, history=[], last=acc, best=acc | dict(epoch=None))])
    result.scores, result.labels, result.names = scores.numpy(), feats.labels.numpy(), feats.names
    result.save(tmp_path)
    body = json.loads((tmp_path / "result.json").read_text())
    assert list(body) == ["protocol", "metrics", "card", "runs"]
    assert set(body["metrics"]) == {
        "top1", "top1_sd", "top5", "top5_sd", "best_top1", "best_top1_sd", "best_top5", "best_top5_sd", "seeds"
    }  # fmt: skip
    back = Result.load(tmp_path)
    assert back.metrics == result.metrics and back.names == feats.names
    np.testing.assert_array_equal(back.scores, result.scores)
