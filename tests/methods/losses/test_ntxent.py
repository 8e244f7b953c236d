import math

import pytest
import torch
import torch.nn.functional as F

from sslcore import distributed
from sslcore.methods.losses import NTXentLoss


def reference_ntxent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> float:
    """SimCLR's loss written as in the paper: a loop over the 2N anchors."""
    z = F.normalize(torch.cat([z1, z2]), dim=1).tolist()
    n = len(z1)
    total = 0.0
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        similarity = [sum(a * b for a, b in zip(z[i], z[k])) / temperature for k in range(2 * n)]
        denominator = sum(math.exp(similarity[k]) for k in range(2 * n) if k != i)
        total += -math.log(math.exp(similarity[positive]) / denominator)
    return total / (2 * n)


@pytest.mark.parametrize("n", [2, 5, 16])
@pytest.mark.parametrize("dim", [3, 32])
@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_matches_the_reference(n, dim, temperature):
    z1, z2 = torch.randn(n, dim, dtype=torch.float64), torch.randn(n, dim, dtype=torch.float64)
    loss = NTXentLoss(temperature)(z1, z2)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(reference_ntxent(z1, z2, temperature), rel=1e-4)


def test_identical_views_score_lower_than_unrelated_views():
    z1 = torch.randn(32, 16)
    criterion = NTXentLoss(0.2)
    assert criterion(z1, z1 + 0.01 * torch.randn_like(z1)) < criterion(z1, torch.randn_like(z1))


def test_runs_in_float32_under_bf16_autocast():
    z1, z2 = torch.randn(8, 16), torch.randn(8, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = NTXentLoss(0.1)(z1.bfloat16(), z2.bfloat16())
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(reference_ntxent(z1.bfloat16().float(), z2.bfloat16().float(), 0.1), rel=1e-4)


@pytest.mark.parametrize("world_size", [2, 3])
def test_ranks_with_gathered_negatives_train_like_one_big_batch(monkeypatch, world_size):
    """Simulate W ranks: each gets every rank's embeddings (with gradient) from the gather and scores
    its own pairs; the mean of the rank losses (DDP averages gradients) equals the full-batch loss."""
    n, dim = 4, 8
    z1 = torch.randn(n * world_size, dim, requires_grad=True)
    z2 = torch.randn(n * world_size, dim, requires_grad=True)
    criterion = NTXentLoss(0.3)
    expected = criterion(z1, z2)
    expected_grads = torch.autograd.grad(expected, [z1, z2])

    normalised = [F.normalize(z1, dim=1), F.normalize(z2, dim=1)]
    rank_losses = []
    for rank in range(world_size):
        calls = []

        def gather(tensor, rank=rank, calls=calls):
            full = normalised[len(calls) % 2]  # the loss gathers z1, then z2
            calls.append(tensor)
            slices = list(full.split(n))
            torch.testing.assert_close(tensor, slices[rank])
            slices[rank] = tensor
            return slices

        monkeypatch.setattr(distributed, "gather_with_grad", gather)
        monkeypatch.setattr(distributed, "rank", lambda rank=rank: rank)
        own = slice(rank * n, (rank + 1) * n)
        rank_losses.append(criterion(z1[own], z2[own]))
    mean_loss = torch.stack(rank_losses).mean()
    torch.testing.assert_close(mean_loss, expected)
    for grad, expected_grad in zip(torch.autograd.grad(mean_loss, [z1, z2]), expected_grads):
        torch.testing.assert_close(grad, expected_grad)


def test_gather_with_grad_is_the_identity_in_one_process():
    z = torch.randn(3, 4)
    assert distributed.gather_with_grad(z) == [z]


def test_rejects_a_non_positive_temperature():
    with pytest.raises(ValueError, match="temperature must be positive"):
        NTXentLoss(0.0)
