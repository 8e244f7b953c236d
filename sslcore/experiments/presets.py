"""Named experiment presets shared by the Lab page, ``python -m sslcore experiment --preset`` and
``python -m sslcore bench``: one definition of each, so the app and BENCHMARKS.md run the same thing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sslcore.experiments.config import EvaluationConfig, ExperimentConfig
from sslcore.training.config import PretrainConfig


@dataclass(frozen=True)
class Preset:
    """A named experiment.

    Attributes:
        title: a few words for a menu.
        description: what it runs and how long it takes, for the person choosing it.
        pretrain: the pretraining fields (the dataset is added when the preset is used).
        evaluation: how the result is judged.
    """

    title: str
    description: str
    pretrain: dict[str, Any]
    evaluation: Callable[[], EvaluationConfig]

    def build(self, dataset: str = "synthetic", **overrides) -> ExperimentConfig:
        """The experiment on ``dataset``; ``overrides`` replace pretraining fields.

        Images are 28 px (MedMNIST's smallest files), except on the synthetic radiographs, drawn at the
        size where their findings are legible (``sslcore.data.synthetic_cxr.DEFAULT_IMAGE_SIZE``).
        """
        from sslcore.data.registry import SYNTHETIC
        from sslcore.data.synthetic_cxr import DEFAULT_IMAGE_SIZE

        image_size = DEFAULT_IMAGE_SIZE if dataset == SYNTHETIC else 28
        values = {**self.pretrain, "dataset": dataset, "image_size": image_size, **overrides}
        return ExperimentConfig(PretrainConfig(**values), self.evaluation())


PRESETS = {
    "cpu-quick": Preset(
        title="Quick CPU demo",
        description="Small CNN, 28 px (32 px on the built-in synthetic set), about 4,000 images, SimCLR; linear and kNN probes over 5 label fractions "
                    "x 3 seeds with both baselines (under two minutes on 2 CPU cores).",
        pretrain=dict(method="simclr", backbone="small_cnn", epochs=50, batch_size=256, lr=2e-3,
                      temperature=0.5, max_train_images=4000, device="auto"),
        evaluation=lambda: EvaluationConfig(protocols=("linear", "knn", "finetune"))),
    "gpu-standard": Preset(
        title="Standard GPU",
        description="ResNet-18, 28 px (32 px on the synthetic set), SimCLR for 100 epochs; linear, kNN and fine-tuning over 5 label fractions "
                    "x 3 seeds with both baselines.",
        pretrain=dict(method="simclr", backbone="resnet18", epochs=100, batch_size=512, lr=2e-3,
                      device="auto"),
        evaluation=lambda: EvaluationConfig(protocols=("linear", "knn", "finetune"), pretrain_seeds=3)),
}


def preset(name: str, dataset: str = "synthetic", **overrides) -> ExperimentConfig:
    """The experiment preset ``name`` describes, on ``dataset``; ``overrides`` replace pretraining fields."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return PRESETS[name].build(dataset, **overrides)
