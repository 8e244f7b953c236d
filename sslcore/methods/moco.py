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
from sslcore.methods.split_batch import group_count, split_batch_forward
from sslcore.models.heads import ProjectionHead

QUEUE_FRACTION = 0.5  # the queue holds at most this fraction of the training set (see moco_queue_size)


def moco_queue_size(n_train: int, batch_size: int, max_fraction: float = QUEUE_FRACTION) -> int:
    """The queue length for ``n_train`` training images and ``batch_size`` images per step.

    The paper's queue (65,536 keys) is 5 % of ImageNet. A queue as long as a small training set
    holds the key of each query's own image from the previous epoch, a negative that is really a
    positive. With images visited in a random order every epoch, that stale key is still queued
    for a fraction (K / N)^2 / 2 of the queries when K <= N: 12.5 % at K = N / 2, and for more than
    half of them once K > N. So the queue is the largest whole number of batches (keys enter it a
    batch at a time) within ``max_fraction`` of the training set; a smaller training set than two
    batches gets ``max_fraction * n_train`` keys.

    Args:
        n_train: images the pretraining visits each epoch.
        batch_size: images per optimiser step over all processes (the keys each step enqueues).
        max_fraction: the most of the training set the queue may hold, in (0, 1].

    Returns:
        The ``queue_size`` to build :class:`MoCo` with, at least 1.
    """
    if n_train < 1 or batch_size < 1:
        raise ValueError(f"n_train and batch_size must be positive, got {n_train} and {batch_size}")
    if not 0 < max_fraction <= 1:
        raise ValueError(f"max_fraction must be in (0, 1], got {max_fraction}")
    limit = int(n_train * max_fraction)
    return max(1, limit // batch_size * batch_size if limit >= batch_size else limit)


class MoCo(SSLMethod):
    """Query encoder (backbone + MLP head) trained with InfoNCE; the key encoder is its moving average.

    The keys of each step join a first-in-first-out queue of ``queue_size`` negatives, so the number
    of negatives does not depend on the batch size; size it to the data with
    :func:`moco_queue_size`. The paper's shuffling BatchNorm is replaced by its single-device form
    (:mod:`sslcore.methods.split_batch`): both encoders see the batch as ``bn_groups`` chunks with
    their own BatchNorm statistics, the key encoder after a random shuffle, so a query and its key
    are normalised with different images. Under DDP every rank splits its own share the same way
    (with SyncBatchNorm, chunk g of every rank forms one group).

    Args:
        backbone: the encoder.
        temperature: InfoNCE temperature.
        queue_size: number of past keys used as negatives (see :func:`moco_queue_size`).
        momentum: key encoder <- momentum * key encoder + (1 - momentum) * query encoder, per step.
        hidden_dim: hidden size of the projection head.
        projection_dim: size of the embeddings the loss compares.
        bn_groups: chunks per batch for BatchNorm (fewer when a chunk would hold fewer than 8
            images, see :func:`~sslcore.methods.split_batch.group_count`); 1 turns shuffling off.
    """

    name = "moco"

    def __init__(self, backbone: nn.Module, *, temperature: float = 0.2, queue_size: int = 1024,
                 momentum: float = 0.99, hidden_dim: int = 512, projection_dim: int = 128,
                 bn_groups: int = 4) -> None:
        super().__init__(backbone)
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be between 0 and 1, got {momentum}")
        if bn_groups < 1:
            raise ValueError(f"bn_groups must be at least 1, got {bn_groups}")
        self.momentum = momentum
        self.bn_groups = bn_groups
        self.projection_head = ProjectionHead(backbone.feature_dim, hidden_dim, projection_dim)
        self.key_encoder = frozen_copy(nn.Sequential(backbone, self.projection_head))
        self.criterion = InfoNCELoss(temperature)
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, projection_dim), dim=1))
        self.register_buffer("queue_pointer", torch.zeros((), dtype=torch.long))

    def training_step(self, batch: Batch, augment_fn: AugmentFn) -> torch.Tensor:
        query_views, key_views = augment_fn(torch.cat([batch.images, batch.images])).chunk(2)  # (B, C, H, W)
        groups = group_count(len(query_views), self.bn_groups)
        query_encoder = nn.Sequential(self.backbone, self.projection_head)
        queries = split_batch_forward(query_encoder, query_views, groups)  # (B, P)
        with torch.no_grad():
            shuffle = torch.randperm(len(key_views), device=key_views.device) if groups > 1 else None  # (B,)
            keys = split_batch_forward(self.key_encoder, key_views, groups, permutation=shuffle)  # (B, P)
            keys = F.normalize(keys.float(), dim=1)
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
