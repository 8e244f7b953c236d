"""Mean squared error on the masked patches, the reconstruction loss of the masked autoencoder.

He, Chen, Xie, Li, Dollár & Girshick (2022), "Masked Autoencoders Are Scalable Vision Learners",
CVPR, arXiv:2111.06377.
"""

from __future__ import annotations

import torch
from torch import nn

from sslcore.methods.losses.precision import float32


def patch_statistics(patches: torch.Tensor, eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of each patch's pixels: (B, N, P) -> (B, N, 1) twice."""
    return patches.mean(dim=-1, keepdim=True), (patches.var(dim=-1, keepdim=True) + eps).sqrt()


def normalize_patches(patches: torch.Tensor) -> torch.Tensor:
    """Standardise each patch's pixels (MAE's normalised-pixel target): (B, N, P) -> (B, N, P)."""
    mean, std = patch_statistics(patches)
    return (patches - mean) / std


class MaskedPatchMSELoss(nn.Module):
    """MSE between predicted and true patches, averaged over the masked patches only.

    Args:
        normalize_targets: compare with per-patch standardised pixels (sharper reconstructions in
            the paper) rather than raw pixels.
    """

    def __init__(self, normalize_targets: bool = True) -> None:
        super().__init__()
        self.normalize_targets = normalize_targets

    def forward(self, predictions: torch.Tensor, patches: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """predictions, patches: (B, N, P); mask: (B, N), 1 for the hidden patches the loss scores."""
        with float32(predictions.device):
            targets = normalize_patches(patches.float()) if self.normalize_targets else patches.float()
            per_patch = (predictions.float() - targets).pow(2).mean(dim=-1)  # (B, N)
            mask = mask.float()
            return (per_patch * mask).sum() / mask.sum()
