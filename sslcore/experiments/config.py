"""An experiment's configuration: what to pretrain (:class:`PretrainConfig`) and how to judge it.

Stored flat, as a run's ``config.yaml``: the pretraining keys plus an ``evaluation`` mapping, so
that ``python -m sslcore experiment --config config.yaml`` replays any run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sslcore.evaluate.vocabulary import BASELINES, FRACTIONS, PROTOCOLS, SEEDS
from sslcore.training.config import PretrainConfig


@dataclass
class EvaluationConfig:
    """How the pretrained backbone is judged.

    Attributes:
        protocols: protocols applied to the pretrained backbone (``linear``, ``knn``, ``finetune``).
        fractions: fractions of the training labels to use, each drawn stratified per seed.
        seeds: one labelled subset (and one fine-tune) per seed and fraction.
        baselines: ``supervised`` (the same network trained from scratch on the same subsets)
            and ``random`` (a frozen randomly initialised backbone, linear and kNN).
        finetune_max_steps: cap on the optimisation steps of one fine-tune.
    """

    protocols: tuple[str, ...] = ("linear", "knn")
    fractions: tuple[float, ...] = FRACTIONS
    seeds: tuple[int, ...] = SEEDS
    baselines: tuple[str, ...] = BASELINES
    finetune_max_steps: int = 300

    def __post_init__(self) -> None:
        self.protocols, self.fractions = tuple(self.protocols), tuple(float(f) for f in self.fractions)
        self.seeds, self.baselines = tuple(int(s) for s in self.seeds), tuple(self.baselines)
        problems = []
        if not self.protocols or set(self.protocols) - set(PROTOCOLS):
            problems.append(f"protocols must be a non-empty subset of {PROTOCOLS}, got {self.protocols}")
        if set(self.baselines) - set(BASELINES):
            problems.append(f"baselines must be a subset of {BASELINES}, got {self.baselines}")
        if not self.fractions or not all(0 < f <= 1 for f in self.fractions):
            problems.append(f"fractions must lie in (0, 1], got {self.fractions}")
        if not self.seeds:
            problems.append("at least one seed is needed")
        if self.finetune_max_steps < 1:
            problems.append(f"finetune_max_steps must be at least 1, got {self.finetune_max_steps}")
        if problems:
            raise ValueError("invalid evaluation config: " + "; ".join(problems))

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
