"""skelnb.evaluate.knn on real NW-UCLA features (a random BiGRU on the centre crop): scikit-learn's 1-NN and uniform
k-NN, chunking, the weighted vote by hand, the monitor hook, and the refusals."""

import csv

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from skelnb.core import shared_data
from skelnb.encoders import build_encoder
from skelnb.evaluate.core import Features, extract_features, open_split
from skelnb.evaluate.knn import class_votes, evaluate_knn, knn, knn_monitor, nearest
from conftest import ucla_split

pytestmark = pytest.mark.usefixtures("one_thread")


def small_split(folder, view, subjects):
    return ucla_split(folder, subjects=subjects, views=(view,), num_classes=12)


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    "About 60 view-1 training and 30 view-2 test sequences of real NW-UCLA (HiCLR's pipeline)."
    if shared_data("nw_ucla") is None:
        pytest.skip("shared data (../shared/data or $SKELNB_DATA) absent")
    root = tmp_path_factory.mktemp("ucla")
    return small_split(root / "train", 1, range(1, 7)), small_split(root / "test", 2, (1, 2, 3))


@pytest.fixture(scope="module")
def features(splits):
    torch.manual_seed(0)
    gru = build_encoder("bigru", num_class=8, layout="nw_ucla", mlp=True, hidden_size=32, num_persons=2)
    return tuple(extract_features(gru, open_split(s)) for s in splits)


def test_equals_sklearn(features):
    train, test = features
    x, y, xt = train.features.numpy(), train.labels.numpy(), test.features.numpy()
    one = knn(train, test, k=1, chunk=4)
    sk = KNeighborsClassifier(n_neighbors=1, metric="cosine", algorithm="brute").fit(x, y)
    np.testing.assert_array_equal(one["neighbours"][:, 0].numpy(), sk.kneighbors(xt, return_distance=False)[:, 0])
    np.testing.assert_array_equal(one["predictions"].numpy(), sk.predict(xt))
    assert one["top1"] == pytest.approx(100 * sk.score(xt, test.labels.numpy()))
    five = knn(train, test, k=5)  # uniform vote: equal counts go to the lower class, as in scikit-learn
    sk5 = KNeighborsClassifier(n_neighbors=5, metric="cosine", algorithm="brute").fit(x, y)
    np.testing.assert_array_equal(five["predictions"].numpy(), sk5.predict(xt))


def test_chunks(features):
    train, test = features
    for k, temperature in ((1, None), (10, 0.1)):
        a, b = knn(train, test, k=k, temperature=temperature, chunk=3), knn(train, test, k=k, temperature=temperature)
        assert torch.equal(a["predictions"], b["predictions"]) and a["top1"] == b["top1"]
        torch.testing.assert_close(a["scores"], b["scores"], rtol=1e-5, atol=1e-4)


def test_weighted_vote_by_hand():
    "Three training points on the unit circle; test direction e_x; tau 0.5, k 2: the votes are exp(cos / tau)."
    train = Features(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]), torch.tensor([0, 1, 2]), ["a", "b", "c"])
    test = Features(torch.tensor([[2.0, 0.0]]), torch.tensor([2]), ["t"])
    out = knn(train, test, k=2, temperature=0.5)
    assert out["neighbours"].tolist() == [[0, 2]]
    torch.testing.assert_close(out["scores"], torch.tensor([[np.exp(2.0), 0.0, np.exp(1.2)]], dtype=torch.float32))
    assert out["top1"] == 0.0 and "top5" not in out  # 3 classes: no top-5
    votes = class_votes(torch.tensor([[0.2, 0.2]]), torch.tensor([[1, 0]]), 2, 0.1)
    assert votes.argmax(1).item() == 0  # equal vote sums: the lower class


def test_refusals(features):
    train, test = features
    with pytest.raises(ValueError, match="k=0"):
        knn(train, test, k=0)
    with pytest.raises(ValueError, match=f"k={len(train.labels) + 1}"):
        knn(train, test, k=len(train.labels) + 1)
    with pytest.raises(ValueError, match="temperature"):
        knn(train, test, k=10, temperature=0.0)
    with pytest.raises(ValueError, match="dimensions"):
        nearest(train.features, test.features[:, :5], 1)


def test_monitor_and_protocol(splits, tmp_path):
    "The hook writes knn.csv, leaves the encoder in training mode and agrees with evaluate_knn on the same module."
    torch.manual_seed(1)
    model = build_encoder("stgcn", num_class=8, layout="nw_ucla", mlp=True, hidden_channels=4, hidden_dim=16)
    hook = knn_monitor(*splits, k=(1, 10), temperature=0.1)
    hook(encoder=model.train(), epoch=5, folder=tmp_path)
    assert model.training
    rows = list(csv.DictReader(open(tmp_path / "knn.csv")))
    assert [(r["epoch"], r["k"], r["temperature"]) for r in rows] == [("5", "1", "0.1"), ("5", "10", "0.1")]
    result = evaluate_knn(model, *splits, k=(1, 10), temperature=0.1)
    assert not model.training
    assert [float(r["top1"]) for r in rows] == [result.runs[0]["by_k"][k]["top1"] for k in ("1", "10")]
    assert float(rows[1]["top5"]) == result.runs[0]["by_k"]["10"]["top5"]
    assert result.scores.shape == (len(result.labels), 12) and result.protocol == "knn-weighted"


def test_monitor_through_the_trainer(splits, tmp_path):
    "`train(..., hook=knn_monitor(...), hook_every=1)`: knn.csv has a row per epoch; the last is the final encoder's."
    from skelnb.train import train

    tiny = dict(encoder="stgcn", encoder_hidden_channels=4, encoder_hidden_dim=16, queue_size=64, dim=8)
    train(method="moco", data=str(splits[0]), output=str(tmp_path / "run"), epochs=3, batch_size=16, lr=0.05,
          seed=0, progress=False, hook=knn_monitor(*splits), hook_every=1, **tiny)  # fmt: skip
    rows = list(csv.DictReader(open(tmp_path / "run" / "knn.csv")))
    assert [(r["epoch"], r["k"], r["temperature"]) for r in rows] == [("1", "1", ""), ("2", "1", ""), ("3", "1", "")]
    assert float(rows[-1]["top1"]) == evaluate_knn(tmp_path / "run", *splits).metrics["top1"]


def test_pretraining_beats_random_init(briefly_pretrained):
    "Real NW-UCLA cross-view: the session's briefly MoCo-pretrained ST-GCN beats its initialisation under 1-NN."
    brief = briefly_pretrained  # conftest.py: one pretraining for the kNN, linear and trainer checks
    random_acc = evaluate_knn(brief.initial, brief.train, brief.test).metrics["top1"]
    result = evaluate_knn(brief.run, brief.train, brief.test)
    assert result.card["encoder"]["pretrain_epoch"] == brief.settings["epochs"]
    assert result.metrics["top1"] > random_acc + 5, (result.metrics["top1"], random_acc)
