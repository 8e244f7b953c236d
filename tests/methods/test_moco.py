import torch
import torch.nn.functional as F

from sslcore.methods import Batch, build_method
from sslcore.models import build_backbone
from tests.methods.conftest import no_augment


def test_each_step_enqueues_its_normalised_keys_wrapping_around(tiny_images):
    method = build_method("moco", build_backbone("small_cnn", 1, 28), n_classes=2, task="binary", queue_size=12)
    initial = method.queue.clone()
    method.training_step(Batch(tiny_images), no_augment)
    with torch.no_grad():
        keys = F.normalize(method.key_encoder(no_augment(tiny_images)), dim=1)
    torch.testing.assert_close(method.queue[:8], keys)
    torch.testing.assert_close(method.queue[8:], initial[8:])
    assert method.queue_pointer.item() == 8
    method.training_step(Batch(tiny_images), no_augment)  # 8 more keys: slots 8..11 then 0..3
    torch.testing.assert_close(method.queue[8:], keys[:4])
    torch.testing.assert_close(method.queue[:4], keys[4:])
    torch.testing.assert_close(method.queue[4:8], keys[4:])
    assert method.queue_pointer.item() == 4
    torch.testing.assert_close(method.queue.norm(dim=1), torch.ones(12))
