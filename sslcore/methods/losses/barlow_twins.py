"""The Barlow Twins redundancy-reduction loss.

Zbontar, Jing, Misra, LeCun & Deny (2021), "Barlow Twins: Self-Supervised Learning via Redundancy
Reduction", ICML, arXiv:2103.03230.
"""

from __future__ import annotations

import torch
from torch import nn

from sslcore import distributed
from sslcore.methods.losses.precision import float32


class BarlowTwinsLoss(nn.Module):
    """Push the cross-correlation matrix of the two views' embeddings towards the identity.

    The diagonal terms (1 - C_ii)^2 make each feature agree across views; the off-diagonal terms
    C_ij^2, weighted by ``off_diagonal_weight`` (the paper's lambda), decorrelate the features.

    Under DDP (world size W > 1) the standardisation and the cross-correlation are over the global
    batch, as in the paper: the embeddings are gathered with their gradient, every rank computes
    the same global loss, and DDP's gradient averaging makes W ranks with batch N train like one
    process with batch NW.

    Args:
        off_diagonal_weight: weight of the redundancy-reduction term (5e-3 in the paper).
    """

    def __init__(self, off_diagonal_weight: float = 5e-3) -> None:
        super().__init__()
        if off_diagonal_weight < 0:
            raise ValueError(f"off_diagonal_weight must be >= 0, got {off_diagonal_weight}")
        self.off_diagonal_weight = off_diagonal_weight

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """z1, z2: (N, D) embeddings of two views of the same N images; N must be at least 2."""
        with float32(z1.device):
            z1 = torch.cat(distributed.gather_with_grad(z1.float()))  # (N * W, D)
            z2 = torch.cat(distributed.gather_with_grad(z2.float()))
            # Standardised over the global batch like the paper's BatchNorm (biased variance), so
            # that a feature equal in both views has C_ii = 1.
            z1 = (z1 - z1.mean(dim=0)) / (z1.std(dim=0, unbiased=False) + 1e-6)  # (N * W, D)
            z2 = (z2 - z2.mean(dim=0)) / (z2.std(dim=0, unbiased=False) + 1e-6)
            correlation = z1.T @ z2 / len(z1)  # (D, D)
            diagonal = torch.diagonal(correlation)
            on_diagonal = (1 - diagonal).pow(2).sum()
            off_diagonal = correlation.pow(2).sum() - diagonal.pow(2).sum()
            return on_diagonal + self.off_diagonal_weight * off_diagonal
