"""Collectives for losses that look at the whole global batch under DDP (SimCLR's negatives)."""

from __future__ import annotations

import torch
import torch.distributed as dist

from sslcore.distributed import rank, world_size

__all__ = ["gather_with_grad", "rank", "world_size"]


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sends every rank's gradient back to the rank that owns the slice."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> tuple[torch.Tensor, ...]:
        gathered = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, tensor.contiguous())
        return tuple(gathered)

    @staticmethod
    def backward(ctx, *grads: torch.Tensor) -> torch.Tensor:
        # Each rank's loss depends on every slice; sum those gradients, keep this rank's slice.
        stacked = torch.stack(grads)  # (W, B, D)
        dist.all_reduce(stacked)
        return stacked[dist.get_rank()]


def gather_with_grad(tensor: torch.Tensor) -> list[torch.Tensor]:
    """The ``tensor`` of every rank, in rank order, with gradients flowing back to each owner.

    Args:
        tensor: (B, ...) with the same shape on every rank.

    Returns:
        ``world_size()`` tensors (B, ...); a one-element list when not distributed.
    """
    if world_size() == 1:
        return [tensor]
    return list(_GatherWithGrad.apply(tensor))
