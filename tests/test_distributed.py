"""DDP pretraining with two CPU processes on the gloo backend, as torchrun would start them."""

import os
import socket

import torch
import torch.multiprocessing as mp

from sslcore.data import load_dataset

DATASET_OPTIONS = dict(image_size=28, seed=0, n_images=200)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_on_rank(rank: int, world: int, port: int, home: str, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world), MEDSSL_HOME=home, SSLCORE_DIST_BACKEND="gloo")
    torch.set_num_threads(1)
    from sslcore import distributed
    from sslcore.config import PretrainConfig
    from sslcore.train import pretrain

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
