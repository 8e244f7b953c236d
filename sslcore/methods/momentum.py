"""Slow-moving copies of the online network: MoCo's key encoder and BYOL's target network."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` that the optimiser never updates (no gradients)."""
    duplicate = copy.deepcopy(module)
    duplicate.requires_grad_(False)
    return duplicate


@torch.no_grad()
def update_momentum(online: nn.Module, target: nn.Module, momentum: float) -> None:
    """target <- momentum * target + (1 - momentum) * online, for every parameter.

    Buffers (BatchNorm running statistics) are copied from the online network.
    """
    for online_parameter, target_parameter in zip(online.parameters(), target.parameters()):
        target_parameter.lerp_(online_parameter, 1.0 - momentum)
    for online_buffer, target_buffer in zip(online.buffers(), target.buffers()):
        target_buffer.copy_(online_buffer)


def cosine_momentum(base_momentum: float, progress: float) -> float:
    """BYOL's schedule: ``base_momentum`` at the start of training, rising to 1 along a cosine."""
    return 1.0 - (1.0 - base_momentum) * (math.cos(math.pi * progress) + 1.0) / 2.0
