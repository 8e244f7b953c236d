"""Features of a frozen backbone: what the linear and kNN probes (and the embeddings) look at."""

from __future__ import annotations

import torch
from torch import nn


def model_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (B, C, H, W) -> the normalised float input the backbones expect."""
    from sslcore.augment import normalize, to_float

    return normalize(to_float(images))


def extract_features(
    backbone: nn.Module,
    images: torch.Tensor,
    *,
    batch_size: int = 512,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Features of ``images`` from ``backbone`` in eval mode, without gradients.

    Args:
        backbone: maps normalised float (B, C, H, W) to features (B, D); moved to ``device``. Its
            training mode is restored afterwards.
        images: uint8 (N, C, H, W) on any device.
        batch_size: images per forward pass.
        device: where the forward passes run.

    Returns:
        float32 (N, D) on the CPU.
    """
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    was_training = backbone.training
    backbone.to(device).eval()
    chunks = []
    try:
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                batch = images[start:start + batch_size].to(device, non_blocking=True)
                chunks.append(backbone(model_input(batch)).float().cpu())  # (b, D)
    finally:
        backbone.train(was_training)
    if not chunks:
        return torch.zeros(0, getattr(backbone, "feature_dim", 0))
    return torch.cat(chunks)
