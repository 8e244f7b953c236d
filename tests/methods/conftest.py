"""A stand-in for the trainer's augment_fn (sslcore.augment is another part): uint8 -> random flip +
small noise -> normalised float views."""

import pytest
import torch


def simple_augment(images: torch.Tensor) -> torch.Tensor:
    x = images.float() / 255
    flip = torch.rand(len(x), 1, 1, 1, device=x.device) < 0.5
    x = torch.where(flip, x.flip(3), x) + 0.02 * torch.randn_like(x)
    return (x - 0.5) / 0.25


def no_augment(images: torch.Tensor) -> torch.Tensor:
    return (images.float() / 255 - 0.5) / 0.25


@pytest.fixture
def tiny_images():
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8, generator=generator)
