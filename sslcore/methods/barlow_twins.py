"""Barlow Twins: make the two views' features agree while each feature carries different information.

Zbontar, Jing, Misra, LeCun & Deny (2021), "Barlow Twins: Self-Supervised Learning via Redundancy
Reduction", ICML, arXiv:2103.03230.
"""

from __future__ import annotations

import torch
from torch import nn

from sslcore.methods.base import AugmentFn, Batch, Citation, MethodInfo, SSLMethod
from sslcore.methods.losses import BarlowTwinsLoss
from sslcore.models.heads import ProjectionHead


class BarlowTwins(SSLMethod):
    """Backbone + 3-layer projector trained with the cross-correlation loss.

    Args:
        backbone: the encoder.
        off_diagonal_weight: the paper's lambda, weight of the redundancy-reduction term.
        projection_dim: size of the projector's hidden and output layers (8192 in the paper).
    """

    name = "barlow_twins"

    def __init__(self, backbone: nn.Module, *, off_diagonal_weight: float = 5e-3, projection_dim: int = 1024) -> None:
        super().__init__(backbone)
        self.projection_head = ProjectionHead(backbone.feature_dim, projection_dim, projection_dim, num_layers=3)
        self.criterion = BarlowTwinsLoss(off_diagonal_weight)

    def training_step(self, batch: Batch, augment_fn: AugmentFn) -> torch.Tensor:
        views = augment_fn(torch.cat([batch.images, batch.images]))  # (2B, C, H, W)
        z1, z2 = self.projection_head(self.backbone(views)).chunk(2)  # (B, P) each
        return self.criterion(z1, z2)


INFO = MethodInfo(
    name="barlow_twins",
    title="Barlow Twins",
    strategy="non-contrastive",
    citation=Citation("Zbontar, Jing, Misra, LeCun & Deny", 2021,
                      "Barlow Twins: Self-Supervised Learning via Redundancy Reduction", "ICML", "2103.03230"),
    explanation="The network describes two altered copies of each image with a list of numbers and learns to make "
                "the two lists agree, while making every number in the list capture something different. It needs "
                "no comparison between images and no second network.",
    method_class=BarlowTwins,
)
