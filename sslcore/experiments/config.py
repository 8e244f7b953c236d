"""An experiment's configuration: what to pretrain (:class:`PretrainConfig`) and how to judge it.

Stored flat, as a run's ``config.yaml``: the pretraining keys plus an ``evaluation`` mapping, so
that ``python -m sslcore experiment --config config.yaml`` replays any run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sslcore.augment import PRESETS as AUGMENT_PRESETS
from sslcore.evaluate.vocabulary import BASELINES, FRACTIONS, PROTOCOLS, SEEDS
from sslcore.training.config import PretrainConfig


@dataclass
class EvaluationConfig:
    """How the pretrained backbone is judged.

    Attributes:
        protocols: protocols applied to the pretrained backbone (``linear``, ``knn``, ``finetune``).
        fractions: fractions of the training labels to use, each drawn stratified per seed.
        seeds: one labelled subset, one initialisation of each baseline and one fine-tune per seed
            and fraction.
        baselines: ``supervised`` (the same network trained from scratch on the same subsets, with
            the same fine-tuning budget, learning-rate grid and augmentation as SSL fine-tuning) and
            ``random`` (a frozen randomly initialised backbone, linear and kNN).
        finetune_epochs: fine-tuning budget in passes over the labelled images (early stopping on
            validation AUC ends it sooner).
        finetune_lrs: the learning rates fine-tuning (and training from scratch) tries, choosing on
            validation.
        finetune_augment: the augmentation preset of fine-tuning and of training from scratch alike.
        finetune_batch_size: images per fine-tuning step.
        finetune_max_steps: a safety cap on the steps of one fine-tune (not the budget).
        pretrain_seeds: pretraining runs (model seeds ``seed``, ``seed + 1`` ...), pooled in the
            paired intervals.
    """

    protocols: tuple[str, ...] = ("linear", "knn")
    fractions: tuple[float, ...] = FRACTIONS
    seeds: tuple[int, ...] = SEEDS
    baselines: tuple[str, ...] = BASELINES
    finetune_epochs: float = 30.0
    finetune_lrs: tuple[float, ...] = (3e-4, 1e-3, 3e-3)
    finetune_augment: str = "light"
    finetune_max_steps: int = 3000
    finetune_batch_size: int = 64
    pretrain_seeds: int = 1

    def __post_init__(self) -> None:
        self.protocols, self.fractions = tuple(self.protocols), tuple(float(f) for f in self.fractions)
        self.seeds, self.baselines = tuple(int(s) for s in self.seeds), tuple(self.baselines)
        self.finetune_lrs = tuple(float(lr) for lr in self.finetune_lrs)
        problems = []
        if not self.protocols or set(self.protocols) - set(PROTOCOLS):
            problems.append(f"protocols must be a non-empty subset of {PROTOCOLS}, got {self.protocols}")
        if set(self.baselines) - set(BASELINES):
            problems.append(f"baselines must be a subset of {BASELINES}, got {self.baselines}")
        if not self.fractions or not all(0 < f <= 1 for f in self.fractions):
            problems.append(f"fractions must lie in (0, 1], got {self.fractions}")
        if not self.seeds:
            problems.append("at least one seed is needed")
        if self.finetune_batch_size < 2:
            problems.append(f"finetune_batch_size must be at least 2, got {self.finetune_batch_size}")
        if self.finetune_max_steps < 1:
            problems.append(f"finetune_max_steps must be at least 1, got {self.finetune_max_steps}")
        if not self.finetune_epochs > 0 or not self.finetune_lrs or min(self.finetune_lrs) <= 0:
            problems.append(f"finetune_epochs and every finetune_lrs must be positive, got {self.finetune_epochs} "
                            f"and {self.finetune_lrs}")
        if self.finetune_augment not in AUGMENT_PRESETS:
            problems.append(f"finetune_augment must be one of {AUGMENT_PRESETS}, got {self.finetune_augment!r}")
        if not 1 <= self.pretrain_seeds <= 10:
            problems.append(f"pretrain_seeds must be between 1 and 10, got {self.pretrain_seeds}")
        if problems:
            raise ValueError("invalid evaluation config: " + "; ".join(problems))

    def finetune_config(self) -> dict[str, Any]:
        """The ``FinetuneConfig`` fields this evaluation sets."""
        return {"epochs": self.finetune_epochs, "lr_grid": self.finetune_lrs, "max_steps": self.finetune_max_steps,
                "batch_size": self.finetune_batch_size}

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


@dataclass
class ExperimentConfig:
    """A pretraining config plus how to evaluate it; stored flat (pretraining keys + ``evaluation``)."""

    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)

    def to_dict(self) -> dict[str, Any]:
        return {**self.pretrain.to_dict(), "evaluation": self.evaluation.to_dict()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ExperimentConfig":
        values = dict(values)
        evaluation = values.pop("evaluation", {}) or {}
        known = {f.name for f in dataclasses.fields(EvaluationConfig)}
        unknown = sorted(set(evaluation) - known)
        if unknown:
            raise ValueError(f"unknown evaluation keys: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(PretrainConfig.from_dict(values), EvaluationConfig(**evaluation))
