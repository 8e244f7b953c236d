"""Label-efficiency sweep: what pretraining bought, over label fractions, seeds and protocols.

For every seed and fraction one stratified labelled subset of the training split is drawn; the
pretrained backbone and the baselines are all evaluated on that same subset, so the curves differ
only by the representation (Chen et al., "Big Self-Supervised Models are Strong Semi-Supervised
Learners", NeurIPS 2020; Azizi et al., "Big Self-Supervised Models Advance Medical Image
Classification", ICCV 2021).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import torch
from torch import nn

from sslcore.evaluate.features import extract_features
from sslcore.evaluate.probes import FinetuneConfig, ProbeResult, finetune, knn_probe, linear_probe
from sslcore.evaluate.vocabulary import BASELINES, FRACTIONS, METRIC_NAMES, PROTOCOLS, SEEDS

_FROZEN_PROBES = {"linear": linear_probe, "knn": knn_probe}
_RESULT_KEYS = (*METRIC_NAMES, "auc_ci_low", "auc_ci_high")  # what a Point copies from a ProbeResult


@dataclass
class Point:
    """One evaluation: a method and protocol on one labelled subset, scored on the test split."""

    method: str  # the SSL method, or "supervised" / "random"
    protocol: str  # "linear", "knn" or "finetune"
    fraction: float  # requested fraction of the training labels
    n_labelled: int  # labelled images actually used
    seed: int
    auc: float
    acc: float
    balanced_acc: float
    auc_ci_low: float
    auc_ci_high: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class _Split:
    images: torch.Tensor
    labels: torch.Tensor
    patient_ids: torch.Tensor


@dataclass
class _LabelledView:
    """A dataset whose training split is the labelled subset (what :func:`finetune` trains on)."""

    task: str
    label_names: list[str]
    splits: dict[str, Any]


def labelled_subset(labels: torch.Tensor, fraction: float, seed: int, task: str) -> torch.Tensor:
    """Indices (sorted) of a stratified ``fraction`` of the training images, reproducible per seed.

    Binary / multi-class: ``max(1, round(fraction * n_c))`` images of every class c. Multi-label:
    ``max(1, round(fraction * N))`` images, plus one positive for each label left without one
    (where the split has any). For one seed, a smaller fraction's subset is contained in a larger
    one's, so curves compare nested label sets.

    Args:
        labels: the training split's labels, int64 (N,) or float (N, L).
        fraction: in (0, 1].
        seed: seeds the draw.
        task: ``binary``, ``multi-class`` or ``multi-label``.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    labels = labels.cpu()
    generator = torch.Generator().manual_seed(seed)
    if task == "multi-label":
        order = torch.randperm(len(labels), generator=generator)
        chosen = order[:max(1, round(fraction * len(labels)))]
        positives = labels[order] > 0.5  # (N, L) in draw order
        missing = ~(labels[chosen] > 0.5).any(0) & positives.any(0)  # (L,)
        extra = order[positives[:, missing].int().argmax(0)]  # first positive in draw order per label
        return torch.cat([chosen, extra]).unique()
    parts = []
    for c in labels.unique():
        members = (labels == c).nonzero().squeeze(1)
        members = members[torch.randperm(len(members), generator=generator)]
        parts.append(members[:max(1, round(fraction * len(members)))])
    return torch.cat(parts).sort().values


def label_efficiency_sweep(
    dataset: Any,
    *,
    pretrained_factory: Callable[[], nn.Module],
    random_factory: Callable[[], nn.Module],
    method_name: str,
    protocols: Iterable[str] = ("linear", "knn"),
    fractions: Iterable[float] = FRACTIONS,
    seeds: Iterable[int] = SEEDS,
    baselines: Iterable[str] = BASELINES,
    finetune_config: FinetuneConfig | dict[str, Any] | None = None,
    augment_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: str | torch.device = "cpu",
    on_point: Callable[[Point], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[Point]:
    """Evaluate a pretrained backbone and the baselines on the same labelled subsets.

    For each seed, then each fraction: the pretrained backbone under ``protocols``; the ``random``
    baseline (the frozen randomly initialised backbone) under the frozen protocols among them
    (``linear``, ``knn``); the ``supervised`` baseline (the same network fine-tuned from random
    initialisation). Frozen features are extracted once per backbone for the whole sweep.

    Args:
        dataset: has ``task``, ``label_names`` and ``splits["train"|"val"|"test"]`` with uint8
            ``images``, ``labels`` and ``patient_ids``.
        pretrained_factory: returns the pretrained backbone (a fresh copy: fine-tuning changes it).
        random_factory: returns a randomly initialised backbone of the same architecture.
        method_name: the SSL method's name, recorded in the points.
        protocols: of ``linear``, ``knn``, ``finetune``.
        fractions: label fractions in (0, 1].
        seeds: one labelled subset (and one fine-tune) per seed and fraction.
        baselines: of ``supervised`` and ``random``.
        finetune_config: :class:`FinetuneConfig` or dict of overrides, for every fine-tune.
        augment_fn: training views for fine-tuning (uint8 -> normalised float); plain normalisation when None.
        device: where features, probes and fine-tunes run.
        on_point: called with each :class:`Point` as soon as it is measured.
        should_stop: polled before each point; True returns the points measured so far.

    Returns:
        The points, in the order they were measured.
    """
    protocols, baselines = tuple(protocols), tuple(baselines)
    fractions, seeds = tuple(float(f) for f in fractions), tuple(int(s) for s in seeds)
    if not protocols or set(protocols) - set(PROTOCOLS):
        raise ValueError(f"protocols must be a non-empty subset of {PROTOCOLS}, got {protocols}")
    if set(baselines) - set(BASELINES):
        raise ValueError(f"baselines must be a subset of {BASELINES}, got {baselines}")
    if not fractions or not all(0 < f <= 1 for f in fractions):
        raise ValueError(f"fractions must be non-empty and lie in (0, 1], got {fractions}")
    if not seeds:
        raise ValueError("at least one seed is needed")
    finetune_config = FinetuneConfig.from_value(finetune_config)
    task = dataset.task
    train, val, test = (dataset.splits[name] for name in ("train", "val", "test"))
    frozen = [p for p in protocols if p in _FROZEN_PROBES]

    def features_of(factory: Callable[[], nn.Module]) -> dict[str, torch.Tensor]:
        backbone = factory()
        return {name: extract_features(backbone, split.images, device=device)
                for name, split in (("train", train), ("val", val), ("test", test))}

    # (method, protocol, features or None for fine-tuning, backbone factory for fine-tuning)
    jobs: list[tuple[str, str, dict[str, torch.Tensor] | None, Callable | None]] = []
    if frozen:
        pretrained_features = features_of(pretrained_factory)
        jobs += [(method_name, p, pretrained_features, None) for p in frozen]
    if "finetune" in protocols:
        jobs.append((method_name, "finetune", None, pretrained_factory))
    if "random" in baselines and frozen:
        random_features = features_of(random_factory)
        jobs += [("random", p, random_features, None) for p in frozen]
    if "supervised" in baselines:
        jobs.append(("supervised", "finetune", None, random_factory))

    points: list[Point] = []
    for seed in seeds:
        for fraction in fractions:
            index = labelled_subset(train.labels, fraction, seed, task)
            labels = train.labels.cpu()[index]
            for method, protocol, features, factory in jobs:
                if should_stop is not None and should_stop():
                    return points
                if features is not None:
                    result: ProbeResult = _FROZEN_PROBES[protocol](
                        features["train"][index], labels, features["val"], val.labels.cpu(),
                        features["test"], test.labels.cpu(), task, device=device, bootstrap_seed=seed)
                else:
                    subset = _Split(train.images[index.to(train.images.device)],
                                    train.labels[index.to(train.labels.device)],
                                    train.patient_ids[index.to(train.patient_ids.device)])
                    view = _LabelledView(task, list(dataset.label_names), {"train": subset, "val": val, "test": test})
                    result = finetune(factory, view, config=finetune_config, augment_fn=augment_fn,
                                      device=device, seed=seed)
                point = Point(method=method, protocol=protocol, fraction=fraction, n_labelled=len(index),
                              seed=seed, **{key: getattr(result, key) for key in _RESULT_KEYS})
                points.append(point)
                if on_point is not None:
                    on_point(point)
    return points

