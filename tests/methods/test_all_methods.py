"""Behaviour every method shares: it trains, on CPU, with small_cnn (MAE: vit_tiny) and resnet18."""

import pytest
import torch

from sslcore.methods import METHODS, Batch, build_method
from sslcore.models import build_backbone
from tests.methods.conftest import simple_augment


def make_batch(method, images):
    labels = torch.arange(len(images)) % 3
    return Batch(images=images, labels=labels if method.needs_labels else None,
                 partner_images=images.roll(1, dims=0) if method.needs_partner else None)


def build(name, backbone_name, image_size=28):
    torch.manual_seed(0)
    backbone = build_backbone(backbone_name, 1, image_size)
    return build_method(name, backbone, n_classes=3, task="multi-class")


@pytest.mark.parametrize("name", list(METHODS))
def test_loss_decreases_on_a_fixed_batch(name, tiny_images):
    method = build(name, METHODS[name].default_backbone)
    optimizer = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=2e-3)
    batch = make_batch(method, tiny_images)
    losses = []
    for step in range(6):
        torch.manual_seed(1)  # the same augmentations and masks every step: only the weights change
        loss = method.training_step(batch, simple_augment)
        assert loss.shape == () and torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        method.on_step_end((step + 1) / 6)
        losses.append(loss.item())
    assert min(losses[-2:]) < losses[0]


@pytest.mark.parametrize("name", list(METHODS))
def test_gradient_reaches_the_backbone_and_never_the_momentum_copies(name, tiny_images):
    method = build(name, METHODS[name].default_backbone)
    method.training_step(make_batch(method, tiny_images), simple_augment).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in method.backbone.parameters())
    frozen = [p for p in method.parameters() if not p.requires_grad]
    assert all(p.grad is None for p in frozen)


@pytest.mark.parametrize("name", [name for name, info in METHODS.items() if "resnet18" in info.backbones])
def test_trains_a_step_with_resnet18_on_channels_last_views(name):
    method = build(name, "resnet18", image_size=16).to(memory_format=torch.channels_last)
    images = torch.randint(0, 256, (4, 1, 16, 16), dtype=torch.uint8)
    loss = method.training_step(make_batch(method, images),
                                lambda x: simple_augment(x).contiguous(memory_format=torch.channels_last))
    loss.backward()
    assert torch.isfinite(loss)


@pytest.mark.parametrize("name", ["simclr", "byol", "mae", "supervised"])
def test_loss_is_float32_under_bf16_autocast(name, tiny_images):
    method = build(name, METHODS[name].default_backbone)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = method.training_step(make_batch(method, tiny_images), simple_augment)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
