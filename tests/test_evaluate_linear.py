"""skelnb.evaluate.linear on real NW-UCLA (tiny encoders, few epochs, one thread): the frozen encoder stays
bit-identical and only the classifier trains; cached features equal the uncached path; semi-supervised subsets;
the recipes' learning rates; fine-tuning changes the encoder; transfer sizes the classifier from the target data;
bad input fails clearly."""

import json

import numpy as np
import pytest
import torch

from skelnb.core import shared_data
from skelnb.encoders import build_encoder
from skelnb.evaluate.core import Result, extract_features
from skelnb.evaluate.linear import (
    RECIPES,
    check_unchanged,
    evaluate_finetune,
    evaluate_linear,
    evaluate_semi,
    evaluate_transfer,
    finetune_run,
    get_recipe,
    linear_run,
    lr_at,
    make_classifier,
    open_eval_data,
    semi_subset,
    state_snapshot,
)

pytestmark = pytest.mark.usefixtures("one_thread")

SHORT = dict(epochs=2, milestones=(1,), eval_every=1)


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


def test_recipes_learning_rates_hand_derived():
    # HiCLR linear: 1-based epoch > 80 -> 0-based 80 is the first at 0.3
    assert [lr_at(RECIPES["hiclr"], e) for e in (0, 79, 80, 99)] == pytest.approx([3.0, 3.0, 0.3, 0.3])
    # HaLP: 0-based epoch >= 50, >= 70
    halp = [lr_at(RECIPES["halp"], e) for e in (49, 50, 69, 70, 79)]
    assert halp == pytest.approx([5e-3, 5e-4, 5e-4, 5e-5, 5e-5], rel=1e-12)
    # HiCLR fine-tune: warm-up base * epoch / 5 for 1-based epochs 1-4, then 1-based epoch >= 30, >= 55
    ft = [lr_at(RECIPES["hiclr-finetune"], e) for e in (0, 1, 2, 3, 4, 28, 29, 53, 54, 69)]
    assert ft == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rel=1e-12)
    cmd = [lr_at(RECIPES["cmd-finetune"], e) for e in (0, 49, 50, 70)]
    assert cmd == pytest.approx([0.01, 0.01, 0.001, 0.0001], rel=1e-12)
    r = RECIPES["hiclr"]
    assert (r.momentum, r.weight_decay, r.batch_size, r.epochs, r.augmentation) == (0.9, 0.0, 128, 100, None)
    r = RECIPES["hiclr-finetune"]
    assert (r.nesterov, r.weight_decay, r.batch_size, r.epochs, r.warmup_epochs) == (True, 1e-4, 64, 70, 5)
    assert RECIPES["halp"].augmentation == "halp-crop" and RECIPES["halp"].fc_std == 0.01


def test_linear_leaves_encoder_bit_identical_and_only_the_classifier_trains(ucla):
    enc = tiny_stgcn()
    before = state_snapshot(enc)
    res = evaluate_linear(enc, *ucla, seeds=(0, 1), **SHORT)
    check_unchanged(enc, before)
    assert not enc.training  # evaluated in eval mode
    assert res.protocol == "linear" and res.card["recipe"] == "hiclr"
    assert res.card["settings"]["lr"] == 3.0 and res.card["settings"]["cached_features"] is True
    m = res.metrics
    assert m["seeds"] == 2 and m["top1_sd"] is not None and 0 <= m["best_top1"] <= 100
    assert all(r["best"]["top1"] >= r["last"]["top1"] for r in res.runs)
    assert res.scores.shape == (464, 10) and len(res.names) == 464
    # the classifier moved from its initial draw (the only thing that may)
    data = open_eval_data(*ucla)
    test, train = extract_features(enc, data.test), extract_features(enc, data.train)
    rec = get_recipe("hiclr", epochs=1)
    start = make_classifier(16, 10, rec, torch.Generator().manual_seed(4))
    _, _, _, head = linear_run(enc, data, rec, 4, np.arange(1020), test=test, train=train)
    assert not torch.equal(head.weight.detach(), start.weight.detach())
    check_unchanged(enc, before)


def test_linear_refuses_an_encoder_that_changes(ucla):
    enc = tiny_stgcn()
    features = enc.features

    def leaky(x, *a, **k):  # a feature function that moves a BatchNorm buffer, as a train-mode forward would
        enc.data_bn.num_batches_tracked += 1
        return features(x, *a, **k)

    enc.features = leaky
    with pytest.raises(RuntimeError, match="changed during a frozen-encoder protocol: data_bn.num_batches_tracked"):
        evaluate_linear(enc, *ucla, epochs=1)


def test_cached_equals_uncached(ucla):
    enc = tiny_stgcn()
    data = open_eval_data(*ucla)
    test, train = extract_features(enc, data.test), extract_features(enc, data.train)
    rec = get_recipe("hiclr", epochs=2, milestones=(1,))
    pos = np.arange(len(data.train))
    run_c, s_c, _, h_c = linear_run(enc, data, rec, 7, pos, test=test, train=train)
    run_u, s_u, _, h_u = linear_run(enc, data, rec, 7, pos, test=test, train=None)
    torch.testing.assert_close(h_c.weight, h_u.weight, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(h_c.bias, h_u.bias, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(s_c, s_u, atol=1e-3, rtol=1e-3)
    assert run_c["train_samples"] == run_u["train_samples"] == 1020
    # and through the public function
    a = evaluate_linear(enc, *ucla, epochs=1, milestones=())
    b = evaluate_linear(enc, *ucla, epochs=1, milestones=(), cache_features=False)
    assert b.card["settings"]["cached_features"] is False
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-3)


def test_semi_subsets_real_labels(ucla):
    labels = open_eval_data(*ucla).train.labels
    counts = np.bincount(labels)  # 102, 102, 96, 124, 101, 102, 99, 99, 98, 97
    for fraction in (0.01, 0.1):
        sub = semi_subset(labels, fraction, seed=0)
        assert np.bincount(labels[sub], minlength=10).tolist() == [round(fraction * c) for c in counts]
        assert len(np.unique(sub)) == len(sub)
        np.testing.assert_array_equal(sub, semi_subset(labels, fraction, seed=0))
        assert not np.array_equal(sub, semi_subset(labels, fraction, seed=1))
        cmd = semi_subset(labels, fraction, kind="cmd", seed=0)
        assert len(cmd) == int(len(labels) * fraction) and len(np.unique(cmd)) == len(cmd)
        np.testing.assert_array_equal(cmd, semi_subset(labels, fraction, kind="cmd", seed=0))
        assert not np.array_equal(cmd, semi_subset(labels, fraction, kind="cmd", seed=1))


def test_evaluate_semi_trains_on_the_subset(ucla):
    enc = tiny_stgcn()
    res = evaluate_semi(enc, *ucla, fraction=0.1, repeats=2, recipe="hiclr", epochs=1)
    assert [r["train_samples"] for r in res.runs] == [102, 102]
    assert res.runs[0]["train_class_counts"] == [10, 10, 10, 12, 10, 10, 10, 10, 10, 10]
    assert res.card["protocol"] == "semi" and res.card["settings"]["subset"] == "balanced"
    assert res.card["seeds"] == [0, 1]


def test_finetune_changes_the_encoder_not_the_callers(ucla):
    enc = tiny_stgcn(mlp=True)
    before = state_snapshot(enc)
    data = open_eval_data(*ucla)
    rec = get_recipe("hiclr-finetune", epochs=1, warmup_epochs=0, milestones=())
    run, scores, _, (tuned, head) = finetune_run(enc, data, rec, 0, semi_subset(data.train.labels, 0.1))
    check_unchanged(enc, before)
    changed = {k for k, v in tuned.state_dict().items() if not torch.equal(v, before[k])}
    assert {"data_bn.running_mean", "st_gcn_networks.0.gcn.conv.weight"} <= changed
    assert not {k for k in changed if k.startswith("fc.")}  # the projector is not trained
    assert scores.shape == (464, 10) and head.out_features == 10
    rng = torch.get_rng_state()
    again = finetune_run(enc, data, rec, 0, semi_subset(data.train.labels, 0.1))[1]
    assert torch.equal(torch.as_tensor(again), torch.as_tensor(scores))  # dropout seeded from the run's seed
    assert torch.equal(torch.get_rng_state(), rng)  # and torch's global generator left as it was
    res = evaluate_finetune(enc, *ucla, epochs=1, warmup_epochs=0, milestones=(), batch_size=128)
    assert res.protocol == "finetune" and res.card["settings"]["trains"].startswith("all parameters")
    check_unchanged(enc, before)


def test_transfer_sizes_the_classifier_from_the_target(ucla):
    source = tiny_stgcn(num_class=60, mlp=True)  # an NTU-sized source with its pretraining projector
    res = evaluate_transfer(source, *ucla, epochs=1, milestones=(), batch_size=128)
    assert res.scores.shape == (464, 10)
    assert res.card["protocol"] == "transfer" and res.card["recipe"] == "cmd-finetune"
    assert res.card["settings"]["source_fc_out_features"] == 60


def test_halp_recipe_with_a_bigru(prepared):
    train, test = prepared["halp"]
    enc = build_encoder("bigru", num_class=10, layout="nw_ucla", num_persons=1, hidden_size=8, num_layers=1)
    before = state_snapshot(enc)
    res = evaluate_linear(enc, train, test, recipe="halp", epochs=2, milestones=(1,), eval_every=1)
    check_unchanged(enc, before)
    assert res.card["settings"]["augmentation"] == "halp-crop" and res.card["settings"]["cached_features"] is False
    assert res.scores.shape == (464, 10)


def test_holdout_and_save_load(ucla, tmp_path):
    enc = tiny_stgcn()
    res = evaluate_linear(enc, *ucla, holdout_fraction=0.1, epochs=1, seeds=(0, 1))
    n_held = len(res.holdout_labels)
    assert res.holdout_scores.shape == (n_held, 10) and n_held == 102
    assert all(r["train_samples"] == 1020 - n_held for r in res.runs)
    again = evaluate_linear(enc, *ucla, holdout_fraction=0.1, epochs=1, stream="motion")
    np.testing.assert_array_equal(res.holdout_labels, again.holdout_labels)  # the same held-out samples per stream
    res.save(tmp_path / "r")
    loaded = Result.load(tmp_path / "r")
    np.testing.assert_allclose(loaded.holdout_scores, res.holdout_scores)
    assert json.loads((tmp_path / "r" / "result.json").read_text())["card"]["settings"]["holdout_samples"] == n_held


def test_a_run_folder_checkpoint(ucla, tmp_path):
    from skelnb.train import train

    tiny = dict(encoder="stgcn", encoder_hidden_channels=4, encoder_hidden_dim=16, queue_size=256, dim=8)
    train(method="moco", data=str(ucla[0]), output=str(tmp_path / "run"), epochs=1, batch_size=128, lr=0.05,
          seed=0, progress=False, **tiny)  # fmt: skip
    res = evaluate_linear(tmp_path / "run", *ucla, epochs=1)
    assert res.card["checkpoint"] and len(res.card["checkpoint_sha256"]) == 64
    assert res.card["encoder"]["method"] == "moco"


def test_bad_input(ucla, tmp_path):
    from skelnb.data.store import load_split, write_split

    enc = tiny_stgcn()
    with pytest.raises(FileNotFoundError, match="absent: no such prepared split folder"):
        evaluate_linear(enc, tmp_path / "absent", ucla[1], epochs=1)
    split = load_split(ucla[1])
    other = tmp_path / "twelve"
    write_split(other, split.data, split.labels, split.names, split.num_frames,
                meta={**split.meta, "num_classes": 12})  # fmt: skip
    with pytest.raises(ValueError, match="has 10 classes but .*twelve has 12"):
        evaluate_linear(enc, ucla[0], other, epochs=1)
    with pytest.raises(ValueError, match="built for layout ntu25"):
        evaluate_linear(tiny_stgcn(layout="ntu25"), *ucla, epochs=1)
    with pytest.raises(ValueError, match="needs a finetune recipe"):
        evaluate_finetune(enc, *ucla, recipe="hiclr")
    with pytest.raises(ValueError, match="needs a linear recipe"):
        evaluate_linear(enc, *ucla, recipe="cmd-finetune")
    with pytest.raises(ValueError, match="unknown recipe setting.*learning_rate"):
        evaluate_linear(enc, *ucla, learning_rate=1.0)
    with pytest.raises(ValueError, match="eval_every"):
        evaluate_linear(enc, *ucla, epochs=1, eval_every=0)


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
