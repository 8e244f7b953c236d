"""What methods declare about themselves: the augmentation preset they are meant for, whether they can collapse."""

import pytest
import torch

from sslcore.augment import PRESETS, AugmentConfig, augment
from sslcore.methods import METHODS


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_declares_an_existing_augmentation_preset(name):
    assert METHODS[name].default_augment in PRESETS
    assert METHODS[name].default_augment == ("crop" if name == "mae" else "radiograph")


def test_the_crop_preset_only_crops_and_flips():
    config = AugmentConfig.preset("crop")
    assert config == AugmentConfig(crop_scale=(0.35, 1.0), hflip_p=0.5)
    # A uniform image stays uniform away from the border: no intensity change, noise or cut-out.
    images = torch.full((16, 1, 28, 28), 200, dtype=torch.uint8)
    views = augment(images, config, torch.Generator().manual_seed(0))
    torch.testing.assert_close(views[:, :, 12:16, 12:16], torch.full((16, 1, 4, 4), 200 / 255))
    assert AugmentConfig.preset("crop", 2.0).crop_scale == (0.05, 1.0)


@pytest.mark.parametrize("name", list(METHODS))
def test_only_joint_embedding_methods_can_collapse(name):
    info = METHODS[name]
    assert info.can_collapse == (info.strategy in ("contrastive", "non-contrastive"))
