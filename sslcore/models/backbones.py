"""Backbones: the encoders that turn an image into a feature vector.

Every backbone is an ``nn.Module`` whose ``forward`` maps normalised float images (B, C, H, W) to
features (B, feature_dim). ``small_cnn`` is sized for fast CPU demos; ``resnet18`` / ``resnet50``
are torchvision's ResNets (He et al., 2016, arXiv:1512.03385) with a stem adapted to one-channel
and small images; ``vit_tiny`` is a small Vision Transformer (see :mod:`sslcore.models.vit`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sslcore.models.vit import VisionTransformer, vit_patch_size

CHANNELS = (1, 3)
# At or below this size the ResNet stem keeps full resolution (3x3 stride-1 conv, no max-pool);
# the ImageNet stem would shrink a 28 px image to 7 px before the first residual block.
SMALL_IMAGE_SIZE = 64


class Backbone(nn.Module):
    """An encoder from normalised images (B, C, H, W) to features (B, feature_dim)."""

    name: str
    feature_dim: int


@dataclass(frozen=True)
class BackboneInfo:
    """What the UI shows about a backbone.

    Attributes:
        name: the key of :data:`BACKBONES` and of :func:`build_backbone`.
        description: one plain sentence on what it is and when to use it.
        image_sizes: image sizes (px) it is suited to.
        min_image_size: the smallest image side it accepts.
    """

    name: str
    description: str
    image_sizes: tuple[int, ...]
    min_image_size: int


BACKBONES: dict[str, BackboneInfo] = {
    info.name: info
    for info in (
        BackboneInfo("small_cnn", "A small convolutional network (0.1 to 0.7 M parameters): trains in minutes "
                     "on a laptop CPU; for demos and quick comparisons.", (28, 32, 64), 8),
        BackboneInfo("resnet18", "ResNet-18 (11 M parameters), the most common encoder in medical SSL papers; "
                     "needs a GPU for more than a few thousand images.", (28, 64, 128, 224), 16),
        BackboneInfo("resnet50", "ResNet-50 (24 M parameters), the encoder of SimCLR, MoCo, BYOL and MICLe; "
                     "GPU only.", (64, 128, 224), 16),
        BackboneInfo("vit_tiny", "A tiny Vision Transformer (6 layers, 2.7 M parameters) that reads the image as a grid of "
                     "patches; required by the masked autoencoder.", (28, 32, 64, 128, 224), 8),
    )
}


def _conv_bn_relu(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SmallCNN(Backbone):
    """A conv-BN-ReLU stack with global average pooling, sized for fast CPU pretraining.

    A stride-2 stem, stride-2 blocks that double the width (up to ``width * 4``) until the feature
    map is at most 4 px, and a last stride-1 block: 28 px images pass 4 blocks (28 -> 14 -> 7 -> 4),
    224 px images 7. Downsampling early keeps it fast on a CPU (the stride-1 convolutions at full
    resolution cost most of the time and little accuracy at these sizes).

    Args:
        in_channels: 1 (grayscale) or 3 (colour).
        image_size: side of the square input images in pixels.
        width: channels of the stem; the features have ``width * 4``.
    """

    name = "small_cnn"

    def __init__(self, in_channels: int, image_size: int, width: int = 32) -> None:
        super().__init__()
        layers = [_conv_bn_relu(in_channels, width, stride=2)]
        channels, size = width, (image_size + 1) // 2
        while size > 4:
            out_channels = min(channels * 2, width * 4)
            layers.append(_conv_bn_relu(channels, out_channels, stride=2))
            channels, size = out_channels, (size + 1) // 2
        layers.append(_conv_bn_relu(channels, width * 4, stride=1))
        self.features = nn.Sequential(*layers)
        self.feature_dim = width * 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, C, H, W) -> (B, feature_dim, h, w) -> (B, feature_dim)
        return self.features(x).mean(dim=(2, 3))


class ResNet(Backbone):
    """A torchvision ResNet without its classifier, with a stem for ``in_channels`` and small images.

    Args:
        name: ``resnet18`` or ``resnet50``.
        in_channels: 1 or 3.
        image_size: images of at most 64 px get a 3x3 stride-1 stem and no max-pool.
    """

    def __init__(self, name: str, in_channels: int, image_size: int) -> None:
        super().__init__()
        import torchvision

        network = getattr(torchvision.models, name)(weights=None)
        if image_size <= SMALL_IMAGE_SIZE:
            network.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
            network.maxpool = nn.Identity()
        elif in_channels != 3:
            network.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.feature_dim = network.fc.in_features
        network.fc = nn.Identity()
        self.network = network
        self.name = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, C, H, W) -> (B, feature_dim)
        return self.network(x)


class ViTBackbone(VisionTransformer, Backbone):
    """:class:`~sslcore.models.vit.VisionTransformer` registered as the ``vit_tiny`` backbone."""

    name = "vit_tiny"


def build_backbone(name: str, in_channels: int, image_size: int) -> Backbone:
    """Build a freshly initialised backbone.

    Args:
        name: one of :data:`BACKBONES` (``small_cnn``, ``resnet18``, ``resnet50``, ``vit_tiny``).
        in_channels: channels of the images, 1 or 3.
        image_size: side of the square images in pixels.

    Returns:
        The backbone; its ``feature_dim`` attribute is the size of its output features.

    Raises:
        ValueError: unknown name, unsupported channels, or an image size the backbone cannot take.
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")
    if in_channels not in CHANNELS:
        raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
    if image_size < BACKBONES[name].min_image_size:
        raise ValueError(f"{name} needs images of at least {BACKBONES[name].min_image_size} px, got {image_size}")
    if name == "small_cnn":
        return SmallCNN(in_channels, image_size)
    if name == "vit_tiny":
        patch_size = vit_patch_size(image_size)
        if image_size % patch_size:
            raise ValueError(f"vit_tiny uses {patch_size} px patches at {image_size} px, so the image size must "
                             f"be a multiple of {patch_size}; try {image_size // patch_size * patch_size} or "
                             f"{(image_size // patch_size + 1) * patch_size}")
        return ViTBackbone(in_channels, image_size, patch_size)
    return ResNet(name, in_channels, image_size)
