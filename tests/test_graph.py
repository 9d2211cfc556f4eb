"""skelnb.graph on a CUDA device: its other checks are in nbs/03_graph.ipynb; this one stays here as a `cuda` test
(skipped visibly without a GPU)."""

import numpy as np
import pytest
import torch

from skelnb.graph import drop_add_adjacency
from skelnb.layouts import NTU25


def ntu_spatial_adjacency():
    "A (3, 25, 25) ST-GCN-like adjacency of the NTU graph: self-loops, edges away from the centre, towards it."
    a = NTU25.adjacency().astype(np.float64)
    a_hat = a / a.sum(0, keepdims=True)
    d = NTU25.hop_distance
    edge = (a > 0) & ~np.eye(25, dtype=bool)
    A0 = np.where(np.eye(25, dtype=bool), a_hat, 0)
    A1 = np.where(edge & (d[:, None] >= d[None, :]), a_hat, 0)  # [j, i]: source j, target i
    A2 = np.where(edge & (d[:, None] < d[None, :]), a_hat, 0)
    return torch.from_numpy(np.stack([A0, A1, A2]))


@pytest.mark.cuda
def test_cuda_drop_add():
    A = ntu_spatial_adjacency()
    want = drop_add_adjacency(A, 0.3, 0.2, torch.Generator().manual_seed(1), num_samples=4)
    got = drop_add_adjacency(A.cuda(), 0.3, 0.2, torch.Generator().manual_seed(1), num_samples=4)  # CPU draws, GPU
    np.testing.assert_allclose(got.cpu().numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
