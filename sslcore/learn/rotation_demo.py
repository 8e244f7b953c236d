"""The Learn page's rotation model: each image turned by every quarter turn, and the model's guesses."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sslcore.augment import normalize, to_float
from sslcore.methods.rotation import N_ROTATIONS, RotationPrediction, rotate

@dataclass(frozen=True)
class RotationGuesses:
    """A rotation model's guesses for each image turned by each quarter turn.

    Attributes:
        turned: float (B, 4, C, H, W) in [0, 1], each image turned by 0, 90, 180 and 270 degrees.
        probabilities: float (B, 4, 4): for each turned copy, the model's probability of each angle.
    """

    turned: torch.Tensor
    probabilities: torch.Tensor

    @property
    def predicted(self) -> torch.Tensor:
        """long (B, 4): index into :data:`ANGLES` of the most probable angle of each copy."""
        return self.probabilities.argmax(dim=-1)

    @property
    def accuracy(self) -> float:
        """Fraction of the copies whose angle the model names correctly."""
        return float((self.predicted == torch.arange(N_ROTATIONS)).float().mean())


def guess_rotations(model: RotationPrediction, images: torch.Tensor) -> RotationGuesses:
    """Turn each image by every quarter turn and ask a trained rotation model which angle it sees.

    Gidaris, Singh & Komodakis (2018), "Unsupervised Representation Learning by Predicting Image
    Rotations", ICLR, arXiv:1803.07728.

    Args:
        model: a trained :class:`~sslcore.methods.rotation.RotationPrediction`.
        images: uint8 (B, C, H, H).
    """
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[-1] != images.shape[-2]:
        raise ValueError(f"images must be square uint8 (B, C, H, H), got {images.dtype} {tuple(images.shape)}")
    b = len(images)
    quarter_turns = torch.arange(N_ROTATIONS).repeat(b)  # (4B,): 0, 1, 2, 3 for each image
    turned = rotate(to_float(images).repeat_interleave(N_ROTATIONS, dim=0), quarter_turns)  # (4B, C, H, H)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model.classifier(model.backbone(normalize(turned))).float()  # (4B, 4)
    finally:
        model.train(was_training)
    return RotationGuesses(turned=turned.view(b, N_ROTATIONS, *turned.shape[1:]),
                           probabilities=logits.softmax(dim=-1).view(b, N_ROTATIONS, N_ROTATIONS))
