"""Named experiment presets shared by the Lab page, ``python -m sslcore experiment --preset`` and
``python -m sslcore bench``: one definition of each, so the app and BENCHMARKS.md run the same thing.

A preset fixes the scale (backbone, image size, training images, how the result is judged); each
method then pretrains with its own recipe under it (``sslcore.experiments.recipes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sslcore.experiments.config import EvaluationConfig, ExperimentConfig
from sslcore.training.config import PretrainConfig


@dataclass(frozen=True)
class Preset:
    """A named experiment.

    Attributes:
        name: its key in :data:`PRESETS` (and in ``recipes.yaml``).
        title: a few words for a menu.
        description: what it runs, for the person choosing it (:meth:`describe` adds the method's recipe).
        pretrain: the pretraining fields every method shares (the dataset and the method's recipe are
            added when the preset is used).
        evaluation: how the result is judged.
    """

    name: str
    title: str
    description: str
    pretrain: dict[str, Any]
    evaluation: Callable[[], EvaluationConfig]

    def build(self, dataset: str = "synthetic", **overrides) -> ExperimentConfig:
        """The experiment on ``dataset`` with the method's recipe; ``overrides`` replace pretraining fields.

        Images are 28 px (MedMNIST's smallest files), except on the synthetic radiographs, drawn at the
        size where their findings are legible (``sslcore.data.synthetic_cxr.DEFAULT_IMAGE_SIZE``).
        """
        from sslcore.data.registry import SYNTHETIC
        from sslcore.data.synthetic_cxr import DEFAULT_IMAGE_SIZE
        from sslcore.experiments.recipes import recipe

        method = overrides.get("method", self.pretrain["method"])
        image_size = DEFAULT_IMAGE_SIZE if dataset == SYNTHETIC else 28
        values = {**self.pretrain, "dataset": dataset, "image_size": image_size, **recipe(self.name, method),
                  **overrides}
        return ExperimentConfig(PretrainConfig(**values), self.evaluation())

    def describe(self, method: str | None = None) -> str:
        """The description with the method's recipe in words."""
        from sslcore.experiments.recipes import chosen_by
        from sslcore.methods import METHODS

        config = self.build(method=method or self.pretrain["method"]).pretrain
        evaluation = self.evaluation()
        origin = ("chosen on validation data with `bench select`" if chosen_by(self.name, config.method)
                  else "its paper's defaults scaled to small images, not yet chosen on validation data")
        return (f"{self.description} {METHODS[config.method].title}: {config.backbone}, {config.epochs} epochs at "
                f"batch {config.batch_size}, learning rate {config.lr:g}, weight decay {config.weight_decay:g}, "
                f"'{config.augment}' augmentation ({origin}); evaluated with {', '.join(evaluation.protocols)} over "
                f"{len(evaluation.fractions)} label fractions x {len(evaluation.seeds)} seeds against both baselines.")


PRESETS = {
    "cpu-quick": Preset(
        name="cpu-quick", title="Quick CPU demo",
        description="Small CNN, 28 px (32 px on the built-in synthetic set), about 4,000 training images.",
        pretrain=dict(method="simclr", backbone="small_cnn", max_train_images=4000, device="auto"),
        # Fine-tuning budget sized to the 2-core CPU (15 epochs at batch 128, two learning rates chosen on
        # validation): SSL fine-tuning and training from scratch get exactly the same.
        evaluation=lambda: EvaluationConfig(protocols=("linear", "knn", "finetune"), finetune_epochs=15,
                                            finetune_lrs=(1e-3, 3e-3), finetune_batch_size=128)),
    "gpu-standard": Preset(
        name="gpu-standard", title="Standard GPU",
        description="ResNet-18, 28 px (32 px on the synthetic set), every training image, three pretraining seeds.",
        pretrain=dict(method="simclr", backbone="resnet18", epochs=100, batch_size=512, device="auto"),
        evaluation=lambda: EvaluationConfig(protocols=("linear", "knn", "finetune"), pretrain_seeds=3,
                                            finetune_batch_size=256)),
}


def preset(name: str, dataset: str = "synthetic", **overrides) -> ExperimentConfig:
    """The experiment preset ``name`` describes, on ``dataset``; ``overrides`` replace pretraining fields
    (``method=...`` brings that method's recipe)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return PRESETS[name].build(dataset, **overrides)
