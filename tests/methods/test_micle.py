import torch

from sslcore.methods import Batch, build_method
from sslcore.models import build_backbone
from tests.methods.conftest import no_augment


def test_positives_are_the_partner_images_and_single_image_patients_fall_back_to_simclr(tiny_images):
    torch.manual_seed(0)
    micle = build_method("micle", build_backbone("small_cnn", 1, 28), n_classes=2, task="binary")
    simclr = build_method("simclr", build_backbone("small_cnn", 1, 28), n_classes=2, task="binary")
    simclr.load_state_dict(micle.state_dict())
    assert micle.needs_partner and not simclr.needs_partner
    same = micle.training_step(Batch(tiny_images, partner_images=tiny_images), no_augment)
    torch.testing.assert_close(same, simclr.training_step(Batch(tiny_images), no_augment))
    other = micle.training_step(Batch(tiny_images, partner_images=tiny_images.roll(1, dims=0)), no_augment)
    assert other > same + 0.1
