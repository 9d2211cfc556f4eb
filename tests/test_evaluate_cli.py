"""`skelnb evaluate` semi, finetune and transfer equal their API calls: kept here because together they take ~30 s
(three fine-tuning protocols, each run twice); the command line's other checks are in nbs/90_cli.ipynb."""

import numpy as np
import pytest

from skelnb.cli import main
from skelnb.core import shared_data
from skelnb.evaluate import evaluate_finetune, evaluate_semi, evaluate_transfer
from skelnb.evaluate.core import Result
from conftest import ucla_split

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(encoder="stgcn", encoder_hidden_channels=4, encoder_hidden_dim=16, queue_size=64, dim=8)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    "Real NW-UCLA splits (view 1 subjects 1-6, view 2 subjects 1-3) and a one-epoch MoCo run on the training split."
    if shared_data("nw_ucla") is None:
        pytest.skip("shared data (../shared/data or $SKELNB_DATA) absent")
    from skelnb.train import train

    root = tmp_path_factory.mktemp("evaluate-cli")
    split = root / "nw-ucla-hiclr" / "xview"
    (
        ucla_split(split / "train", subjects=range(1, 7), views=(1,)),
        ucla_split(split / "val", subjects=(1, 2, 3), views=(2,)),
    )
    train(method="moco", data=str(split / "train"), output=str(root / "run"), epochs=1, batch_size=16, lr=0.05,
          seed=0, progress=False, **TINY)  # fmt: skip
    return dict(root=root, train=split / "train", test=split / "val", run=root / "run")


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
        assert main(["evaluate", *map(str, line), "--out", str(tmp_path / protocol)]) == 0, protocol
        saved = Result.load(tmp_path / protocol)
        np.testing.assert_array_equal(saved.scores, api.scores)
        np.testing.assert_array_equal(saved.labels, api.labels)
        assert saved.metrics == api.metrics and saved.card["settings"] == api.card["settings"]
        assert saved.card["recipe"] == ("cmd-finetune" if protocol == "transfer" else "hiclr-finetune"), protocol
