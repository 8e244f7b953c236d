"""Named experiment presets shared by the Lab page and ``python -m sslcore bench``."""

from __future__ import annotations

from sslcore.config import PretrainConfig
from sslcore.experiment import EvaluationConfig, ExperimentConfig

PRESETS = {
    "cpu-quick": "Quick CPU demo: small CNN, 28 px, about 4,000 images, SimCLR; linear and kNN probes "
                 "over 5 label fractions x 3 seeds with both baselines (under two minutes on 2 CPU cores).",
    "gpu-standard": "Standard GPU: ResNet-18, 28 px, SimCLR for 100 epochs; linear, kNN and fine-tuning over "
                    "5 label fractions x 3 seeds with both baselines.",
}


def preset(name: str, dataset: str = "synthetic", **overrides) -> ExperimentConfig:
    """The experiment a preset describes, on ``dataset``; ``overrides`` replace pretraining fields."""
    if name == "cpu-quick":
        pretrain = dict(dataset=dataset, method="simclr", backbone="small_cnn", image_size=28, epochs=50,
                        batch_size=256, lr=2e-3, temperature=0.5, max_train_images=4000, device="auto")
        evaluation = EvaluationConfig(protocols=("linear", "knn"), finetune_max_steps=150)
    elif name == "gpu-standard":
        pretrain = dict(dataset=dataset, method="simclr", backbone="resnet18", image_size=28, epochs=100,
                        batch_size=512, lr=2e-3, device="auto")
        evaluation = EvaluationConfig(protocols=("linear", "knn", "finetune"), finetune_max_steps=2000)
    else:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    pretrain.update(overrides)
    return ExperimentConfig(PretrainConfig(**pretrain), evaluation)
