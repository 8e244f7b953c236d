import pytest
import torch
from torch import nn

from sslcore.models import BACKBONES, build_backbone
from sslcore.models.vit import sincos_position_embedding, vit_patch_size

FEATURE_DIMS = {"small_cnn": 128, "resnet18": 512, "resnet50": 2048, "vit_tiny": 192}


def test_backbones_info_lists_every_buildable_backbone():
    assert set(BACKBONES) == set(FEATURE_DIMS)
    for name, info in BACKBONES.items():
        assert info.name == name and info.description and info.image_sizes
        assert min(info.image_sizes) >= info.min_image_size


@pytest.mark.parametrize("name, channels", [("small_cnn", 1), ("small_cnn", 3), ("resnet18", 1), ("resnet50", 3),
                                            ("vit_tiny", 1), ("vit_tiny", 3)])
def test_forward_gives_feature_dim_features(name, channels):
    backbone = build_backbone(name, channels, 16)
    features = backbone(torch.randn(2, channels, 16, 16))
    assert backbone.feature_dim == FEATURE_DIMS[name]
    assert features.shape == (2, backbone.feature_dim)
    assert backbone.name == name


@pytest.mark.parametrize("image_size", [8, 28, 64, 100, 224])
def test_small_cnn_takes_any_image_size(image_size):
    backbone = build_backbone("small_cnn", 1, image_size)
    assert backbone(torch.randn(2, 1, image_size, image_size)).shape == (2, 128)


@pytest.mark.parametrize("name", ["small_cnn", "resnet18", "vit_tiny"])
def test_channels_last_input_gives_the_same_features(name):
    backbone = build_backbone(name, 3, 16).eval()
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(backbone(x.contiguous(memory_format=torch.channels_last)), backbone(x))


def test_resnet_stem_keeps_small_images_at_full_resolution():
    small = build_backbone("resnet18", 1, 28).network
    assert small.conv1.kernel_size == (3, 3) and small.conv1.stride == (1, 1) and small.conv1.in_channels == 1
    assert isinstance(small.maxpool, nn.Identity)
    large = build_backbone("resnet18", 1, 128).network
    assert large.conv1.kernel_size == (7, 7) and large.conv1.stride == (2, 2) and large.conv1.in_channels == 1
    assert isinstance(large.maxpool, nn.MaxPool2d)
    assert isinstance(large.fc, nn.Identity)


@pytest.mark.parametrize("name, channels, size, message", [
    ("resnet101", 1, 28, "small_cnn, resnet18, resnet50, vit_tiny"),
    ("small_cnn", 2, 28, "in_channels must be 1 or 3"),
    ("resnet18", 1, 8, "at least 16 px"),
    ("vit_tiny", 1, 30, "multiple of 7"),  # 7 px patches at 30 px
])
def test_bad_arguments_raise_value_error(name, channels, size, message):
    with pytest.raises(ValueError, match=message):
        build_backbone(name, channels, size)


@pytest.mark.parametrize("image_size, patch_size", [(28, 7), (32, 8), (64, 8), (128, 16), (224, 16)])
def test_vit_patch_size_follows_image_size(image_size, patch_size):
    assert vit_patch_size(image_size) == patch_size
    assert build_backbone("vit_tiny", 1, image_size).num_patches == (image_size // patch_size) ** 2


@pytest.mark.parametrize("channels, image_size", [(1, 28), (3, 32)])
def test_patchify_matches_a_loop_and_unpatchify_inverts_it(channels, image_size):
    vit = build_backbone("vit_tiny", channels, image_size)
    images = torch.randn(2, channels, image_size, image_size)
    patches = vit.patchify(images)
    p, grid = vit.patch_size, image_size // vit.patch_size
    for row in range(grid):
        for column in range(grid):
            block = images[:, :, row * p:(row + 1) * p, column * p:(column + 1) * p]  # (B, C, p, p)
            torch.testing.assert_close(patches[:, row * grid + column], block.permute(0, 2, 3, 1).reshape(2, -1))
    torch.testing.assert_close(vit.unpatchify(patches), images)


def test_vit_encodes_a_subset_of_patches_as_the_full_encoding_would_order_them():
    vit = build_backbone("vit_tiny", 1, 28).eval()
    images = torch.randn(2, 1, 28, 28)
    order = torch.stack([torch.randperm(vit.num_patches) for _ in range(2)])  # (B, N)
    full = vit.encode(images)
    # Position embeddings are added before selecting, so reordering all tokens only reorders the output.
    torch.testing.assert_close(vit.encode(images, order), full.gather(1, order.unsqueeze(-1).expand_as(full)),
                               atol=1e-5, rtol=1e-4)
    assert vit.encode(images, order[:, :12]).shape == (2, 12, 192)


def test_sincos_position_embedding_gives_each_patch_a_distinct_code():
    embedding = sincos_position_embedding(7, 192)
    assert embedding.shape == (49, 192)
    distances = torch.cdist(embedding, embedding) + torch.eye(49)
    assert distances.min() > 0.1
    with pytest.raises(ValueError, match="multiple of 4"):
        sincos_position_embedding(7, 10)
