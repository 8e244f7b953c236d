"""Split-batch BatchNorm and its shuffled version: MoCo's shuffling BN on a single device.

He, Fan, Wu, Xie & Girshick (2020), "Momentum Contrast for Unsupervised Visual Representation
Learning", CVPR, arXiv:1911.05722, sec. 3.3: with BatchNorm in training mode, a query and its key
computed over the same batch share that batch's statistics, and the network learns to find its
positive through them ("cheats") instead of through the image. The paper normalises each GPU's
share separately and shuffles the keys across GPUs, so that a key is normalised with other samples
than its query. On one device the authors' CIFAR-10 demo (github.com/facebookresearch/moco, the
``moco_cifar10_demo`` notebook) does the same with a split-batch BatchNorm: both encoders see the
batch as ``groups`` separate chunks, the key encoder after a random shuffle. Running the network
once per chunk does that for any network, its heads included.
"""

from __future__ import annotations

import torch
from torch import nn

MIN_GROUP_SIZE = 8  # below this, BatchNorm's statistics are too noisy to train with


def group_count(batch_size: int, groups: int) -> int:
    """The groups a batch is split into: ``groups``, fewer when that would leave a group with fewer
    than :data:`MIN_GROUP_SIZE` images (a batch of fewer than 16 images is one group)."""
    return max(1, min(groups, batch_size // MIN_GROUP_SIZE))


def split_batch_forward(module: nn.Module, x: torch.Tensor, groups: int,
                        permutation: torch.Tensor | None = None) -> torch.Tensor:
    """``module`` applied to ``groups`` chunks of the batch separately, so that each chunk's
    BatchNorm layers use that chunk's statistics.

    Args:
        module: any network; (b, ...) -> (b, ...) for each chunk.
        x: (B, ...) the batch.
        groups: number of chunks (``torch.tensor_split``: sizes differ by at most one).
        permutation: long (B,); when given, the chunks are cut from ``x[permutation]`` and the
            outputs are put back in the order of ``x`` (shuffling BN).

    Returns:
        (B, ...) the outputs, row i for ``x[i]``.
    """
    if permutation is not None:
        x = x[permutation]
    out = torch.cat([module(chunk) for chunk in x.tensor_split(groups)])  # (B, ...)
    if permutation is None:
        return out
    return out[torch.argsort(permutation)]  # undo the shuffle: row i is x[i]'s output
