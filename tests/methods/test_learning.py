"""Every method learns: a few steps on a tiny toy set lower its training loss, and the backbone's
features still tell the classes apart (kNN accuracy far above chance) instead of collapsing or
discarding them. Each runs in about a second or two on one CPU thread."""

import pytest
import torch

from sslcore.evaluate.features import extract_features
from sslcore.evaluate.probes import knn_accuracy
from sslcore.methods import METHODS, Batch, build_method
from sslcore.models import build_backbone
from tests.methods.conftest import brightness_noise_augment, oriented_quadrant_images

SIZE, N_TRAIN, N_VAL, BATCH = 16, 128, 64, 32
CHANCE = 0.25
# (learning rate, steps, hyper-parameters that make the toy run fast). MoCo's queue must first fill
# with real keys (its loss rises meanwhile), so it gets more steps and its first two are skipped.
# BYOL and SimSiam start slowly from a random network: at 2e-3 they lose part of the toy's class
# signal within these few steps (as lightly's reference implementation does), so they get 5e-4.
SETTINGS = {
    "simclr": (1e-3, 20, {}),
    "moco": (1e-3, 40, {"queue_size": 64}),
    "byol": (5e-4, 20, {}),
    "simsiam": (5e-4, 20, {}),
    "barlow_twins": (1e-3, 20, {"projection_dim": 256}),
    "micle": (1e-3, 20, {}),
    "mae": (1e-3, 12, {}),
    "rotation": (1e-3, 20, {}),
}


def same_class_partners(labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each image, a random image of its class: MICLe's second image of the same patient."""
    partners = torch.empty_like(labels)
    for label in labels.unique():
        members = torch.nonzero(labels == label)[:, 0]
        partners[members] = members[torch.randint(len(members), (len(members),), generator=generator)]
    return partners


def test_every_self_supervised_method_is_covered():
    assert set(SETTINGS) == {name for name, info in METHODS.items() if info.strategy != "supervised"}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_a_few_steps_lower_the_loss_and_keep_the_classes_apart(name):
    torch.set_num_threads(1)
    lr, steps, hparams = SETTINGS[name]
    generator = torch.Generator().manual_seed(0)
    train_images, train_labels = oriented_quadrant_images(N_TRAIN, SIZE, generator)
    val_images, val_labels = oriented_quadrant_images(N_VAL, SIZE, generator)
    torch.manual_seed(0)
    method = build_method(name, build_backbone(METHODS[name].default_backbone, 1, SIZE), n_classes=4,
                          task="multi-class", **hparams)
    optimizer = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=lr)
    partners = same_class_partners(train_labels, generator)
    losses = []
    for step in range(steps):
        index = torch.randperm(N_TRAIN)[:BATCH]
        batch = Batch(train_images[index], partner_images=train_images[partners[index]])
        loss = method.training_step(batch, brightness_noise_augment)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        method.on_step_end((step + 1) / steps)
        losses.append(loss.item())
    skip = 2 if name == "moco" else 0
    assert sum(losses[-4:]) / 4 < sum(losses[skip:skip + 4]) / 4
    method.eval()
    accuracy = knn_accuracy(extract_features(method.backbone, train_images), train_labels,
                            extract_features(method.backbone, val_images), val_labels, k=10)
    assert accuracy > CHANCE + (0.15 if name == "mae" else 0.5)
