"""HaLP+CMD's step on a GPU (`cuda`, skipped without one): it lives here because a notebook's CI run has no GPU; the
other checks of skelnb.methods.cmd are in nbs/45_methods.cmd.ipynb."""

import pytest
import torch

from skelnb.methods import HaLPCMD

HALP = dict(layout="nw_ucla", queue_size=16, topk=4, num_prototypes=3, prototype_keys=8, num_positives=5)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.cuda
def test_halp_cmd_step_stays_on_the_gpu(batch):
    "Views, streams, queues, prototypes and every output on the batch's device (nothing copied to the host)."
    torch.manual_seed(0)
    model = HaLPCMD.from_flat(
        **HALP, encoder_args=dict(hidden_size=8, num_layers=1), halp_start_epoch=1, warmup_samples=3
    ).cuda()
    gpu = batch.to("cuda")
    g = torch.Generator("cuda").manual_seed(0)
    for _ in range(3):
        out = model.training_step(gpu, g)
        out["loss"].backward()
    assert all(v.is_cuda and v.isfinite() for v in out.values())
    assert out["halp"].item() < 0 and model.halp["bone"].prototypes.is_cuda
