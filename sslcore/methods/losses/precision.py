"""Losses run in float32 even inside a bf16 autocast region (softmax and correlations overflow in bf16)."""

from __future__ import annotations

import torch


def float32(device: torch.device) -> torch.autocast:
    """A context that turns autocast off on ``device``; cast the loss inputs with ``.float()`` in it."""
    return torch.autocast(device_type=device.type, enabled=False)
