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
from sslcore.evaluate.vocabulary import FRACTIONS, METRIC_NAMES, PROTOCOLS, SEEDS

_FROZEN_PROBES = {"linear": linear_probe, "knn": knn_probe}
_RESULT_KEYS = (*METRIC_NAMES, "auc_ci_low", "auc_ci_high")  # what a Point copies from a ProbeResult


@dataclass
class Point:
    """One evaluation: a method and protocol on one labelled subset, scored on the test split."""

    method: str  # the SSL method, or "supervised" / "random"
    protocol: str  # "linear", "knn" or "finetune"
    fraction: float  # requested fraction of the training labels
    n_labelled: int  # labelled images actually used
    seed: int  # the evaluation seed: labelled subset, baseline initialisation, fine-tuning order
    auc: float
    acc: float
    balanced_acc: float
    auc_ci_low: float
    auc_ci_high: float
    pretrain_seed: int = 0  # which pretraining run (0 for the baselines)
    val_auc: float = float("nan")  # validation AUC of the setting chosen on validation

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Arm:
    """One way of getting a classifier, evaluated at every seed and label fraction.

    Attributes:
        method: its name in the points (the SSL method, ``supervised``, ``random`` ...).
        protocol: ``linear``, ``knn`` or ``finetune``.
        backbone: evaluation seed -> a fresh backbone (fine-tuning changes it).
        pretrain_seed: which pretraining run the backbone comes from (0 for the baselines).
        per_seed: the backbone differs between evaluation seeds (a seeded random initialisation);
            otherwise frozen features are extracted once for every seed.
        recalibrate: re-estimate BatchNorm statistics on the unlabelled training images before taking
            frozen features (a random network's are those of its initialisation, not of the data).
    """

    method: str
    protocol: str
    backbone: Callable[[int], nn.Module]
    pretrain_seed: int = 0
    per_seed: bool = False
    recalibrate: bool = False

    def key(self, fraction: float, seed: int) -> tuple[str, str, float, int, int]:
        """The key of this arm's test scores at one fraction and seed."""
        return self.method, self.protocol, float(fraction), int(seed), int(self.pretrain_seed)


@dataclass
class SweepResult:
    """Every point, and each point's test scores (float32 (N_test, K)) under :meth:`Arm.key`."""

    points: list[Point]
    scores: dict[tuple[str, str, float, int, int], torch.Tensor]


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


def stratified_sample(labels: torch.Tensor, n: int, seed: int, task: str) -> torch.Tensor:
    """Indices (sorted) of ``n`` images drawn at random with each class in its share of the split
    (largest remainders); a plain random draw for multi-label data. All images when ``n >= N``."""
    labels = labels.cpu()
    if n >= len(labels):
        return torch.arange(len(labels))
    generator = torch.Generator().manual_seed(seed)
    if task == "multi-label":
        return torch.randperm(len(labels), generator=generator)[:n].sort().values
    classes, counts = labels.unique(return_counts=True)
    exact = counts.double() * n / len(labels)
    quota = exact.floor().long()
    quota[torch.argsort(exact - quota, descending=True)[:n - int(quota.sum())]] += 1
    parts = [(labels == c).nonzero().squeeze(1) for c in classes]
    return torch.cat([members[torch.randperm(len(members), generator=generator)[:q]]
                      for members, q in zip(parts, quota.tolist())]).sort().values


def recalibrate_batchnorm(backbone: nn.Module, images: torch.Tensor, device, batch_size: int = 256) -> nn.Module:
    """Re-estimate every BatchNorm layer's running statistics on ``images`` (uint8), without labels
    or gradients: the cumulative average over the images, as a trained network would hold for its data."""
    from sslcore.evaluate.features import model_input

    norms = [m for m in backbone.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return backbone
    backbone.to(device)
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    was_training = backbone.training
    backbone.train()
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            backbone(model_input(images[start:start + batch_size].to(device)))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    backbone.train(was_training)
    return backbone


def method_arms(method: str, protocols: Iterable[str], backbone: Callable[[int], nn.Module],
                pretrain_seed: int = 0) -> list[Arm]:
    """The pretrained backbone's arms: one per protocol (the same backbone at every evaluation seed)."""
    return [Arm(method, protocol, backbone, pretrain_seed) for protocol in protocols]


def baseline_arms(protocols: Iterable[str], baselines: Iterable[str], random_backbone: Callable[[int], nn.Module]
                  ) -> list[Arm]:
    """The baselines each protocol is compared with, like for like: the frozen ``random`` backbone
    (its BatchNorm statistics taken from the unlabelled training images) under the frozen probes, and
    the network trained from scratch (``supervised``, fine-tuning protocol) when fine-tuning is evaluated
    or asked for. Each evaluation seed initialises the baselines differently."""
    protocols, baselines = tuple(protocols), tuple(baselines)
    arms = []
    if "random" in baselines:
        arms += [Arm("random", protocol, random_backbone, per_seed=True, recalibrate=True)
                 for protocol in protocols if protocol in _FROZEN_PROBES]
    if "supervised" in baselines:
        arms.append(Arm("supervised", "finetune", random_backbone, per_seed=True))
    return arms


def label_efficiency_sweep(
    dataset: Any,
    arms: Iterable[Arm],
    *,
    fractions: Iterable[float] = FRACTIONS,
    seeds: Iterable[int] = SEEDS,
    finetune_config: FinetuneConfig | dict[str, Any] | None = None,
    finetune_augment=None,
    device: str | torch.device = "cpu",
    on_point: Callable[[Point], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SweepResult:
    """Evaluate every arm on the same labelled subsets.

    For each seed, then each fraction, one stratified labelled subset is drawn
    (:func:`labelled_subset`) and every arm is evaluated on it: frozen arms with their probe on
    features extracted once per backbone (per seed for seeded baselines), fine-tuned arms with
    :func:`finetune` under the same budget, learning-rate grid and augmentation.

    Args:
        dataset: has ``task``, ``label_names`` and ``splits["train"|"val"|"test"]`` with uint8
            ``images``, ``labels`` and ``patient_ids``.
        arms: what to evaluate (:func:`method_arms`, :func:`baseline_arms`).
        fractions: label fractions in (0, 1].
        seeds: one labelled subset (and one initialisation of each baseline) per seed and fraction.
        finetune_config: :class:`FinetuneConfig` or dict of overrides, for every fine-tune.
        finetune_augment: an ``AugmentConfig`` for fine-tuning's training images (every fine-tuned
            arm gets the same one); plain normalisation when None.
        device: where features, probes and fine-tunes run.
        on_point: called with each :class:`Point` as soon as it is measured.
        should_stop: polled before each point; True returns the points measured so far.

    Returns:
        The points in the order measured, and their test scores.
    """
    arms = list(arms)
    fractions, seeds = tuple(float(f) for f in fractions), tuple(int(s) for s in seeds)
    if not arms or any(arm.protocol not in PROTOCOLS for arm in arms):
        raise ValueError(f"arms must be non-empty, each with a protocol of {PROTOCOLS}")
    if not fractions or not all(0 < f <= 1 for f in fractions):
        raise ValueError(f"fractions must be non-empty and lie in (0, 1], got {fractions}")
    if not seeds:
        raise ValueError("at least one seed is needed")
    finetune_config = FinetuneConfig.from_value(finetune_config)
    result = SweepResult(points=[], scores={})
    features = _FeatureCache(dataset, device)
    for seed in seeds:
        for fraction in fractions:
            index = labelled_subset(dataset.splits["train"].labels, fraction, seed, dataset.task)
            for arm in arms:
                if should_stop is not None and should_stop():
                    return result
                probe = _evaluate_arm(arm, dataset, index, seed, features, finetune_config, finetune_augment, device)
                point = Point(method=arm.method, protocol=arm.protocol, fraction=fraction, n_labelled=len(index),
                              seed=seed, pretrain_seed=arm.pretrain_seed, val_auc=probe.val_auc,
                              **{key: getattr(probe, key) for key in _RESULT_KEYS})
                result.points.append(point)
                result.scores[arm.key(fraction, seed)] = probe.test_scores
                if on_point is not None:
                    on_point(point)
    return result


class _FeatureCache:
    """Frozen features of each arm's backbone (per seed for seeded arms), extracted once."""

    def __init__(self, dataset: Any, device) -> None:
        self.dataset, self.device = dataset, device
        self._cache: dict[tuple, dict[str, torch.Tensor]] = {}

    def get(self, arm: Arm, seed: int) -> dict[str, torch.Tensor]:
        key = (arm.method, arm.pretrain_seed, seed if arm.per_seed else None)
        if key not in self._cache:
            splits = self.dataset.splits
            backbone = arm.backbone(seed)
            if arm.recalibrate:
                recalibrate_batchnorm(backbone, splits["train"].images, self.device)
            self._cache[key] = {name: extract_features(backbone, splits[name].images, device=self.device)
                                for name in ("train", "val", "test")}
        return self._cache[key]


def _evaluate_arm(arm: Arm, dataset: Any, index: torch.Tensor, seed: int, features: _FeatureCache,
                  finetune_config: FinetuneConfig, finetune_augment, device) -> ProbeResult:
    """One arm on one labelled subset: its probe on frozen features, or a fine-tune."""
    train, val, test = (dataset.splits[name] for name in ("train", "val", "test"))
    labels = train.labels.cpu()[index]
    if arm.protocol in _FROZEN_PROBES:
        feats = features.get(arm, seed)
        return _FROZEN_PROBES[arm.protocol](feats["train"][index], labels, feats["val"], val.labels.cpu(),
                                            feats["test"], test.labels.cpu(), dataset.task, device=device,
                                            bootstrap_seed=seed)
    subset = _Split(train.images[index.to(train.images.device)], train.labels[index.to(train.labels.device)],
                    train.patient_ids[index.to(train.patient_ids.device)])
    view = _LabelledView(dataset.task, list(dataset.label_names), {"train": subset, "val": val, "test": test})
    return finetune(lambda: arm.backbone(seed), view, config=finetune_config, augment=finetune_augment,
                    device=device, seed=seed)
