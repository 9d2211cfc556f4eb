"""skelnb.streams on a CUDA device, on the real NTU samples: its other checks are in nbs/15_streams.ipynb; this one
stays here as a `cuda` test (skipped visibly without a GPU)."""

import numpy as np
import pytest
import torch

from skelnb.core import shared_data
from skelnb.data.samples import ntu_sample, ntu_sample_paths
from skelnb.layouts import NTU25
from skelnb.streams import STREAMS, to_stream


@pytest.fixture(scope="module")
def real_ntu():
    "The 5 real NTU samples in the stored layout, through both pipelines."
    if shared_data("ntu_samples") is None:
        pytest.skip("shared data absent")
    return [ntu_sample(p, pipeline)[0] for p in ntu_sample_paths() for pipeline in ("hiclr", "halp")]


@pytest.mark.cuda
@pytest.mark.parametrize("stream", STREAMS)
def test_cuda(real_ntu, stream):
    for x in real_ntu:
        t = torch.from_numpy(x).cuda()
        got = to_stream(t, stream, NTU25)
        assert got.device == t.device and got.dtype == t.dtype
        np.testing.assert_allclose(got.cpu().numpy(), to_stream(x, stream, NTU25), rtol=0, atol=1e-6)
