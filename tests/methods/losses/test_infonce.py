import math

import pytest
import torch
import torch.nn.functional as F

from sslcore.methods.losses import InfoNCELoss


def reference_infonce(queries, keys, negatives, temperature) -> float:
    q, k = F.normalize(queries, dim=1).tolist(), F.normalize(keys, dim=1).tolist()
    total = 0.0
    for i in range(len(q)):
        positive = math.exp(sum(a * b for a, b in zip(q[i], k[i])) / temperature)
        others = sum(math.exp(sum(a * b for a, b in zip(q[i], negative)) / temperature) for negative in negatives.tolist())
        total += -math.log(positive / (positive + others))
    return total / len(q)


@pytest.mark.parametrize("n, dim, n_negatives", [(1, 3, 1), (4, 8, 16), (16, 32, 64)])
@pytest.mark.parametrize("temperature", [0.07, 0.5])
def test_matches_the_reference(n, dim, n_negatives, temperature):
    torch.manual_seed(n * 1000 + dim)
    queries, keys = torch.randn(n, dim), torch.randn(n, dim)
    negatives = F.normalize(torch.randn(n_negatives, dim), dim=1)
    loss = InfoNCELoss(temperature)(queries, keys, negatives)
    assert loss.item() == pytest.approx(reference_infonce(queries, keys, negatives, temperature), rel=1e-4, abs=1e-6)


def test_matching_keys_score_lower_than_random_keys():
    queries = torch.randn(16, 8)
    negatives = F.normalize(torch.randn(32, 8), dim=1)
    criterion = InfoNCELoss(0.2)
    assert criterion(queries, queries, negatives) < criterion(queries, torch.randn(16, 8), negatives)
