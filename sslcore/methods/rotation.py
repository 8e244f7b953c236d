"""Rotation prediction: learn features by recognising which way up an image was turned.

Gidaris, Singh & Komodakis (2018), "Unsupervised Representation Learning by Predicting Image
Rotations", ICLR, arXiv:1803.07728.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sslcore.methods.base import AugmentFn, Batch, Citation, MethodInfo, SSLMethod
from sslcore.methods.losses.precision import float32

N_ROTATIONS = 4  # 0, 90, 180 and 270 degrees


def rotate(images: torch.Tensor, quarter_turns: torch.Tensor) -> torch.Tensor:
    """Rotate each square image by its own number of quarter turns, without a per-image loop.

    Args:
        images: (B, C, H, H).
        quarter_turns: long (B,) in 0..3, counter-clockwise.

    Returns:
        (B, C, H, H).
    """
    rotated = images
    for turns in range(1, N_ROTATIONS):
        selected = (quarter_turns == turns).view(-1, 1, 1, 1)  # (B, 1, 1, 1)
        rotated = torch.where(selected, torch.rot90(images, turns, dims=(2, 3)), rotated)
    return rotated


class RotationPrediction(SSLMethod):
    """Backbone + linear head classifying the rotation (0, 90, 180, 270 degrees) of each view.

    Each image gets one random rotation per step (the paper shows all four; one keeps the cost of a
    step equal to the other methods' and covers all four over the epochs).

    Args:
        backbone: the encoder.
    """

    name = "rotation"
    can_collapse = False

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__(backbone)
        self.classifier = nn.Linear(backbone.feature_dim, N_ROTATIONS)

    def training_step(self, batch: Batch, augment_fn: AugmentFn) -> torch.Tensor:
        views = augment_fn(batch.images)  # (B, C, H, W)
        quarter_turns = torch.randint(N_ROTATIONS, (len(views),), device=views.device)  # (B,)
        logits = self.classifier(self.backbone(rotate(views, quarter_turns)))  # (B, 4)
        with float32(logits.device):
            return F.cross_entropy(logits.float(), quarter_turns)


INFO = MethodInfo(
    name="rotation",
    title="Rotation prediction",
    strategy="innate-relationship",
    citation=Citation("Gidaris, Singh & Komodakis", 2018,
                      "Unsupervised Representation Learning by Predicting Image Rotations", "ICLR", "1803.07728"),
    explanation="Each image is turned by 0, 90, 180 or 270 degrees and the network must guess by how much. "
                "Answering requires recognising the anatomy and its usual orientation, which is what later "
                "helps with diagnosis.",
    method_class=RotationPrediction,
)
