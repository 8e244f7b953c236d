import pytest
import torch
import torch.nn.functional as F

from sslcore.methods import Batch, build_method
from sslcore.models import build_backbone
from tests.methods.conftest import no_augment


@pytest.mark.parametrize("task, n_classes", [("binary", 2), ("multi-class", 5), ("multi-label", 3)])
def test_loss_is_the_task_cross_entropy_of_the_classifier(task, n_classes, tiny_images):
    method = build_method("supervised", build_backbone("small_cnn", 1, 28), n_classes=n_classes, task=task).eval()
    labels = (torch.randint(0, 2, (8, n_classes)).float() if task == "multi-label"
              else torch.randint(0, n_classes, (8,)))
    loss = method.training_step(Batch(tiny_images, labels=labels), no_augment)
    logits = method.classifier(method.backbone(no_augment(tiny_images)))
    expected = (F.binary_cross_entropy_with_logits(logits, labels) if task == "multi-label"
                else F.cross_entropy(logits, labels))
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize("task, n_classes", [("binary", 1), ("multi-label", 0)])
def test_rejects_too_few_classes(task, n_classes):
    with pytest.raises(ValueError, match="needs at least"):
        build_method("supervised", build_backbone("small_cnn", 1, 28), n_classes=n_classes, task=task)
