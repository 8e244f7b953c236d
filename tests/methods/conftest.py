"""A stand-in for the trainer's augment_fn (sslcore.augment is another part): uint8 -> random flip +
small noise -> normalised float views; and a tiny image set whose classes any method should keep."""

import pytest
import torch


def simple_augment(images: torch.Tensor) -> torch.Tensor:
    x = images.float() / 255
    flip = torch.rand(len(x), 1, 1, 1, device=x.device) < 0.5
    x = torch.where(flip, x.flip(3), x) + 0.02 * torch.randn_like(x)
    return (x - 0.5) / 0.25


def no_augment(images: torch.Tensor) -> torch.Tensor:
    return (images.float() / 255 - 0.5) / 0.25


def oriented_quadrant_images(n: int, size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, 1, size, size) images and their class (N,) in 0..3: the class's quadrant is
    brighter, on noise of a random per-image brightness; a bright top edge says which way is up
    (so that rotation prediction has something to learn)."""
    labels = torch.randint(0, 4, (n,), generator=generator)
    images = torch.rand(n, 1, size, size, generator=generator) * 40 + torch.rand(n, 1, 1, 1, generator=generator) * 120
    images[:, :, :2] += 100
    half = size // 2
    for quadrant, (row, col) in enumerate([(0, 0), (0, half), (half, 0), (half, half)]):
        images[labels == quadrant, :, row:row + half, col:col + half] += 50
    return images.clamp(0, 255).to(torch.uint8), labels


def brightness_noise_augment(images: torch.Tensor) -> torch.Tensor:
    """Views that differ in brightness and noise only: no flip or crop, which would move the quadrant."""
    x = images.float() / 255
    x = x + (torch.rand(len(x), 1, 1, 1) - 0.5) * 0.5 + 0.05 * torch.randn_like(x)
    return (x.clamp(0, 1) - 0.5) / 0.25


@pytest.fixture
def tiny_images():
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8, generator=generator)
