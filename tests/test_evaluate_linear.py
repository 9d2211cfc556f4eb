"""skelnb.evaluate.linear where a notebook cannot check it: HaLP's recipe on a second preparation of NW-UCLA (HaLP's
pipeline, uncached, > 10 s), CUDA equal to the CPU (cuda) and a brief real pretraining (a long real-data run); the
units' checks are in nbs/62_evaluate.linear.ipynb."""

import numpy as np
import pytest

from skelnb.core import shared_data
from skelnb.encoders import build_encoder
from skelnb.evaluate.linear import check_unchanged, evaluate_linear, state_snapshot

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_stgcn(num_class=10, layout="nw_ucla", **kw):
    return build_encoder("stgcn", num_class=num_class, layout=layout, **{"hidden_channels": 4, "hidden_dim": 16, **kw})


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    "NW-UCLA prepared once per pipeline into a temporary folder: {pipeline: (train folder, test folder)}."
    if shared_data("nw_ucla") is None:
        pytest.skip("shared data (../shared/data or $SKELNB_DATA) absent")
    from skelnb.data.prepare import prepare

    out, folders = tmp_path_factory.mktemp("prepared"), {}
    for pipeline in ("hiclr", "halp"):
        prepare("nw-ucla", shared_data("nw_ucla"), out, pipeline=pipeline, progress=False, workers=1)
        folders[pipeline] = (
            out / f"nw-ucla-{pipeline}" / "xview" / "train",
            out / f"nw-ucla-{pipeline}" / "xview" / "val",
        )
    return folders


@pytest.fixture(scope="module")
def ucla(prepared):
    return prepared["hiclr"]


def test_halp_recipe_with_a_bigru(prepared):
    train, test = prepared["halp"]
    enc = build_encoder("bigru", num_class=10, layout="nw_ucla", num_persons=1, hidden_size=8, num_layers=1)
    before = state_snapshot(enc)
    res = evaluate_linear(enc, train, test, recipe="halp", epochs=2, milestones=(1,), eval_every=1)
    check_unchanged(enc, before)
    assert res.card["settings"]["augmentation"] == "halp-crop" and res.card["settings"]["cached_features"] is False
    assert res.scores.shape == (464, 10)


@pytest.mark.cuda
def test_linear_on_cuda_equals_cpu(ucla):
    enc = tiny_stgcn()
    cpu = evaluate_linear(enc, *ucla, epochs=2, milestones=(1,), lr=0.1)
    gpu = evaluate_linear(enc, *ucla, epochs=2, milestones=(1,), lr=0.1, device="cuda")  # cuDNN may use TF32
    np.testing.assert_allclose(gpu.scores, cpu.scores, atol=1e-2)
    assert abs(gpu.metrics["top1"] - cpu.metrics["top1"]) < 1.0


def test_briefly_pretrained_beats_random_init(briefly_pretrained):
    "The session's brief MoCo run (conftest.py), then the hiclr linear recipe (20 epochs) on it and on its init."
    brief, short = briefly_pretrained, dict(epochs=20, milestones=(15,))
    pretrained = evaluate_linear(brief.run, brief.train, brief.test, **short).metrics["top1"]
    random_top1 = evaluate_linear(brief.initial, brief.train, brief.test, **short).metrics["top1"]
    assert pretrained > random_top1 + 5, (pretrained, random_top1)
