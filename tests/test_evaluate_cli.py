"""`skelnb evaluate PROTOCOL ...` on real NW-UCLA sequences (about 60 training, 30 test) and a tiny MoCo run:
kNN, linear, semi-supervised, fine-tune, transfer and fusion through the command line equal the API's results;
--help lists every option with its default; bad input (a broken or foreign checkpoint, another number of classes,
a missing folder) exits 2 with a clear message and no traceback."""

import json
import re

import numpy as np
import pytest
import torch

from skelnb.cli import main
from skelnb.core import shared_data
from skelnb.evaluate import evaluate_finetune, evaluate_knn, evaluate_linear, evaluate_semi, evaluate_transfer, fuse
from skelnb.evaluate.core import Result
from conftest import ucla_split

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(encoder="stgcn", encoder_hidden_channels=4, encoder_hidden_dim=16, queue_size=64, dim=8)
LINEAR = ["--epochs", "2", "--eval-every", "1", "--lr", "0.5"]


def small_split(folder, view, subjects, num_classes=10):
    "Real NW-UCLA sequences of `view` and `subjects` (episode 0) as a prepared split folder."
    return ucla_split(folder, subjects=subjects, views=(view,), num_classes=num_classes)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    "A data root {root}/nw-ucla-hiclr/xview/{train,val} (views 1 and 2) and a one-epoch MoCo run on its training split."
    if shared_data("nw_ucla") is None:
        pytest.skip("shared data (../shared/data or $SKELNB_DATA) absent")
    from skelnb.train import train

    root = tmp_path_factory.mktemp("evaluate-cli")
    split = root / "nw-ucla-hiclr" / "xview"
    small_split(split / "train", 1, range(1, 7)), small_split(split / "val", 2, (1, 2, 3))
    train(method="moco", data=str(split / "train"), output=str(root / "run"), epochs=1, batch_size=16, lr=0.05,
          seed=0, progress=False, **TINY)  # fmt: skip
    return dict(root=root, train=split / "train", test=split / "val", run=root / "run")


def cli(*line) -> int:
    return main(["evaluate", *map(str, line)])


def assert_same(saved: Result, api: Result):
    np.testing.assert_array_equal(saved.scores, api.scores)
    np.testing.assert_array_equal(saved.labels, api.labels)
    assert saved.metrics == api.metrics and saved.card["settings"] == api.card["settings"]


def test_knn_equals_the_api(setup, tmp_path, capsys):
    "--data-root/--dataset/--pipeline/--split name the folders the experiment notebooks use."
    out = tmp_path / "knn"
    assert cli("knn", "--checkpoint", setup["run"], "--data-root", setup["root"], "--out", out, "--device", "cpu") == 0
    api = evaluate_knn(setup["run"], setup["train"], setup["test"])
    assert_same(Result.load(out), api)
    printed = capsys.readouterr().out
    assert f"top1 {api.metrics['top1']:.2f}" in printed and f"protocol card: {out / 'result.json'}" in printed
    assert (out / "confusion.png").is_file() and not (out / "curves.png").exists()  # kNN has no epochs
    card = json.loads((out / "result.json").read_text())["card"]
    assert card["checkpoint_sha256"] and card["data"]["test"]["folder"].endswith("val")


def test_weighted_knn_and_linear_equal_the_api(setup, tmp_path):
    folders = ("--train", setup["train"], "--test", setup["test"])
    assert cli("knn", "--checkpoint", setup["run"], *folders, "--k", 5, 10, "--temperature", 0.1, "--out",
               tmp_path / "w") == 0  # fmt: skip
    assert_same(Result.load(tmp_path / "w"), evaluate_knn(setup["run"], *folders[1::2], k=(5, 10), temperature=0.1))
    assert cli("linear", "--checkpoint", setup["run"], *folders, *LINEAR, "--seeds", 0, 1, "--out", tmp_path / "l") == 0
    api = evaluate_linear(setup["run"], *folders[1::2], epochs=2, eval_every=1, lr=0.5, seeds=(0, 1))
    saved = Result.load(tmp_path / "l")
    assert_same(saved, api)
    assert saved.card["recipe"] == "hiclr" and saved.card["settings"]["epochs"] == 2 and saved.metrics["seeds"] == 2
    assert (tmp_path / "l" / "curves.png").is_file()


def test_linear_standardize_equals_the_api_and_is_named_in_the_card(setup, tmp_path):
    folders = ("--train", setup["train"], "--test", setup["test"])
    for how in ("train", "batchnorm"):
        assert cli("linear", "--checkpoint", setup["run"], *folders, *LINEAR, "--standardize", how, "--out",
                   tmp_path / how) == 0  # fmt: skip
        api = evaluate_linear(setup["run"], *folders[1::2], epochs=2, eval_every=1, lr=0.5, standardize=how)
        saved = Result.load(tmp_path / how)
        assert_same(saved, api)
        assert saved.card["settings"]["standardize"] == how
    assert cli("knn", "--checkpoint", setup["run"], *folders, "--standardize", "train", "--out", tmp_path / "k") == 2


def test_semi_finetune_and_transfer_equal_the_api(setup, tmp_path):
    "One epoch each; without --recipe the protocol's default for the checkpoint's encoder (ST-GCN: hiclr-finetune)."
    folders = (setup["train"], setup["test"])
    short = ["--epochs", 1, "--batch-size", 16]
    apis = dict(
        semi=lambda: evaluate_semi(setup["run"], *folders, fraction=0.5, subset="cmd", epochs=1, batch_size=16),
        finetune=lambda: evaluate_finetune(setup["run"], *folders, recipe=None, epochs=1, batch_size=16),
        transfer=lambda: evaluate_transfer(setup["run"], *folders, epochs=1, batch_size=16),
    )
    for protocol, call in apis.items():
        api = call()  # the encoder's dropout is seeded per run: the same call gives the same result
        extra = ["--fraction", 0.5, "--subset", "cmd"] if protocol == "semi" else []
        line = [protocol, "--checkpoint", setup["run"], "--train", folders[0], "--test", folders[1], *short, *extra]
        assert cli(*line, "--out", tmp_path / protocol) == 0, protocol
        saved = Result.load(tmp_path / protocol)
        assert_same(saved, api)
        assert saved.card["recipe"] == ("cmd-finetune" if protocol == "transfer" else "hiclr-finetune"), protocol


def test_fusion_equals_the_api(setup, tmp_path):
    "Two linear results (seeds 0 and 1) with a held-out part, fused by the command line and by `fuse`."
    for seed in (0, 1):
        line = ["linear", "--checkpoint", setup["run"], "--data-root", setup["root"], *LINEAR, "--seeds", seed]
        assert cli(*line, "--holdout-fraction", 0.2, "--out", tmp_path / f"seed{seed}") == 0
    folders = [tmp_path / "seed0", tmp_path / "seed1"]
    assert cli("fusion", "--results", *folders, "--out", tmp_path / "fused") == 0
    saved, api = Result.load(tmp_path / "fused"), fuse(folders)
    np.testing.assert_allclose(saved.scores, api.scores)
    assert saved.card["fusion"]["used"]["weights"] == api.card["fusion"]["used"]["weights"]
    assert saved.card["fusion"]["used"]["weights_chosen_on"] != "test"
    assert cli("fusion", "--results", *folders, "--weights", "1,0", "--out", tmp_path / "given") == 0
    np.testing.assert_allclose(Result.load(tmp_path / "given").scores, Result.load(folders[0]).scores)


FLAGS = """--checkpoint --reference-checkpoint --encoder --layout --encoder-args --train --test --data-root --dataset
--pipeline --split --stream --recipe --k --temperature --seeds --epochs --lr --batch-size --eval-every --fraction
--subset --holdout-fraction --standardize --results --weights --device --out --no-figures""".split()
DEFAULTS = ["default 0.01", "default 1;", "default 0)", "default joint", "default xview", "default heldout",
            "hiclr 3.0", "halp 0.005", "hiclr-finetune 70", "cmd-finetune 0.01", "default 5)"]  # fmt: skip


def test_help_lists_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit) as e:
        main(["evaluate", "--help"])
    assert e.value.code == 0
    text = re.sub(r"-\s+", "-", " ".join(capsys.readouterr().out.split()))  # argparse wraps lines, also at hyphens
    assert [f for f in FLAGS if f"{f} " not in text] == []
    assert [d for d in DEFAULTS if d not in text.replace("(default", "default")] == []


def test_bad_input_exits_2_with_a_message(setup, tmp_path, capsys):
    from skelnb.data.store import load_split, write_split

    broken = tmp_path / "ckpt-000001-000000.pt"
    broken.write_bytes(b"not a checkpoint")
    split = load_split(setup["test"])
    twelve = write_split(tmp_path / "twelve", split.data, split.labels, split.names, split.num_frames,
                         meta={**split.meta, "num_classes": 12})  # fmt: skip
    folders = ("--train", setup["train"], "--test", setup["test"])
    cases = [
        (("knn", "--checkpoint", broken, *folders), f"{broken}: not a readable checkpoint"),
        (("knn", "--checkpoint", setup["run"], "--encoder", "bigru", *folders), "bigru"),
        (("linear", "--checkpoint", setup["run"], "--train", setup["train"], "--test", twelve, *LINEAR), "12"),
        (("knn", "--checkpoint", setup["run"], "--data-root", tmp_path / "none"), "no such prepared split folder"),
        (("knn", "--checkpoint", setup["run"], "--train", setup["train"]), "give both --train and --test"),
        (("knn", "--checkpoint", setup["run"], *folders, "--epochs", 3), "knn does not use --epochs"),
        (("semi", "--checkpoint", setup["run"], *folders, "--fraction", 2), "fraction"),
        (("fusion", "--results", tmp_path / "absent", tmp_path), "result.json: no result"),
        (("fusion", "--results", tmp_path, tmp_path, "--weights", "high"), "weights"),
    ]
    for line, message in cases:
        capsys.readouterr()
        assert cli(*line) == 2, line
        err = capsys.readouterr().err
        assert err.startswith("skelnb evaluate: error:") and message in err and "Traceback" not in err, (line, err)
