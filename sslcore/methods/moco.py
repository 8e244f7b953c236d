"""MoCo v2: contrast each query with its key from a momentum encoder and a queue of past keys.

He, Fan, Wu, Xie & Girshick (2020), "Momentum Contrast for Unsupervised Visual Representation
Learning", CVPR, arXiv:1911.05722; Chen, Fan, Girshick & He (2020), "Improved Baselines with
Momentum Contrastive Learning", arXiv:2003.04297 (the MLP head and stronger augmentations of v2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sslcore import distributed
from sslcore.methods.base import AugmentFn, Batch, Citation, MethodInfo, SSLMethod
from sslcore.methods.losses import InfoNCELoss
from sslcore.methods.momentum import frozen_copy, update_momentum
from sslcore.models.heads import ProjectionHead


class MoCo(SSLMethod):
    """Query encoder (backbone + MLP head) trained with InfoNCE; the key encoder is its moving average.

    The keys of each step join a first-in-first-out queue of ``queue_size`` negatives, so the number
    of negatives does not depend on the batch size. The paper's shuffled BatchNorm across GPUs is
    not reproduced.

    Args:
        backbone: the encoder.
        temperature: InfoNCE temperature.
        queue_size: number of past keys used as negatives.
        momentum: key encoder <- momentum * key encoder + (1 - momentum) * query encoder, per step.
        hidden_dim: hidden size of the projection head.
        projection_dim: size of the embeddings the loss compares.
    """

    name = "moco"

    def __init__(self, backbone: nn.Module, *, temperature: float = 0.2, queue_size: int = 4096,
                 momentum: float = 0.99, hidden_dim: int = 512, projection_dim: int = 128) -> None:
        super().__init__(backbone)
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be between 0 and 1, got {momentum}")
        self.momentum = momentum
        self.projection_head = ProjectionHead(backbone.feature_dim, hidden_dim, projection_dim)
        self.key_encoder = frozen_copy(nn.Sequential(backbone, self.projection_head))
        self.criterion = InfoNCELoss(temperature)
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, projection_dim), dim=1))
        self.register_buffer("queue_pointer", torch.zeros((), dtype=torch.long))

    def training_step(self, batch: Batch, augment_fn: AugmentFn) -> torch.Tensor:
        query_views, key_views = augment_fn(torch.cat([batch.images, batch.images])).chunk(2)  # (B, C, H, W)
        queries = self.projection_head(self.backbone(query_views))  # (B, P)
        with torch.no_grad():
            keys = F.normalize(self.key_encoder(key_views).float(), dim=1)  # (B, P)
        # The loss reads a copy: the queue is updated in place before backward runs.
        loss = self.criterion(queries, keys, self.queue.clone())
        self._enqueue(torch.cat(distributed.gather_with_grad(keys)))
        return loss

    @torch.no_grad()
    def _enqueue(self, keys: torch.Tensor) -> None:
        """Overwrite the oldest entries of the queue with ``keys`` (K', P), wrapping around."""
        keys = keys[-len(self.queue):]
        slots = (self.queue_pointer + torch.arange(len(keys), device=keys.device)) % len(self.queue)
        self.queue[slots] = keys.to(self.queue.dtype)
        self.queue_pointer.copy_((self.queue_pointer + len(keys)) % len(self.queue))

    def on_step_end(self, progress: float) -> None:
        update_momentum(nn.Sequential(self.backbone, self.projection_head), self.key_encoder, self.momentum)


INFO = MethodInfo(
    name="moco",
    title="MoCo v2",
    strategy="contrastive",
    citation=Citation("He, Fan, Wu, Xie & Girshick; Chen, Fan, Girshick & He", 2020,
                      "Momentum Contrast for Unsupervised Visual Representation Learning; Improved Baselines with "
                      "Momentum Contrastive Learning", "CVPR; arXiv", "1911.05722, 2003.04297"),
    explanation="Like SimCLR, the network learns to match two altered copies of an image, but it compares each "
                "image with thousands of images remembered from earlier steps instead of only the current batch. "
                "This makes it work well with the small batches that fit on a modest computer.",
    method_class=MoCo,
)
