"""gather_with_grad with two real gloo processes: the losses that look at the whole batch (NT-Xent's
negatives, Barlow Twins' cross-correlation) train on two ranks like one process with the full batch."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from sslcore.methods.losses import BarlowTwinsLoss, NTXentLoss

N_PER_RANK, DIM, WORLD = 4, 5, 2
LOSSES = {"ntxent": lambda: NTXentLoss(0.3), "barlow_twins": lambda: BarlowTwinsLoss(0.5)}


def embeddings(world: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return (torch.randn(N_PER_RANK * world, DIM, generator=generator),
            torch.randn(N_PER_RANK * world, DIM, generator=generator))


def loss_on_rank(rank: int, world: int, port: int, loss_name: str, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        own = slice(rank * N_PER_RANK, (rank + 1) * N_PER_RANK)
        z1, z2 = (z[own].clone().requires_grad_() for z in embeddings(world))
        loss = LOSSES[loss_name]()(z1, z2)
        loss.backward()
        results[rank] = (loss.item(), z1.grad, z2.grad)
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("loss_name", list(LOSSES))
def test_two_gloo_ranks_match_the_full_batch_loss_and_gradient(loss_name):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    results = mp.Manager().dict()
    mp.spawn(loss_on_rank, args=(WORLD, port, loss_name, results), nprocs=WORLD, join=True)
    z1, z2 = (z.requires_grad_() for z in embeddings(WORLD))
    full = LOSSES[loss_name]()(z1, z2)
    full.backward()
    # NT-Xent: each rank scores its own pairs, the mean is the full loss; Barlow Twins: every rank
    # computes the full loss. DDP averages the ranks' parameter gradients, so the full-batch
    # gradient is the ranks' mean.
    torch.testing.assert_close(torch.tensor(sum(results[r][0] for r in range(WORLD)) / WORLD), full.detach())
    if loss_name == "barlow_twins":
        assert all(results[r][0] == pytest.approx(full.item(), rel=1e-5) for r in range(WORLD))
    for index, z in ((1, z1), (2, z2)):
        torch.testing.assert_close(torch.cat([results[r][index] for r in range(WORLD)]) / WORLD, z.grad)

