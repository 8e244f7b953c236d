"""An experiment: pretrain, then measure what pretraining bought over label fractions.

The Lab's runs, the worker and ``python -m sslcore bench`` all run experiments through
:func:`run_experiment`, so a number in the app and a number in BENCHMARKS.md come from the
same code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from sslcore.experiments.config import ExperimentConfig
from sslcore.training.config import PretrainConfig


@dataclass
class ExperimentResult:
    pretrain: Any  # sslcore.training.PretrainResult
    points: list[dict[str, Any]]
    timings: dict[str, float]
    dataset: Any


def initial_backbone(config: PretrainConfig, dataset):
    """The backbone pretraining started from (same architecture and seed): the "before" model."""
    from sslcore.training import build_model

    return build_model(config, channels=dataset.channels, n_classes=dataset.n_classes, task=dataset.task).backbone


def run_experiment(
    config: ExperimentConfig,
    *,
    dataset=None,
    on_progress: Callable | None = None,
    on_point: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    checkpoint_path=None,
) -> ExperimentResult:
    """Pretrain, then run the label-efficiency sweep with its baselines on the same subsets.

    Args:
        config: what to pretrain and how to evaluate it.
        dataset: an already loaded dataset (loaded from the config when None).
        on_progress: receives the pretraining :class:`sslcore.training.Progress` reports.
        on_point: receives each evaluation point (a dict) as soon as it is measured.
        should_stop: polled during pretraining and between evaluation points.
        checkpoint_path: where pretraining writes its checkpoint.

    Returns:
        The pretrained model, every evaluation point, and the timings
        (``pretrain_s``, ``eval_s``, ``total_s``). When stopped early, the points measured so far.
    """
    from sslcore.training import load_for_config, pretrain, resolve_device

    started = time.perf_counter()
    dataset = dataset if dataset is not None else load_for_config(config.pretrain)
    result = pretrain(config.pretrain, dataset=dataset, on_progress=on_progress, should_stop=should_stop,
                      checkpoint_path=checkpoint_path)
    pretrained_s = time.perf_counter() - started
    points = [] if result.stopped_early else evaluate_backbone(
        result.backbone, config, dataset, device=resolve_device(config.pretrain.device), on_point=on_point,
        should_stop=should_stop)
    total_s = time.perf_counter() - started
    return ExperimentResult(pretrain=result, points=points, dataset=dataset,
                            timings={"pretrain_s": pretrained_s, "eval_s": total_s - pretrained_s,
                                     "total_s": total_s})


def evaluate_backbone(
    backbone,
    config: ExperimentConfig,
    dataset,
    *,
    device="cpu",
    on_point: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[dict[str, Any]]:
    """The label-efficiency sweep of ``config.evaluation`` for a pretrained backbone, with the baselines
    built from ``config.pretrain`` (the backbone's own architecture and seed).

    Returns:
        Every point as a dict (keys of :class:`sslcore.evaluate.Point`), in the order measured.
    """
    import copy

    from sslcore.evaluate import label_efficiency_sweep

    points: list[dict[str, Any]] = []

    def record(point) -> None:
        row = point.to_dict()
        points.append(row)
        if on_point is not None:
            on_point(row)

    evaluation = config.evaluation
    label_efficiency_sweep(
        dataset,
        pretrained_factory=lambda: copy.deepcopy(backbone),
        random_factory=lambda: initial_backbone(config.pretrain, dataset),
        method_name=config.pretrain.method,
        protocols=evaluation.protocols,
        fractions=evaluation.fractions,
        seeds=evaluation.seeds,
        baselines=evaluation.baselines,
        finetune_config={"max_steps": evaluation.finetune_max_steps},
        device=device,
        on_point=record,
        should_stop=should_stop,
    )
    return points
