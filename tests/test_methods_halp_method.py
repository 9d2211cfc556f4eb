"""HaLP's prototypes across processes (two gloo processes): it lives here because a notebook cannot spawn them; the
other checks of skelnb.methods.halp are in nbs/43_methods.halp.ipynb."""

import torch

from skelnb.methods.halp import PrototypeSchedule, spherical_kmeans
from conftest import run_two_processes


def _fit_on_rank(rank, world_size, port, folder):
    torch.distributed.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size
    )
    queue = torch.nn.functional.normalize(torch.randn(16, 32, generator=torch.Generator().manual_seed(0)), dim=0)
    sched = PrototypeSchedule(num_prototypes=4, dim=16, keys=24, every=2, warmup=5)
    fitted = sched.step(queue, torch.tensor(3), 6, torch.Generator().manual_seed(100 + rank))  # a seed per rank
    torch.save({"prototypes": sched.prototypes, "fitted": fitted}, f"{folder}/rank{rank}.pt")
    torch.distributed.destroy_process_group()


def test_every_process_gets_rank_0s_prototypes(tmp_path):
    r0, r1 = run_two_processes(_fit_on_rank, tmp_path)
    assert r0["fitted"] and r1["fitted"] and torch.equal(r0["prototypes"], r1["prototypes"])
    queue = torch.nn.functional.normalize(torch.randn(16, 32, generator=torch.Generator().manual_seed(0)), dim=0)
    recent = queue[:, (3 - 24 + torch.arange(24)) % 32].T
    assert torch.equal(r0["prototypes"], spherical_kmeans(recent, 4, torch.Generator().manual_seed(100)))
