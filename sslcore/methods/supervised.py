"""The supervised baseline: train the same backbone from scratch on the expert labels.

The usual reference point of SSL papers (e.g. Chen et al., 2020, arXiv:2002.05709): SSL pretraining
is worth it when it beats this with the same labelled data.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sslcore.data.base import TASKS
from sslcore.methods.base import AugmentFn, Batch, Citation, MethodInfo, SSLMethod
from sslcore.methods.losses.precision import float32


class Supervised(SSLMethod):
    """Backbone + linear classifier trained with cross-entropy (binary, multi-class) or per-label
    binary cross-entropy on logits (multi-label, labels float (B, L) in {0, 1}).

    Args:
        backbone: the encoder.
        n_classes: number of classes (binary: 2) or of labels (multi-label).
        task: ``binary``, ``multi-class`` or ``multi-label``.
    """

    name = "supervised"
    needs_labels = True
    can_collapse = False

    def __init__(self, backbone: nn.Module, *, n_classes: int, task: str) -> None:
        super().__init__(backbone)
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
        if n_classes < (1 if task == "multi-label" else 2):
            raise ValueError(f"a {task} task needs at least {1 if task == 'multi-label' else 2} classes, "
                             f"got n_classes={n_classes}")
        self.task = task
        self.classifier = nn.Linear(backbone.feature_dim, n_classes)

    def training_step(self, batch: Batch, augment_fn: AugmentFn) -> torch.Tensor:
        logits = self.classifier(self.backbone(augment_fn(batch.images)))  # (B, n_classes)
        with float32(logits.device):
            if self.task == "multi-label":
                return F.binary_cross_entropy_with_logits(logits.float(), batch.labels.float())
            return F.cross_entropy(logits.float(), batch.labels)


INFO = MethodInfo(
    name="supervised",
    title="Supervised from scratch (baseline)",
    strategy="supervised",
    citation=Citation("He, Zhang, Ren & Sun", 2016, "Deep Residual Learning for Image Recognition", "CVPR",
                      "1512.03385"),
    explanation="No self-supervised pretraining: the network learns directly from the images and their expert "
                "labels. It is the reference point: pretraining is worth it when it does better than this "
                "with the same number of labelled images.",
    method_class=Supervised,
)
