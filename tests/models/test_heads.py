import pytest
import torch
from torch import nn

from sslcore.models import PredictionHead, ProjectionHead


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("input_dim, output_dim", [(8, 4), (128, 64)])
def test_projection_head_maps_to_output_dim_with_num_layers_linear_layers(num_layers, input_dim, output_dim):
    head = ProjectionHead(input_dim, 16, output_dim, num_layers=num_layers)
    assert head(torch.randn(5, input_dim)).shape == (5, output_dim)
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    assert [layer.in_features for layer in linears] == [input_dim] + [16] * (num_layers - 1)
    assert sum(isinstance(m, nn.BatchNorm1d) for m in head.modules()) == num_layers - 1


def test_batch_norm_output_standardises_each_output_feature():
    head = ProjectionHead(8, 16, 4, num_layers=3, batch_norm_output=True)
    out = head(torch.randn(64, 8) * 5 + 3)
    torch.testing.assert_close(out.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(0, unbiased=False), torch.ones(4), atol=1e-3, rtol=0)
    assert not list(head.layers[-1].parameters())  # no affine parameters to undo the standardisation


def test_prediction_head_maps_a_projection_to_the_same_size():
    head = PredictionHead(32, 8)
    assert head(torch.randn(4, 32)).shape == (4, 32)
    assert [m.out_features for m in head.modules() if isinstance(m, nn.Linear)] == [8, 32]


@pytest.mark.parametrize("kwargs, message", [
    (dict(input_dim=0, hidden_dim=4, output_dim=4), "positive"),
    (dict(input_dim=4, hidden_dim=4, output_dim=4, num_layers=0), "num_layers"),
])
def test_projection_head_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ProjectionHead(**kwargs)
