"""The experiment notebooks run under papermill with parameters, as a researcher's batch would run them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ucla_split

ROOT = Path(__file__).resolve().parents[1]


def test_prepare_dataset_notebook_runs_with_parameters(tmp_path, shared):
    out_nb = tmp_path / "run.ipynb"
    cmd = [
        str(Path(sys.executable).parent / "papermill"),
        str(ROOT / "nbs" / "experiments" / "prepare_dataset.ipynb"),
        str(out_nb),
        "--cwd",
        str(tmp_path),
        "-k",
        "python3",
        "--stdout-file",
        str(tmp_path / "stdout.txt"),
        "-r",
        "dataset",
        "ntu60",
        "-r",
        "raw",
        str(shared / "ntu_samples"),
        "-r",
        "out",
        str(tmp_path / "prepared"),
        "-r",
        "pipeline",
        "halp",
        "-p",
        "workers",
        "1",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    assert (tmp_path / "prepared" / "ntu60-halp" / "xsub" / "train" / "meta.json").exists()
    text = (tmp_path / "stdout.txt").read_text()
    assert "xsub: train 3, val 2" in text and '"pipeline": "halp"' in text
    nb = json.loads(out_nb.read_text())
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in nb["cells"])


# --- the evaluate and fusion notebooks on a tiny real NW-UCLA (4 actions; views 1-2 train, view 3 test) ---

TINY_GCN = dict(hidden_channels=4, hidden_dim=16)


@pytest.fixture(scope="module")
def ucla_root(tmp_path_factory):
    "A data root with nw-ucla-hiclr/xview/{train,val}: 24 and 12 real sequences, 50 frames, and a 1-epoch MoCo run."
    from skelnb.train import train

    root = tmp_path_factory.mktemp("data")
    for part, views in (("train", (1, 2)), ("val", (3,))):
        ucla_split(root / "nw-ucla-hiclr" / "xview" / part, actions=(1, 2, 3, 4), subjects=(1, 2, 3), views=views)
    train(method="moco", data=str(root / "nw-ucla-hiclr" / "xview" / "train"), output=str(root / "moco"), epochs=1,
          batch_size=8, queue_size=16, dim=8, encoder_hidden_channels=4, encoder_hidden_dim=16, progress=False,
          device="cpu")  # fmt: skip
    return root


def papermill(notebook: str, folder: Path, **params) -> dict:
    "Run nbs/experiments/<notebook>.ipynb with `params` (YAML) into `folder`; its result.json."
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    cmd = [str(Path(sys.executable).parent / "papermill"), str(ROOT / "nbs" / "experiments" / f"{notebook}.ipynb"),
           str(folder / "run.ipynb"), "-k", "python3", "--cwd", str(folder), "-y", yaml.safe_dump(params)]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-4000:]
    return json.loads((folder / "result.json").read_text())


def evaluate(ucla_root, folder: Path, **params) -> dict:
    return papermill("evaluate", folder, data_root=str(ucla_root), out=str(folder), device="cpu", **params)


def raw_floor_by_hand(folder: Path) -> float:
    "The floor's 1-NN top-1, written out in numpy (np.interp per coordinate) for comparison with the notebook's."
    import numpy as np

    meta = json.loads((folder / "meta.json").read_text())
    data, labels = np.load(folder / "data.npy"), np.load(folder / "labels.npy")
    frames = np.load(folder / "num_frames.npy") if (folder / "num_frames.npy").exists() else None
    rows = []
    for i, x in enumerate(data[..., 0]):  # (C, T, V), first body
        n = int(frames[i]) if frames is not None else x.shape[1]
        t = np.linspace(0, n - 1, 32)
        y = np.stack([[np.interp(t, np.arange(n), x[c, :n, v]) for v in range(x.shape[2])] for c in range(3)])
        y = y - y[:, 2:3]  # (C, V, 32) centred on the layout's centre joint (nw_ucla: 2, spine_shoulder), per frame
        rows.append(y.transpose(1, 0, 2).ravel())
    assert meta["layout"] == "nw_ucla"
    return np.stack(rows), labels


def test_evaluate_knn_with_raw_floor_from_a_pretrain_run(ucla_root, tmp_path):
    import numpy as np

    result = evaluate(ucla_root, tmp_path, protocol="knn", k=[1], checkpoint=str(ucla_root / "moco"), raw_floor=True)
    assert result["protocol"] == "knn" and 0 <= result["metrics"]["top1"] <= 100
    card = result["card"]
    assert card["protocol"] == "knn" and len(card["checkpoint_sha256"]) == 64 and card["encoder"]["encoder"] == "stgcn"
    assert card["raw_floor"]["top1"] == result["metrics"]["raw_floor_top1"]
    assert (
        card["raw_floor"]["protocol"] == "knn"
        and "centre joint (nw_ucla: spine_shoulder)" in card["raw_floor"]["definition"]
    )
    assert (tmp_path / "confusion.png").exists() and (tmp_path / "tsne.png").exists()
    base = ucla_root / "nw-ucla-hiclr" / "xview"
    (xtr, ytr), (xte, yte) = raw_floor_by_hand(base / "train"), raw_floor_by_hand(base / "val")
    cos = (xte / np.linalg.norm(xte, axis=1, keepdims=True)) @ (xtr / np.linalg.norm(xtr, axis=1, keepdims=True)).T
    expected = 100 * float(np.mean(ytr[cos.argmax(1)] == yte))
    assert result["metrics"]["raw_floor_top1"] == pytest.approx(expected, abs=1e-6)


def test_evaluate_linear_with_standardisation_and_both_baselines(ucla_root, tmp_path):
    "Linear evaluation, standardised features, and the random-init and raw baselines under the same protocol."
    import torch

    from skelnb.encoders import build_encoder
    from skelnb.evaluate.baselines import raw_floor
    from skelnb.evaluate.linear import evaluate_linear

    short = dict(epochs=2, lr=0.1, batch_size=8)
    result = evaluate(ucla_root, tmp_path, protocol="linear", checkpoint=str(ucla_root / "moco"), figures=False,
                      standardize="train", raw_floor=True, init_baseline=True, seeds=[0, 1], **short)  # fmt: skip
    card, metrics = result["card"], result["metrics"]
    assert card["settings"]["standardize"] == "train" and card["settings"]["epochs"] == 2
    floor, init = card["raw_floor"], card["init_baseline"]
    assert floor["protocol"] == "linear" and floor["standardize"] == "train" and len(floor["runs"]) == 2
    assert "standardised (train)" in floor["definition"] and metrics["raw_floor_top1"] == floor["top1"]
    assert init["protocol"] == "linear" and metrics["init_top1"] == init["top1"] and "init_top1_sd" in metrics
    base = ucla_root / "nw-ucla-hiclr" / "xview"
    api_floor = raw_floor(base / "train", base / "val", protocol="linear", seeds=[0, 1], **short)
    assert metrics["raw_floor_top1"] == pytest.approx(api_floor["top1"], abs=1e-9)
    torch.manual_seed(0)
    args = card["encoder"]["encoder_args"]
    encoder = build_encoder("stgcn", num_class=card["data"]["train"]["num_classes"], layout="nw_ucla", **args)
    api_init = evaluate_linear(encoder, base / "train", base / "val", seeds=[0, 1], standardize="train", **short)
    assert metrics["init_top1"] == pytest.approx(api_init.metrics["top1"], abs=1e-9)


def test_evaluate_trained_protocols_and_fusion(ucla_root, tmp_path):
    init = dict(checkpoint="", encoder="stgcn", encoder_params=TINY_GCN, batch_size=8)
    linear = {}
    for stream in ("joint", "bone", "motion"):
        linear[stream] = evaluate(ucla_root, tmp_path / stream, protocol="linear", epochs=2, stream=stream,
                                  holdout_fraction=0.25, figures=stream == "joint", **init)  # fmt: skip
        assert linear[stream]["protocol"] == "linear" and len(linear[stream]["runs"][0]["history"]) >= 1
        assert linear[stream]["card"]["settings"]["epochs"] == 2
    assert (tmp_path / "joint" / "curves.png").exists() and (tmp_path / "joint" / "scores.npz").exists()
    semi = evaluate(ucla_root, tmp_path / "semi", protocol="semi", fraction=0.25, epochs=1, figures=False, **init)
    assert semi["protocol"] == "semi" and semi["card"]["settings"]["fraction"] == 0.25
    tuned = evaluate(ucla_root, tmp_path / "finetune", protocol="finetune", epochs=1, figures=False, **init)
    assert tuned["protocol"] == "finetune" and tuned["card"]["settings"]["epochs"] == 1
    fused = papermill("fusion", tmp_path / "fusion", results=[str(tmp_path / s) for s in linear],
                      out=str(tmp_path / "fusion"))  # fmt: skip
    assert fused["protocol"] == "fusion" and 0 <= fused["metrics"]["top1"] <= 100
    assert (tmp_path / "fusion" / "fusion.png").exists()


def test_evaluate_refuses_missing_data(tmp_path):
    with pytest.raises(AssertionError, match="holds no prepared split"):
        evaluate(tmp_path / "nowhere", tmp_path / "out", protocol="knn", encoder="stgcn")
