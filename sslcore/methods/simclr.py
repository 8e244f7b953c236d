"""SimCLR: contrast two augmented views of each image against the other images of the batch.

Chen, Kornblith, Norouzi & Hinton (2020), "A Simple Framework for Contrastive Learning of Visual
Representations", ICML, arXiv:2002.05709.
"""

from __future__ import annotations

import torch

from sslcore.methods.base import AugmentFn, Batch, Citation, MethodInfo, SSLMethod
from sslcore.methods.losses import NTXentLoss
from sslcore.models.heads import ProjectionHead


class SimCLR(SSLMethod):
    """Backbone + MLP projection head trained with the NT-Xent loss.

    Both views go through the network as one batch of 2B images (one forward, shared BatchNorm
    statistics, as in the paper's global BatchNorm).

    Args:
        backbone: the encoder.
        temperature: NT-Xent temperature.
        hidden_dim: hidden size of the projection head.
        projection_dim: size of the embeddings the loss compares.
    """

    name = "simclr"

    def __init__(self, backbone: torch.nn.Module, *, temperature: float = 0.2, hidden_dim: int = 512,
                 projection_dim: int = 128) -> None:
        super().__init__(backbone)
        self.projection_head = ProjectionHead(backbone.feature_dim, hidden_dim, projection_dim)
        self.criterion = NTXentLoss(temperature)

    def view_sources(self, batch: Batch) -> torch.Tensor:
        """The 2B uint8 images to augment: each image twice."""
        return torch.cat([batch.images, batch.images])

    def training_step(self, batch: Batch, augment_fn: AugmentFn) -> torch.Tensor:
        views = augment_fn(self.view_sources(batch))  # (2B, C, H, W)
        z1, z2 = self.projection_head(self.backbone(views)).chunk(2)  # (B, P) each
        return self.criterion(z1, z2)


INFO = MethodInfo(
    name="simclr",
    title="SimCLR",
    strategy="contrastive",
    citation=Citation("Chen, Kornblith, Norouzi & Hinton", 2020,
                      "A Simple Framework for Contrastive Learning of Visual Representations", "ICML", "2002.05709"),
    explanation="Each image is randomly altered twice (cropped, brightened, blurred...). The network learns to "
                "recognise that the two altered copies come from the same image and to tell them apart from "
                "every other image in the batch, so it must notice what makes each image distinctive.",
    method_class=SimCLR,
)
