"""gather_with_grad with two real gloo processes: NT-Xent over gathered negatives trains like one batch."""

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from sslcore.methods.losses import NTXentLoss

N_PER_RANK, DIM, TEMPERATURE = 4, 5, 0.3


def embeddings(world: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return (torch.randn(N_PER_RANK * world, DIM, generator=generator),
            torch.randn(N_PER_RANK * world, DIM, generator=generator))


def loss_on_rank(rank: int, world: int, port: int, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        own = slice(rank * N_PER_RANK, (rank + 1) * N_PER_RANK)
        z1, z2 = (z[own].clone().requires_grad_() for z in embeddings(world))
        loss = NTXentLoss(TEMPERATURE)(z1, z2)
        loss.backward()
        results[rank] = (loss.item(), z1.grad, z2.grad)
    finally:
        dist.destroy_process_group()


def test_two_gloo_ranks_match_the_full_batch_loss_and_gradient():
    world = 2
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    results = mp.Manager().dict()
    mp.spawn(loss_on_rank, args=(world, port, results), nprocs=world, join=True)
    z1, z2 = (z.requires_grad_() for z in embeddings(world))
    full = NTXentLoss(TEMPERATURE)(z1, z2)
    full.backward()
    torch.testing.assert_close(torch.tensor(sum(results[r][0] for r in range(world)) / world), full.detach())
    # DDP averages the ranks' parameter gradients, so the full-batch gradient is the ranks' mean.
    for index, z in ((1, z1), (2, z2)):
        torch.testing.assert_close(torch.cat([results[r][index] for r in range(world)]) / world, z.grad)
