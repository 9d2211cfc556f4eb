"""The `skelnb import` command (`skelnb.cli.main`, layer 7) on real NTU samples in the AimCLR and CMD layouts. The
importers' own checks are in nbs/13_data.importers.ipynb; this one stays here because it runs the command line, which
the data notebook (layer 1) does not import."""

import pickle

import numpy as np
import pytest

from skelnb.core import shared_data
from skelnb.data.importers import reference_files
from skelnb.data.samples import ntu_bodies, ntu_sample_paths
from skelnb.data.store import load_split


@pytest.fixture(scope="module")
def ntu():
    "The 5 real NTU samples as (names with .skeleton, labels, bodies (T, 2, 25, 3))."
    if shared_data("ntu_samples") is None:
        pytest.skip("shared data absent: ../shared/data/ntu_samples")
    files = ntu_sample_paths()
    return [f.name for f in files], [int(f.stem[-3:]) - 1 for f in files], [ntu_bodies(f) for f in files]


def to_ctvm(bodies, frames):
    "(T, M, V, 3) -> (3, frames, V, M), zero-padded or cut."
    out = np.zeros((3, frames, bodies.shape[2], bodies.shape[1]), np.float32)
    n = min(frames, len(bodies))
    out[:, :n] = bodies[:n].transpose(3, 0, 2, 1)
    return out


def test_import_command(tmp_path, ntu):
    from skelnb.cli import main

    names, labels, bodies = ntu
    aimclr, cmd = tmp_path / "NTU60" / "xview", tmp_path / "NTU-RGB-D-AGCN" / "xsub"
    for folder in (aimclr, cmd):
        folder.mkdir(parents=True)
        (folder / f"{'val' if folder is aimclr else 'train'}_label.pkl").write_bytes(pickle.dumps((names, labels)))
    data = np.stack([to_ctvm(b[np.linspace(0, len(b) - 1, 50).round().astype(int)], 50) for b in bodies])
    np.save(aimclr / "val_position.npy", data)
    np.save(cmd / "train_data_joint.npy", np.stack([to_ctvm(b, 300) for b in bodies]))
    np.save(cmd / "train_num_frame.npy", np.array([len(b) for b in bodies]))
    args = ["--data", str(aimclr / "val_position.npy"), "--labels", str(aimclr / "val_label.pkl")]
    assert main(["import", "aimclr", *args, "--out", str(tmp_path / "cli"), "--dataset", "ntu60"]) == 0
    np.testing.assert_array_equal(load_split(tmp_path / "cli").data, data)
    f = reference_files(cmd, "train", "cmd")
    args = ["--data", str(f["data"]), "--labels", str(f["labels"]), "--out", str(tmp_path / "y")]
    assert main(["import", "cmd", *args]) == 2  # --num-frame missing
