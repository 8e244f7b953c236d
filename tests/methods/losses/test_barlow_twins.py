import pytest
import torch

from sslcore.methods.losses import BarlowTwinsLoss


def reference_barlow_twins(z1, z2, weight) -> float:
    n, dim = len(z1), len(z1[0])

    def standardise(z):
        columns = []
        for j in range(dim):
            column = [float(row[j]) for row in z]
            mean = sum(column) / n
            std = (sum((v - mean) ** 2 for v in column) / n) ** 0.5  # biased, as BatchNorm
            columns.append([(v - mean) / (std + 1e-6) for v in column])
        return columns  # dim lists of n values

    a, b = standardise(z1), standardise(z2)
    total = 0.0
    for i in range(dim):
        for j in range(dim):
            c = sum(a[i][k] * b[j][k] for k in range(n)) / n
            total += (1 - c) ** 2 if i == j else weight * c ** 2
    return total


@pytest.mark.parametrize("n, dim", [(2, 3), (8, 5), (32, 16)])
@pytest.mark.parametrize("weight", [5e-3, 0.5])
def test_matches_the_reference(n, dim, weight):
    z1, z2 = torch.randn(n, dim), torch.randn(n, dim)
    expected = reference_barlow_twins(z1.tolist(), z2.tolist(), weight)
    assert BarlowTwinsLoss(weight)(z1, z2).item() == pytest.approx(expected, rel=1e-4)


def test_identical_decorrelated_views_score_near_zero():
    z = torch.linalg.qr(torch.randn(64, 8))[0] * 8  # orthogonal columns: uncorrelated features
    assert BarlowTwinsLoss()(z, z).item() < 0.05
    assert BarlowTwinsLoss()(z, torch.randn(64, 8)).item() > 4


def test_a_feature_equal_in_both_views_is_perfectly_correlated():
    # The standardisation is BatchNorm's (biased variance): identical views give C_ii = 1 exactly,
    # whatever the batch size, so without the off-diagonal term the loss is 0.
    z = torch.randn(4, 3)
    assert BarlowTwinsLoss(0.0)(z, z).item() == pytest.approx(0.0, abs=1e-5)


def test_rejects_a_negative_weight():
    with pytest.raises(ValueError, match="off_diagonal_weight"):
        BarlowTwinsLoss(-1.0)
