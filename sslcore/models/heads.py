"""Projection and prediction heads: the small MLPs that SSL methods put on top of the backbone.

As in lightly's ``heads.py``: a projection head maps backbone features to the space where the
loss is computed (SimCLR, Chen et al., 2020, arXiv:2002.05709, showed it improves the features
beneath it); a prediction head maps one view's projection onto the other's (BYOL, Grill et al.,
2020, arXiv:2006.07733; SimSiam, Chen & He, 2021, arXiv:2011.10566).
"""

from __future__ import annotations

from torch import Tensor, nn


class ProjectionHead(nn.Module):
    """An MLP of ``num_layers`` linear layers with BatchNorm and ReLU between them.

    Args:
        input_dim: size of the backbone features.
        hidden_dim: size of the hidden layers.
        output_dim: size of the projection.
        num_layers: linear layers, at least 1 (1 is a plain linear map).
        batch_norm_output: end with an affine-free BatchNorm (SimSiam, Barlow Twins).
    """

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int = 2,
                 batch_norm_output: bool = False) -> None:
        super().__init__()
        if min(input_dim, hidden_dim, output_dim) < 1:
            raise ValueError(f"dimensions must be positive, got input_dim={input_dim}, "
                             f"hidden_dim={hidden_dim}, output_dim={output_dim}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        dims = [input_dim] + [hidden_dim] * (num_layers - 1) + [output_dim]
        layers: list[nn.Module] = []
        for index, (in_dim, out_dim) in enumerate(zip(dims[:-1], dims[1:])):
            last = index == num_layers - 1
            layers.append(nn.Linear(in_dim, out_dim, bias=last and not batch_norm_output))
            if not last:
                layers += [nn.BatchNorm1d(out_dim), nn.ReLU(inplace=True)]
        if batch_norm_output:
            layers.append(nn.BatchNorm1d(output_dim, affine=False))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        # (B, input_dim) -> (B, output_dim)
        return self.layers(x)


class PredictionHead(ProjectionHead):
    """BYOL's / SimSiam's predictor: Linear-BN-ReLU-Linear from a projection to a projection.

    SimSiam uses a bottleneck (``hidden_dim`` = ``dim / 4``); BYOL a wider hidden layer.

    Args:
        dim: size of the projections it maps between.
        hidden_dim: size of its hidden layer.
    """

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__(dim, hidden_dim, dim, num_layers=2)
