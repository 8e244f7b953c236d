"""An experiment: pretrain, then measure what pretraining bought over label fractions.

The Lab's runs, the worker and ``python -m sslcore bench`` all run experiments through
:func:`run_experiment`, so a number in the app and a number in BENCHMARKS.md come from the
same code. Every comparison it reports pairs like with like (fine-tuning against training from
scratch, frozen probes against the frozen random backbone) on the same labelled subsets and test
images, with a paired interval (``sslcore.evaluate.compare``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from sslcore.experiments.config import ExperimentConfig
from sslcore.training.config import PretrainConfig

# How the points name a network pretrained with the supervised "method": it saw every label, so it
# is no label-efficiency result and no comparison is made for it.
ALL_LABELS = "supervised (all labels)"


@dataclass
class ExperimentResult:
    """What an experiment produced.

    Attributes:
        pretrain: the first pretraining run (``sslcore.training.PretrainResult``).
        points: every evaluation point (dicts).
        timings: ``pretrain_s``, ``eval_s``, ``total_s``.
        dataset: the dataset it ran on.
        scores: each point's test scores under ``sslcore.evaluate.sweep.Arm.key``.
        comparisons: the like-for-like paired differences (dicts, ``sslcore.evaluate.compare.Comparison``).
        pretrains: every pretraining run (``evaluation.pretrain_seeds`` of them).
        test_fingerprint: sha256 of the test split (``ImageDataset.test_fingerprint``).
    """

    pretrain: Any
    points: list[dict[str, Any]]
    timings: dict[str, float]
    dataset: Any
    scores: dict = field(default_factory=dict)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    pretrains: list[Any] = field(default_factory=list)
    test_fingerprint: str = ""


def initial_backbone(config: PretrainConfig, dataset):
    """The backbone pretraining started from (same architecture and seed): the "before" model."""
    from sslcore.training import build_model

    return build_model(config, channels=dataset.channels, n_classes=dataset.n_classes, task=dataset.task).backbone


def baseline_backbone(config: PretrainConfig, dataset, evaluation_seed: int):
    """A randomly initialised backbone of the same architecture for the baselines of one evaluation
    seed: each seed starts the baselines from a different random initialisation (model seed + 1 +
    seed), whatever the pretraining started from."""
    return initial_backbone(dataclasses.replace(config, seed=config.seed + 1 + evaluation_seed, init="random"),
                            dataset)


def arm_name(method: str, init: str = "random", epochs: int = 1) -> str:
    """How the points name the arms of a pretraining config: the method (``supervised (all labels)``
    for supervised pretraining), ``<method> from <init>`` when it did not start from random weights,
    and ``<init> init`` when nothing was pretrained (``epochs == 0``)."""
    start = init.split(":")[0]
    if epochs == 0:
        return f"{start} init"
    name = ALL_LABELS if method == "supervised" else method
    return name if init == "random" else f"{name} from {start}"


def _not_pretrained(config: PretrainConfig, dataset):
    """The initialised method itself, as a PretrainResult (an arm with ``epochs == 0``)."""
    from sslcore.training import PretrainResult, build_model, resolve_device

    method = build_model(config, channels=dataset.channels, n_classes=dataset.n_classes, task=dataset.task)
    return PretrainResult(method=method.eval(), config=config, device=str(resolve_device(config.device)))


def run_experiment(
    config: ExperimentConfig,
    *,
    dataset=None,
    on_progress: Callable | None = None,
    on_point: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    checkpoint_path=None,
) -> ExperimentResult:
    """Pretrain (``evaluation.pretrain_seeds`` times), then run the label-efficiency sweep with the
    baselines on the same subsets, and compare like with like.

    Args:
        config: what to pretrain and how to evaluate it.
        dataset: an already loaded dataset (loaded from the config, with its ``data_seed``, when None).
        on_progress: receives the pretraining :class:`sslcore.training.Progress` reports.
        on_point: receives each evaluation point (a dict) as soon as it is measured.
        should_stop: polled during pretraining and between evaluation points.
        checkpoint_path: where the first pretraining run writes its checkpoint.

    Returns:
        The pretrained models, every evaluation point with its test scores, the comparisons, the
        test split's fingerprint and the timings (``pretrain_s``, ``eval_s``, ``total_s``). When
        stopped early, what was measured so far.
    """
    from sslcore.training import load_for_config, pretrain

    started = time.perf_counter()
    dataset = dataset if dataset is not None else load_for_config(config.pretrain)
    pretrains = []
    for index in range(config.evaluation.pretrain_seeds if config.pretrain.epochs else 1):
        seeded = dataclasses.replace(config.pretrain, seed=config.pretrain.seed + index)
        if config.pretrain.epochs == 0:
            pretrains.append(_not_pretrained(seeded, dataset))
            continue
        pretrains.append(pretrain(seeded, dataset=dataset, on_progress=on_progress, should_stop=should_stop,
                                  checkpoint_path=checkpoint_path if index == 0 else None))
        if pretrains[-1].stopped_early:
            break
    pretrained_s = time.perf_counter() - started
    result = ExperimentResult(pretrain=pretrains[0], points=[], timings={}, dataset=dataset, pretrains=pretrains,
                              test_fingerprint=dataset.test_fingerprint())
    if not pretrains[-1].stopped_early:
        evaluate_backbones(pretrains, config, dataset, result, on_point=on_point, should_stop=should_stop)
    total_s = time.perf_counter() - started
    result.timings = {"pretrain_s": pretrained_s, "eval_s": total_s - pretrained_s, "total_s": total_s}
    return result


def evaluate_backbones(pretrains: list, config: ExperimentConfig, dataset, result: ExperimentResult, *,
                       device=None, on_point: Callable[[dict[str, Any]], None] | None = None,
                       should_stop: Callable[[], bool] | None = None) -> ExperimentResult:
    """The label-efficiency sweep of ``config.evaluation`` for pretrained methods (one per pretraining
    seed, index = pretraining seed), with the baselines built from ``config.pretrain``; fills
    ``result.points``, ``result.scores`` and ``result.comparisons`` and returns ``result``."""
    import copy

    from sslcore.augment import AugmentConfig
    from sslcore.evaluate.compare import like_for_like
    from sslcore.evaluate.sweep import baseline_arms, label_efficiency_sweep, method_arms
    from sslcore.training import resolve_device

    evaluation = config.evaluation
    device = device if device is not None else resolve_device(config.pretrain.device)
    name = arm_name(config.pretrain.method, config.pretrain.init, config.pretrain.epochs)
    arms = []
    for pretrain_seed, pretrained in enumerate(pretrains):
        backbone = pretrained.backbone
        arms += method_arms(name, evaluation.protocols, lambda _seed, b=backbone: copy.deepcopy(b), pretrain_seed)
    arms += baseline_arms(evaluation.protocols, evaluation.baselines,
                          lambda seed: baseline_backbone(config.pretrain, dataset, seed))

    def record(point) -> None:
        row = point.to_dict()
        result.points.append(row)
        if on_point is not None:
            on_point(row)

    sweep = label_efficiency_sweep(
        dataset, arms, fractions=evaluation.fractions, seeds=evaluation.seeds,
        finetune_config=evaluation.finetune_config(),
        finetune_augment=AugmentConfig.preset(evaluation.finetune_augment),
        device=device, on_point=record, should_stop=should_stop)
    result.scores = sweep.scores
    if not name.startswith(ALL_LABELS):
        test = dataset.splits["test"]
        result.comparisons = [c.to_dict() for c in like_for_like(sweep.points, sweep.scores, test.labels.cpu(),
                                                                 dataset.task)]
    return result


def expected_points(config: ExperimentConfig) -> int:
    """How many evaluation points an experiment measures (the live view's "n of N")."""
    from sslcore.evaluate.vocabulary import FROZEN_PROTOCOLS

    evaluation = config.evaluation
    pretrained = len(evaluation.protocols) * (evaluation.pretrain_seeds if config.pretrain.epochs else 1)
    random = len([p for p in evaluation.protocols if p in FROZEN_PROTOCOLS]) if "random" in evaluation.baselines else 0
    scratch = 1 if "supervised" in evaluation.baselines else 0
    return len(evaluation.seeds) * len(evaluation.fractions) * (pretrained + random + scratch)
