"""InfoNCE against a queue of negatives, as in MoCo.

He, Fan, Wu, Xie & Girshick (2020), "Momentum Contrast for Unsupervised Visual Representation
Learning", CVPR, arXiv:1911.05722; van den Oord, Li & Vinyals (2018), arXiv:1807.03748.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sslcore.methods.losses.precision import float32


class InfoNCELoss(nn.Module):
    """Classify each query's key among that key and K negatives.

    Args:
        temperature: softmax temperature.
    """

    def __init__(self, temperature: float = 0.2) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        """Loss of queries (N, D) whose positives are keys (N, D), against negatives (K, D).

        Queries and keys are L2-normalised here; the negatives must already be.
        """
        with float32(queries.device):
            queries = F.normalize(queries.float(), dim=1)
            keys = F.normalize(keys.float(), dim=1)
            positive = (queries * keys).sum(dim=1, keepdim=True)  # (N, 1)
            negative = queries @ negatives.float().T  # (N, K)
            logits = torch.cat([positive, negative], dim=1) / self.temperature  # (N, 1 + K)
            target = torch.zeros(len(queries), dtype=torch.long, device=queries.device)
            return F.cross_entropy(logits, target)
