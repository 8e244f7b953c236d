import pytest
import torch

from sslcore.methods import build_method
from sslcore.models import build_backbone


@pytest.fixture
def mae():
    torch.manual_seed(0)
    return build_method("mae", build_backbone("vit_tiny", 1, 28), n_classes=2, task="binary")


@pytest.mark.parametrize("mask_ratio, visible", [(0.75, 4), (0.5, 8), (0.99, 1)])  # of 4 x 4 patches
def test_random_masking_hides_mask_ratio_of_the_patches_per_image(mask_ratio, visible):
    mae = build_method("mae", build_backbone("vit_tiny", 1, 28), n_classes=2, task="binary", mask_ratio=mask_ratio)
    keep_index, mask = mae.random_masking(5, torch.device("cpu"))
    assert keep_index.shape == (5, visible)
    assert (mask.sum(dim=1) == 16 - visible).all()
    assert (mask.gather(1, keep_index) == 0).all()
    assert len({tuple(row.tolist()) for row in keep_index}) > 1  # independent per image


def test_reconstruct_keeps_visible_pixels_and_hides_the_rest(mae):
    images = torch.randn(3, 1, 28, 28)
    masked, reconstruction, mask = mae.reconstruct(images, generator=torch.Generator().manual_seed(0))
    assert masked.shape == reconstruction.shape == images.shape and mask.shape == (3, 1, 28, 28)
    assert mask.mean().item() == pytest.approx(12 / 16)
    visible = mask == 0
    torch.testing.assert_close(reconstruction[visible], images[visible])
    torch.testing.assert_close(masked[visible], images[visible])
    assert (masked[~visible] == 0).all()
    assert not torch.allclose(reconstruction[~visible], images[~visible])
    assert mae.training  # reconstruct leaves the training mode as it found it
