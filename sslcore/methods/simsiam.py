"""SimSiam: a Siamese network with a predictor and a stop-gradient, no negatives, no momentum.

Chen & He (2021), "Exploring Simple Siamese Representation Learning", CVPR, arXiv:2011.10566.
"""

from __future__ import annotations

import torch
from torch import nn

from sslcore.methods.base import AugmentFn, Batch, Citation, MethodInfo, SSLMethod
from sslcore.methods.losses import NegativeCosineSimilarity
from sslcore.models.heads import PredictionHead, ProjectionHead


class SimSiam(SSLMethod):
    """Backbone + 3-layer projector (BatchNorm on its output) + bottleneck predictor.

    The prediction of each view is pulled towards the projection of the other, which is detached
    (the stop-gradient that prevents collapse in the paper).

    Args:
        backbone: the encoder.
        projection_dim: size of the projector's hidden and output layers; the predictor's hidden
            layer has a quarter of it.
    """

    name = "simsiam"

    def __init__(self, backbone: nn.Module, *, projection_dim: int = 512) -> None:
        super().__init__(backbone)
        if projection_dim < 4:
            raise ValueError(f"projection_dim must be at least 4, got {projection_dim}")
        self.projection_head = ProjectionHead(backbone.feature_dim, projection_dim, projection_dim, num_layers=3,
                                              batch_norm_output=True)
        self.prediction_head = PredictionHead(projection_dim, projection_dim // 4)
        self.criterion = NegativeCosineSimilarity()

    def training_step(self, batch: Batch, augment_fn: AugmentFn) -> torch.Tensor:
        views = augment_fn(torch.cat([batch.images, batch.images]))  # (2B, C, H, W)
        projections = self.projection_head(self.backbone(views))  # (2B, P)
        p1, p2 = self.prediction_head(projections).chunk(2)
        z1, z2 = projections.detach().chunk(2)
        return (self.criterion(p1, z2) + self.criterion(p2, z1)) / 2


INFO = MethodInfo(
    name="simsiam",
    title="SimSiam",
    strategy="non-contrastive",
    citation=Citation("Chen & He", 2021, "Exploring Simple Siamese Representation Learning", "CVPR", "2011.10566"),
    explanation="The network sees two altered copies of each image and learns to predict its own output for one "
                "copy from the other. A simple trick (only one side is adjusted at a time) stops it from "
                "giving every image the same answer; it needs neither other images nor a second network.",
    method_class=SimSiam,
)
