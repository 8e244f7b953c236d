"""DDP with two CPU processes on the gloo backend, as torchrun would start them: gather_with_grad
and pretraining."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from sslcore.data import load_dataset
from sslcore.methods.losses import BarlowTwinsLoss, NTXentLoss

DATASET_OPTIONS = dict(image_size=28, seed=0, n_images=200)
N_PER_RANK, DIM, WORLD = 4, 5, 2
LOSSES = {"ntxent": lambda: NTXentLoss(0.3), "barlow_twins": lambda: BarlowTwinsLoss(0.5)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_on_rank(rank: int, world: int, port: int, home: str, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world), MEDSSL_HOME=home, SSLCORE_DIST_BACKEND="gloo")
    torch.set_num_threads(1)
    from sslcore import distributed
    from sslcore.training.config import PretrainConfig
    from sslcore.training import pretrain

    assert distributed.init_from_env()
    try:
        dataset = load_dataset("synthetic", **DATASET_OPTIONS)
        config = PretrainConfig(method="simclr", backbone="small_cnn", image_size=28, epochs=1, batch_size=16,
                                device="cpu", knn_monitor=False)
        result = pretrain(config, dataset=dataset)
        weights = torch.cat([p.detach().flatten() for p in result.method.parameters()])
        results[rank] = (weights, len([row for row in result.history if "loss" in row]))
    finally:
        distributed.shutdown()


def test_two_gloo_processes_train_one_synchronised_model(tmp_path):
    world = 2
    results = mp.Manager().dict()
    mp.spawn(train_on_rank, args=(world, free_port(), str(tmp_path), results), nprocs=world, join=True)
    (weights_0, steps_0), (weights_1, steps_1) = results[0], results[1]
    # DDP averages gradients, so both ranks hold the same weights after every step.
    assert torch.allclose(weights_0, weights_1, atol=1e-6)
    # Each rank trains on its half of every global batch of 2 x 16 images.
    n_train = len(load_dataset("synthetic", **DATASET_OPTIONS).splits["train"].images)
    assert steps_0 == steps_1 == n_train // (world * 16)


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
    results = mp.Manager().dict()
    mp.spawn(loss_on_rank, args=(WORLD, free_port(), loss_name, results), nprocs=WORLD, join=True)
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

