"""Multi-GPU and multi-node pretraining under ``torchrun`` (DDP).

``torchrun --nproc_per_node N -m sslcore pretrain ...`` starts N processes; each calls
:func:`init_from_env`, trains on its shard of every global batch, and DDP averages the gradients.
BatchNorm statistics are synchronised across ranks (SyncBatchNorm) and SimCLR gathers its
negatives from all ranks (:func:`gather_with_grad`), so N processes with batch B train like one
process with batch N x B. CPU processes use the gloo backend, GPUs nccl.

This is the one module that knows about ranks: the training loop, the losses that look at the
whole global batch and the CLI all ask it.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0))


def init_from_env() -> bool:
    """Join the process group ``torchrun`` describes in the environment; False when not under it."""
    if int(os.environ.get("WORLD_SIZE", 1)) <= 1 or is_distributed():
        return is_distributed()
    use_nccl = torch.cuda.is_available() and os.environ.get("SSLCORE_DIST_BACKEND") != "gloo"
    if use_nccl:
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend="nccl" if use_nccl else "gloo")
    return True


def shutdown() -> None:
    if is_distributed():
        dist.destroy_process_group()


class _TrainingStep(nn.Module):
    """Routes ``forward`` to the method's ``training_step`` so DDP's gradient hooks see it."""

    def __init__(self, method: nn.Module) -> None:
        super().__init__()
        self.method = method

    def forward(self, batch, augment_fn):
        return self.method.training_step(batch, augment_fn)


def wrap(method: nn.Module, device: torch.device):
    """The callable the loop steps with: the method itself, or a DDP wrapper when distributed."""
    if not is_distributed() or world_size() == 1:
        return method.training_step
    if device.type == "cuda":
        # SyncBatchNorm runs only on CUDA; CPU ranks (gloo) keep per-rank statistics.
        method = nn.SyncBatchNorm.convert_sync_batchnorm(method)
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(_TrainingStep(method), device_ids=device_ids)


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
