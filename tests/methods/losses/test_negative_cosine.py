import math

import pytest
import torch

from sslcore.methods.losses import NegativeCosineSimilarity


def reference_negative_cosine(x, y) -> float:
    total = 0.0
    for a, b in zip(x.tolist(), y.tolist()):
        dot = sum(u * v for u, v in zip(a, b))
        total += -dot / (math.sqrt(sum(u * u for u in a)) * math.sqrt(sum(v * v for v in b)))
    return total / len(x)


@pytest.mark.parametrize("n, dim", [(1, 2), (5, 8), (32, 64)])
def test_matches_the_reference(n, dim):
    x, y = torch.randn(n, dim), torch.randn(n, dim)
    assert NegativeCosineSimilarity()(x, y).item() == pytest.approx(reference_negative_cosine(x, y), rel=1e-5)


def test_is_minus_one_for_aligned_pairs_and_the_gradient_stops_at_detached_targets():
    x = torch.randn(4, 6, requires_grad=True)
    target = (3 * x).detach().requires_grad_(True)
    loss = NegativeCosineSimilarity()(x, target.detach())
    assert loss.item() == pytest.approx(-1.0)
    loss.backward()
    assert target.grad is None
