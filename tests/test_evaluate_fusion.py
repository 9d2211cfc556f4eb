"""skelnb.evaluate.fusion: identical streams fuse to one stream (real NW-UCLA kNN results of the joint, bone and
motion streams), a hand-derived two-stream case, the held-out choice and its labels in the card."""

import numpy as np
import pytest
import torch

from skelnb.core import shared_data
from skelnb.encoders import build_encoder
from skelnb.evaluate.core import Result, topk_accuracy
from skelnb.evaluate.fusion import choose_weights, fuse
from skelnb.evaluate.knn import evaluate_knn
from conftest import ucla_split

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def stream_results(tmp_path_factory):
    "Weighted-kNN results (k 10, tau 0.1) of a random small ST-GCN on ~60/30 real NW-UCLA sequences, per stream."
    root = tmp_path_factory.mktemp("ucla")
    parts = (("train", 1, range(1, 7)), ("test", 2, (1, 2, 3)))
    folders = [ucla_split(root / part, subjects=subjects, views=(view,)) for part, view, subjects in parts]
    torch.manual_seed(0)
    model = build_encoder("stgcn", num_class=8, layout="nw_ucla", mlp=True, hidden_channels=4, hidden_dim=16)
    out = {}
    for stream in ("joint", "bone", "motion"):
        out[stream] = evaluate_knn(model, *folders, k=10, temperature=0.1, stream=stream)
        out[stream].save(root / stream)
    return root, out


def test_identical_streams(stream_results):
    root, results = stream_results
    joint = results["joint"]
    for weights in ([0.3, 0.3, 0.3], [1.0, 2.0, 0.5]):
        fused = fuse([joint, joint, joint], weights=weights)
        assert fused.metrics["top1"] == joint.metrics["top1"] and fused.metrics["top5"] == joint.metrics["top5"]
        np.testing.assert_array_equal(fused.scores.argmax(1), joint.scores.argmax(1))
    from_folders = fuse([root / "joint", root / "joint"], weights=[1, 1])
    assert from_folders.metrics["top1"] == joint.metrics["top1"]


def test_three_streams_reference(stream_results):
    "The reference weightings on real joint/bone/motion scores, by hand, labelled as chosen on the test set."
    _, r = stream_results
    fused = fuse([r["motion"], r["joint"], r["bone"]], weights="reference")
    ref = fused.card["fusion"]["reference"]
    assert [f["weights"] for f in ref] == [[0.5, 0.5, 0.5], [0.4, 0.6, 0.6]]
    assert {f["weights_chosen_on"] for f in ref} == {"test"}
    by_hand = topk_accuracy(
        0.6 * r["joint"].scores + 0.6 * r["bone"].scores + 0.4 * r["motion"].scores, r["joint"].labels
    )
    assert (ref[1]["top1"], ref[1]["top5"]) == (pytest.approx(by_hand["top1"]), pytest.approx(by_hand["top5"]))
    assert fused.card["streams"] == ["motion", "joint", "bone"]
    assert fused.card["fusion"]["used"] in ref and fused.card["fusion"]["heldout"] is None
    with pytest.raises(ValueError, match="holdout_fraction > 0"):
        fuse([r["motion"], r["joint"], r["bone"]])


def make(scores, labels, holdout=None, holdout_labels=None, stream="joint"):
    acc = topk_accuracy(scores, labels, ks=(1,))
    runs = [dict(seed=0, history=[], last=acc, best=acc | dict(epoch=None))]
    names = [f"s{i}" for i in range(len(labels))]
    return Result("linear", dict(settings=dict(stream=stream)), runs, scores, labels, names, holdout, holdout_labels)


def test_two_streams_by_hand():
    """Test: A is right on samples 1-2, B on sample 3 with a wide margin; the held-out part favours A (B is wrong with
    margin 1, A right with margin 3: fused right iff 3 w_A > w_B, i.e. w_A > 1/4); the choice is the equal weighting."""
    A = np.array([[3.0, 0.0], [0.0, 3.0], [1.0, 0.0]])
    B = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 4.0]])
    y = np.array([0, 1, 1])
    hA, hB, hy = np.array([[3.0, 0.0], [0.0, 3.0]]), np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1])
    ra, rb = make(A, y, hA, hy), make(B, y, hB, hy, stream="bone")
    chosen = choose_weights([ra, rb])
    assert chosen["weights"] == [0.5, 0.5] and chosen["holdout_top1"] == 100.0
    fused = fuse([ra, rb])
    np.testing.assert_allclose(fused.scores, (A + B) / 2)
    assert (
        fused.metrics["top1"] == 100.0 and fused.card["fusion"]["used"]["weights_chosen_on"] == "held-out training data"
    )
    given = fuse([ra, rb], weights=[1.0, 0.0])
    assert (
        given.metrics["top1"] == pytest.approx(200 / 3) and given.card["fusion"]["used"]["weights_chosen_on"] == "given"
    )
    assert given.card["fusion"]["heldout"]["weights"] == [0.5, 0.5]  # reported beside the given weights
    with pytest.raises(ValueError, match="weights: 'heldout', 'reference'"):
        fuse([ra, rb], weights="best")
    with pytest.raises(ValueError, match="2 weights for"):
        fuse([ra, rb, ra], weights=[1.0, 0.0])
