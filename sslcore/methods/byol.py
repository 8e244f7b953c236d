"""BYOL: an online network learns to predict a slowly moving target network's view of an image.

Grill, Strub, Altché, Tallec, Richemond, Buchatskaya, Doersch, Pires, Guo, Azar, Piot, Kavukcuoglu,
Munos & Valko (2020), "Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning",
NeurIPS, arXiv:2006.07733.
"""

from __future__ import annotations

import torch
from torch import nn

from sslcore.methods.base import AugmentFn, Batch, Citation, MethodInfo, SSLMethod
from sslcore.methods.losses import NegativeCosineSimilarity
from sslcore.methods.momentum import cosine_momentum, frozen_copy, update_momentum
from sslcore.models.heads import PredictionHead, ProjectionHead


class BYOL(SSLMethod):
    """Online backbone + projector + predictor; target backbone + projector (an EMA of the online).

    The loss is the symmetrised negative cosine similarity between the online prediction of one view
    and the target projection of the other (the paper's 2 - 2 cos, up to an affine map). The EMA
    momentum follows a cosine from ``base_momentum`` to 1 over training.

    Args:
        backbone: the encoder.
        base_momentum: EMA momentum at the start of training.
        hidden_dim: hidden size of the projector and predictor.
        projection_dim: size of the projections.
    """

    name = "byol"

    def __init__(self, backbone: nn.Module, *, base_momentum: float = 0.99, hidden_dim: int = 1024,
                 projection_dim: int = 256) -> None:
        super().__init__(backbone)
        if not 0 <= base_momentum <= 1:
            raise ValueError(f"base_momentum must be between 0 and 1, got {base_momentum}")
        self.base_momentum = base_momentum
        self.projection_head = ProjectionHead(backbone.feature_dim, hidden_dim, projection_dim)
        self.prediction_head = PredictionHead(projection_dim, hidden_dim)
        self.target_encoder = frozen_copy(nn.Sequential(backbone, self.projection_head))
        self.criterion = NegativeCosineSimilarity()

    def training_step(self, batch: Batch, augment_fn: AugmentFn) -> torch.Tensor:
        views = augment_fn(torch.cat([batch.images, batch.images]))  # (2B, C, H, W)
        p1, p2 = self.prediction_head(self.projection_head(self.backbone(views))).chunk(2)  # (B, P) each
        with torch.no_grad():
            t1, t2 = self.target_encoder(views).chunk(2)
        return (self.criterion(p1, t2) + self.criterion(p2, t1)) / 2

    def on_step_end(self, progress: float) -> None:
        update_momentum(nn.Sequential(self.backbone, self.projection_head), self.target_encoder,
                        cosine_momentum(self.base_momentum, progress))


INFO = MethodInfo(
    name="byol",
    title="BYOL",
    strategy="non-contrastive",
    citation=Citation("Grill et al.", 2020, "Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning",
                      "NeurIPS", "2006.07733"),
    explanation="Two altered copies of each image go through two networks: one learns to predict what the "
                "other, a slowly updated copy of itself, outputs for the other altered copy. It never needs "
                "to compare different images, so it does not depend on large batches.",
    method_class=BYOL,
)
