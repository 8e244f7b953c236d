import pytest
import torch
from torch import nn

from sslcore.methods.split_batch import group_count, split_batch_forward


def reference_batch_norm(x: torch.Tensor) -> torch.Tensor:
    """Training-mode BatchNorm1d without affine parameters, written out."""
    mean = x.mean(dim=0)
    var = ((x - mean) ** 2).mean(dim=0)
    return (x - mean) / (var + 1e-5).sqrt()


@pytest.mark.parametrize("shuffled", [False, True])
def test_each_group_is_normalised_with_its_own_statistics(shuffled):
    x = torch.randn(12, 3, generator=torch.Generator().manual_seed(0)) * 3 + 1
    permutation = torch.randperm(12, generator=torch.Generator().manual_seed(1)) if shuffled else None
    out = split_batch_forward(nn.BatchNorm1d(3, affine=False), x, 3, permutation)
    expected = torch.empty_like(x)
    order = permutation if shuffled else torch.arange(12)
    for group in order.tensor_split(3):  # the images of each group, in x's numbering
        expected[group] = reference_batch_norm(x[group])
    torch.testing.assert_close(out, expected)
    # Not what one BatchNorm over the whole batch gives: the statistics are per group.
    assert not torch.allclose(out, reference_batch_norm(x), atol=1e-3)


def test_the_shuffle_is_undone_for_a_network_without_batch_statistics():
    network = nn.Linear(3, 2)
    x = torch.randn(10, 3)
    torch.testing.assert_close(split_batch_forward(network, x, 4, torch.randperm(10)), network(x))


@pytest.mark.parametrize("batch_size, groups, expected", [(256, 4, 4), (32, 4, 4), (24, 4, 3), (15, 4, 1),
                                                           (256, 1, 1)])
def test_groups_keep_at_least_eight_images(batch_size, groups, expected):
    assert group_count(batch_size, groups) == expected
