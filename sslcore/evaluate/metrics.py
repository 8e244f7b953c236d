"""Classification metrics on class scores: AUC, accuracy, balanced accuracy and bootstrap intervals.

Every metric is computed from per-sample weights (B, N): the plain metric uses one row of ones and
a bootstrap resample is a row of draw counts, so the B resamples of :func:`bootstrap_ci` are scored
in one vectorised pass by the same code that scores the test split.

Conventions, for ``task``:
    ``binary`` / ``multi-class``: ``scores`` (N, C) class probabilities (binary: C = 2), ``labels``
    int (N,) in 0..C-1. ``multi-label``: ``scores`` (N, L) per-label probabilities, ``labels`` (N, L)
    in {0, 1}; accuracy and balanced accuracy threshold the probabilities at 0.5.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from sslcore.data.base import TASKS
from sslcore.evaluate.vocabulary import METRIC_NAMES

METRICS = tuple(METRIC_NAMES)
# Bootstrap resamples scored at once: bounds the (chunk, N) weight matrix.
_BOOTSTRAP_CHUNK = 250


def _as_tensors(scores, labels, task: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate the boundary: float64 scores (N, K) and labels (N,) or (N, L) on the CPU."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    scores, labels = (torch.as_tensor(np.ascontiguousarray(x)) if not torch.is_tensor(x) else x.detach().cpu()
                      for x in (scores, labels))
    scores = scores.double()
    if scores.ndim != 2:
        raise ValueError(f"scores must be (N, K), got shape {tuple(scores.shape)}")
    if len(scores) != len(labels) or len(scores) == 0:
        raise ValueError(f"scores and labels must have the same non-zero length, got {len(scores)} and {len(labels)}")
    if task == "multi-label":
        if labels.shape != scores.shape:
            raise ValueError(f"multi-label labels must match scores {tuple(scores.shape)}, got {tuple(labels.shape)}")
        return scores, labels.double()
    if labels.ndim != 1:
        raise ValueError(f"{task} labels must be (N,), got shape {tuple(labels.shape)}")
    if task == "binary" and scores.shape[1] != 2:
        raise ValueError(f"binary scores must be (N, 2), got shape {tuple(scores.shape)}")
    labels = labels.long()
    if labels.min() < 0 or labels.max() >= scores.shape[1]:
        raise ValueError(f"labels must lie in 0..{scores.shape[1] - 1}")
    return scores, labels


def _binary_problems(scores: torch.Tensor, labels: torch.Tensor, task: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The one-vs-rest problems a task is averaged over: scores (N, P) and positives bool (N, P)."""
    if task == "binary":
        return scores[:, 1:], (labels == 1)[:, None]
    if task == "multi-class":
        return scores, labels[:, None] == torch.arange(scores.shape[1])
    return scores, labels > 0.5


def _nanmean(values: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean over the finite entries of ``dim``; NaN where none is finite."""
    valid = ~torch.isnan(values)
    return torch.where(valid, values, 0.0).sum(dim) / valid.sum(dim)


def _weighted_auc(scores: torch.Tensor, positives: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Rank-based (Mann-Whitney) AUC of each problem under each weighting, ties counting one half.

    Args:
        scores: (N, P) scores of P binary problems.
        positives: (N, P) bool.
        weights: (B, N) non-negative sample weights (bootstrap counts, or ones).

    Returns:
        (B, P) AUCs; NaN where a weighting leaves a problem without positives or negatives.
    """
    n_problems = scores.shape[1]
    result = torch.empty(weights.shape[0], n_problems, dtype=torch.float64)
    for p in range(n_problems):
        # Group tied scores: every sample maps to the rank of its distinct value.
        _, tie_group = torch.unique(scores[:, p], sorted=True, return_inverse=True)  # (N,)
        n_groups = int(tie_group.max()) + 1
        pos = positives[:, p].double()
        pos_mass = weights.new_zeros(len(weights), n_groups).index_add_(1, tie_group, weights * pos)  # (B, U)
        neg_mass = weights.new_zeros(len(weights), n_groups).index_add_(1, tie_group, weights * (1 - pos))  # (B, U)
        neg_below = neg_mass.cumsum(1) - neg_mass  # (B, U) negative weight strictly below each value
        wins = (pos_mass * (neg_below + 0.5 * neg_mass)).sum(1)  # (B,)
        pairs = pos_mass.sum(1) * neg_mass.sum(1)  # (B,)
        result[:, p] = torch.where(pairs > 0, wins / pairs.clamp_min(1e-300), torch.nan)
    return result


def _auc(scores: torch.Tensor, labels: torch.Tensor, task: str, weights: torch.Tensor) -> torch.Tensor:
    problem_scores, positives = _binary_problems(scores, labels, task)
    return _nanmean(_weighted_auc(problem_scores, positives, weights), dim=1)


def _predictions(scores: torch.Tensor, labels: torch.Tensor, task: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted and true positives bool (N, P) of the problems accuracy is taken over."""
    if task == "multi-label":
        return scores >= 0.5, labels > 0.5
    n_classes = scores.shape[1]
    classes = torch.arange(n_classes)
    return scores.argmax(1)[:, None] == classes, labels[:, None] == classes


def _accuracy(scores: torch.Tensor, labels: torch.Tensor, task: str, weights: torch.Tensor) -> torch.Tensor:
    predicted, true = _predictions(scores, labels, task)
    if task == "multi-label":
        correct = (predicted == true).double().mean(1)  # (N,) mean over labels
    else:
        correct = (predicted & true).any(1).double()  # (N,)
    return (weights @ correct) / weights.sum(1)


def _balanced_accuracy(scores: torch.Tensor, labels: torch.Tensor, task: str, weights: torch.Tensor) -> torch.Tensor:
    predicted, true = _predictions(scores, labels, task)
    hit, true = (predicted == true).double(), true.double()  # (N, P)
    recall = (weights @ (hit * true)) / (weights @ true)  # (B, P) NaN for absent classes
    if task != "multi-label":
        return _nanmean(recall, dim=1)  # mean recall over the classes present
    specificity = (weights @ (hit * (1 - true))) / (weights @ (1 - true))  # (B, L)
    return _nanmean(_nanmean(torch.stack([recall, specificity]), dim=0), dim=1)


_METRIC_FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {
    "auc": _auc, "acc": _accuracy, "balanced_acc": _balanced_accuracy,
}


def _score(metric: str, scores, labels, task: str) -> float:
    scores, labels = _as_tensors(scores, labels, task)
    ones = torch.ones(1, len(scores), dtype=torch.float64)
    return float(_METRIC_FUNCTIONS[metric](scores, labels, task, ones)[0])


def auc(scores, labels, task: str) -> float:
    """Area under the ROC curve, rank-based with ties counted one half (Mann-Whitney U).

    Binary: AUC of the class-1 score. Multi-class: macro one-vs-rest mean. Multi-label: mean over
    labels. Classes or labels without both positives and negatives are left out of the mean; NaN
    when none has both.
    """
    return _score("auc", scores, labels, task)


def accuracy(scores, labels, task: str) -> float:
    """Fraction of correct arg-max predictions (multi-label: of correct labels at a 0.5 threshold)."""
    return _score("acc", scores, labels, task)


def balanced_accuracy(scores, labels, task: str) -> float:
    """Mean recall over the classes present in ``labels``; multi-label: mean over labels of the
    mean of sensitivity and specificity at a 0.5 threshold."""
    return _score("balanced_acc", scores, labels, task)


def auc_under_weights(scores, labels, task: str, weights: torch.Tensor) -> torch.Tensor:
    """The AUC of ``scores`` under each row of sample ``weights`` (B, N) (bootstrap counts, or ones):
    (B,) values, NaN where a weighting leaves no problem with both positives and negatives."""
    scores, labels = _as_tensors(scores, labels, task)
    return _auc(scores, labels, task, weights.double())


def bootstrap_weights(n: int, n_resamples: int, generator: torch.Generator) -> torch.Tensor:
    """Draw counts (n_resamples, n) of ``n_resamples`` resamples of n samples with replacement."""
    draws = torch.randint(n, (n_resamples, n), generator=generator)  # (B, N) sample indices
    return torch.zeros(n_resamples, n, dtype=torch.float64).scatter_add_(
        1, draws, torch.ones(n_resamples, n, dtype=torch.float64))


def bootstrap_ci(
    scores,
    labels,
    task: str,
    *,
    metric: str = "auc",
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of a metric over resamples of the samples.

    Efron & Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13. Resamples where the metric
    is undefined (e.g. one class only) are left out.

    Args:
        scores, labels, task: as for the metric.
        metric: ``auc``, ``acc`` or ``balanced_acc``.
        n_resamples: number of resamples drawn with replacement.
        confidence: coverage of the interval, in (0, 1).
        seed: seeds the resampling, so an interval is reproducible.

    Returns:
        (low, high); (NaN, NaN) when no resample defines the metric.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    scores, labels = _as_tensors(scores, labels, task)
    n = len(scores)
    generator = torch.Generator().manual_seed(seed)
    values = []
    for start in range(0, n_resamples, _BOOTSTRAP_CHUNK):
        counts = bootstrap_weights(n, min(_BOOTSTRAP_CHUNK, n_resamples - start), generator)  # (b, N)
        values.append(_METRIC_FUNCTIONS[metric](scores, labels, task, counts))
    values = torch.cat(values)
    values = values[~torch.isnan(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2
    low, high = torch.quantile(values, torch.tensor([tail, 1 - tail], dtype=torch.float64))
    return float(low), float(high)
