"""Tiny backbones and datasets whose answers are known, for the evaluation tests."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


class TinyConvNet(nn.Module):
    """conv -> ReLU -> global average pool -> linear: a backbone with ``feature_dim``."""

    def __init__(self, in_channels: int = 1, feature_dim: int = 8, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.feature_dim = feature_dim
        self.conv = nn.Conv2d(in_channels, 8, 3, padding=1)
        self.norm = nn.BatchNorm2d(8)
        self.project = nn.Linear(8 * 4, feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.norm(self.conv(x)))  # (B, 8, H, W)
        x = nn.functional.adaptive_avg_pool2d(x, 2).flatten(1)  # (B, 32): keeps where brightness is
        return self.project(x)


@dataclass
class ToySplit:
    images: torch.Tensor
    labels: torch.Tensor
    patient_ids: torch.Tensor


@dataclass
class ToyDataset:
    task: str
    label_names: list[str]
    splits: dict[str, ToySplit]


def bright_quadrant_images(labels: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """uint8 (N, 1, size, size) noise, with the quadrant of each image's class (or of each positive
    label) brightened: a task any small conv net learns at once."""
    n = len(labels)
    images = torch.randint(0, 100, (n, 1, size, size), generator=generator).float()
    targets = labels.float() if labels.ndim == 2 else nn.functional.one_hot(labels, 4).float()  # (N, 4)
    half = size // 2
    for q, (row, col) in enumerate([(0, 0), (0, half), (half, 0), (half, half)][:targets.shape[1]]):
        images[:, :, row:row + half, col:col + half] += 150 * targets[:, q, None, None, None]
    return images.clamp(0, 255).to(torch.uint8)


def toy_dataset(task: str = "binary", sizes=(120, 60, 60), image_size: int = 8, seed: int = 0) -> ToyDataset:
    """Quadrant-brightness images; binary (2 classes), multi-class (4) or multi-label (3 labels)."""
    generator = torch.Generator().manual_seed(seed)
    n_names = {"binary": 2, "multi-class": 4, "multi-label": 3}[task]
    splits = {}
    for name, n in zip(("train", "val", "test"), sizes):
        if task == "multi-label":
            labels = (torch.rand(n, n_names, generator=generator) < 0.4).float()
        else:
            labels = torch.randint(0, n_names, (n,), generator=generator)
        splits[name] = ToySplit(bright_quadrant_images(labels, image_size, generator), labels, torch.arange(n))
    return ToyDataset(task, [f"class {i}" for i in range(n_names)], splits)


def separable_features(labels: torch.Tensor, dim: int, generator: torch.Generator, margin: float = 4.0) -> torch.Tensor:
    """Gaussian features (N, dim) whose first coordinates encode the class (or each label) by +-margin."""
    targets = labels.float() if labels.ndim == 2 else nn.functional.one_hot(labels, 4).float()  # (N, 4)
    features = torch.randn(len(labels), dim, generator=generator)
    features[:, :targets.shape[1]] += margin * (2 * targets - 1)
    return features
