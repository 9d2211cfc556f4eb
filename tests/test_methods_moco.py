"""MoCo v2's queue across processes (two gloo processes): it lives here because a notebook cannot spawn them; the
other checks of skelnb.methods.moco are in nbs/41_methods.moco.ipynb."""

import torch
import torch.nn.functional as F

from skelnb.methods import MoCo
from conftest import run_two_processes


def _enqueue_on_rank(rank, world_size, port, folder):
    torch.distributed.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size
    )
    torch.manual_seed(0)  # the same initial queue on every rank, as DDP's broadcast of buffers gives
    moco = MoCo.from_flat(layout="nw_ucla", queue_size=10, encoder_args=dict(hidden_channels=4, hidden_dim=16))
    keys = F.normalize(torch.randn(3, 128, generator=torch.Generator().manual_seed(rank)), dim=1)
    moco.enqueue(keys)
    torch.save({"queue": moco.queue, "ptr": moco.queue_ptr, "keys": keys}, f"{folder}/rank{rank}.pt")
    torch.distributed.destroy_process_group()


def test_enqueue_all_gathers_keys_across_processes(tmp_path):
    r0, r1 = run_two_processes(_enqueue_on_rank, tmp_path)
    assert r0["ptr"].item() == r1["ptr"].item() == 6
    assert torch.equal(r0["queue"], r1["queue"])
    assert torch.equal(r0["queue"][:, :6].T, torch.cat([r0["keys"], r1["keys"]]))
