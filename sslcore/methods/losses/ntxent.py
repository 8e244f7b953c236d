"""NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR.

Chen, Kornblith, Norouzi & Hinton (2020), "A Simple Framework for Contrastive Learning of Visual
Representations", ICML, arXiv:2002.05709.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sslcore import distributed
from sslcore.methods.losses.precision import float32


class NTXentLoss(nn.Module):
    """For each of the 2N views, classify its partner view among the other 2N - 1 views.

    Under DDP (world size W > 1) the negatives are the views of every rank: the embeddings are
    gathered with their gradient, each rank scores its own N pairs against all 2NW views, and DDP's
    gradient averaging makes W ranks with batch N train like one process with batch NW.

    Args:
        temperature: softmax temperature; lower values weigh the hardest negatives more.
    """

    def __init__(self, temperature: float = 0.2) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """Loss of the embeddings of two views of the same N images, (N, D) each, row i with row i."""
        with float32(z1.device):
            z1 = F.normalize(z1.float(), dim=1)
            z2 = F.normalize(z2.float(), dim=1)
            n = z1.shape[0]
            all_z1 = torch.cat(distributed.gather_with_grad(z1))  # (N * W, D)
            all_z2 = torch.cat(distributed.gather_with_grad(z2))
            # This rank's views sit at rows rank * N ... rank * N + N - 1 of the gathered tensors.
            own = torch.arange(n, device=z1.device) + distributed.rank() * n  # (N,)
            is_self = own.unsqueeze(1) == torch.arange(all_z1.shape[0], device=z1.device)  # (N, N * W)
            losses = []
            for anchor, same_view, other_view in ((z1, all_z1, all_z2), (z2, all_z2, all_z1)):
                positives_and_others = anchor @ other_view.T  # (N, N * W), positives at `own`
                same_view_similarity = (anchor @ same_view.T).masked_fill(is_self, float("-inf"))  # (N, N * W)
                logits = torch.cat([positives_and_others, same_view_similarity], dim=1) / self.temperature
                losses.append(F.cross_entropy(logits, own))
            return (losses[0] + losses[1]) / 2
