"""Decision rules: how class scores become predictions for the threshold metrics (accuracy and
balanced accuracy), chosen on the validation split.

A classifier trained where one class dominates (the shared PneumoniaMNIST training split is 90%
pneumonia, its test split 62.5%) can rank images well (high AUC) and still put every test image on
the same side of 0.5. Every protocol therefore picks its decision rule on validation, like its other
settings, and applies it unchanged to the test split:

- binary and multi-label: the threshold on each positive score that maximises the balanced accuracy
  (Youden's J; Youden, 1950, "Index for rating diagnostic tests", Cancer 3:32-35) on validation;
- multi-class: the arg-max of the probabilities divided by the model's mean predicted probability of
  each class on validation (its effective prior), so that no class wins by prevalence alone
  (Saerens et al., 2002, "Adjusting the outputs of a classifier to new a priori probabilities",
  Neural Computation 14:21-41).

The AUC does not depend on the rule (each transform is monotone per class).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sslcore.data.base import TASKS


@dataclass(frozen=True)
class DecisionRule:
    """A rule chosen on validation; :meth:`apply` returns scores whose arg-max (binary, multi-class)
    or 0.5 threshold (multi-label) gives the rule's predictions.

    Attributes:
        task: ``binary``, ``multi-class`` or ``multi-label``.
        thresholds: binary: the threshold of the class-1 probability; multi-label: one per label.
        priors: multi-class: each class's mean predicted probability on validation.
    """

    task: str
    thresholds: tuple[float, ...] = ()
    priors: tuple[float, ...] = ()

    def apply(self, scores: torch.Tensor) -> torch.Tensor:
        """Scores (N, K) -> decision scores (N, K) for arg-max (or 0.5 for multi-label)."""
        scores = scores.double()
        if self.task == "multi-class":
            return scores / torch.tensor(self.priors, dtype=torch.float64).clamp_min(1e-12)
        shift = 0.5 - torch.tensor(self.thresholds, dtype=torch.float64)  # (1,) or (L,)
        if self.task == "multi-label":
            return (scores + shift).clamp(0, 1)
        positive = (scores[:, 1] + shift).clamp(0, 1)  # (N,)
        return torch.stack([1 - positive, positive], dim=1)


def _best_threshold(scores: torch.Tensor, positives: torch.Tensor) -> float:
    """The threshold on ``scores`` (N,) that maximises (sensitivity + specificity) / 2; 0.5 when
    only one class is present. Among equally good thresholds, the middle of the best range."""
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    order = torch.argsort(scores, descending=True)
    sorted_scores, sorted_pos = scores[order], positives[order].double()
    # Predicting positive for the top i images: sensitivity and specificity for each i in 0..N.
    true_pos = torch.cat([torch.zeros(1, dtype=torch.float64), sorted_pos.cumsum(0)])
    false_pos = torch.cat([torch.zeros(1, dtype=torch.float64), (1 - sorted_pos).cumsum(0)])
    balanced = (true_pos / n_pos + (1 - false_pos / n_neg)) / 2  # (N + 1,)
    # A cut is only possible between distinct scores (or before the first / after the last).
    distinct = torch.ones(len(balanced), dtype=torch.bool)
    distinct[1:-1] = sorted_scores[:-1] != sorted_scores[1:]
    balanced = torch.where(distinct, balanced, torch.tensor(-1.0, dtype=torch.float64))
    best = torch.nonzero(balanced >= balanced.max() - 1e-12).flatten()
    cut = int(best[len(best) // 2])
    above = float(sorted_scores[cut - 1]) if cut > 0 else float(sorted_scores[0]) + 1e-6
    below = float(sorted_scores[cut]) if cut < len(sorted_scores) else float(sorted_scores[-1]) - 1e-6
    return (above + below) / 2


def choose_decision_rule(val_scores: torch.Tensor, val_labels: torch.Tensor, task: str) -> DecisionRule:
    """The decision rule for ``task`` chosen on validation scores (N, K) and labels.

    Raises:
        ValueError: an unknown task or scores and labels of different lengths.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    val_scores, val_labels = val_scores.detach().double().cpu(), val_labels.detach().cpu()
    if len(val_scores) != len(val_labels) or len(val_scores) == 0:
        raise ValueError(f"need one validation label per score row, got {len(val_scores)} and {len(val_labels)}")
    if task == "multi-class":
        return DecisionRule(task, priors=tuple(val_scores.mean(0).tolist()))
    if task == "binary":
        return DecisionRule(task, thresholds=(_best_threshold(val_scores[:, 1], val_labels == 1),))
    return DecisionRule(task, thresholds=tuple(_best_threshold(val_scores[:, j], val_labels[:, j] > 0.5)
                                               for j in range(val_scores.shape[1])))
