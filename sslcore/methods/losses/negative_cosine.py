"""Negative cosine similarity, the loss of BYOL and SimSiam.

Grill et al. (2020), "Bootstrap Your Own Latent", NeurIPS, arXiv:2006.07733 (whose 2 - 2 cos is
this loss up to an affine map); Chen & He (2021), "Exploring Simple Siamese Representation
Learning", CVPR, arXiv:2011.10566.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sslcore.methods.losses.precision import float32


class NegativeCosineSimilarity(nn.Module):
    """Minus the mean cosine similarity of paired rows; -1 when every pair points the same way."""

    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """predictions, targets: (N, D). Detach ``targets`` beforehand for a stop-gradient."""
        with float32(predictions.device):
            return -F.cosine_similarity(predictions.float(), targets.float(), dim=1).mean()
