import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score

from sslcore.evaluate import metrics
from sslcore.evaluate.metrics import accuracy, auc, balanced_accuracy, bootstrap_ci


def _problem(task: str, n: int, k: int, seed: int, signal: float = 1.0):
    """Scores (N, K) with ties (rounded) that carry some signal about the labels."""
    rng = np.random.default_rng(seed)
    if task == "multi-label":
        labels = (rng.random((n, k)) < 0.4).astype(np.float32)
        scores = 1 / (1 + np.exp(-(signal * (2 * labels - 1) + rng.normal(size=(n, k)))))
        return np.round(scores, 1), labels
    labels = rng.integers(0, k, n)
    logits = np.round(signal * np.eye(k)[labels] + rng.normal(size=(n, k)), 1)  # rounded: tied scores
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True), labels


def _sklearn_auc(scores, labels, task):
    if task == "binary":
        return roc_auc_score(labels, scores[:, 1])
    if task == "multi-class":
        return roc_auc_score(labels, scores, multi_class="ovr", average="macro")
    return roc_auc_score(labels, scores, average="macro")


@pytest.mark.parametrize("n", [12, 57, 300])
@pytest.mark.parametrize("task,k", [("binary", 2), ("multi-class", 3), ("multi-class", 5), ("multi-label", 4)])
def test_auc_matches_sklearn_with_ties(task, k, n):
    scores, labels = _problem(task, n, k, seed=n + k)
    assert auc(scores, labels, task) == pytest.approx(_sklearn_auc(scores, labels, task), abs=1e-10)
    assert auc(torch.from_numpy(scores), torch.from_numpy(labels), task) == pytest.approx(
        _sklearn_auc(scores, labels, task), abs=1e-10)


def test_auc_of_perfect_reversed_and_constant_scores():
    labels = np.array([0, 0, 1, 1])
    perfect = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    assert auc(perfect, labels, "binary") == 1.0
    assert auc(perfect[:, ::-1], labels, "binary") == 0.0
    assert auc(np.full((4, 2), 0.5), labels, "binary") == 0.5


def test_multiclass_auc_leaves_out_classes_absent_from_the_labels():
    scores, labels = _problem("multi-class", 90, 4, seed=3)
    labels[labels == 2] = 0
    expected = np.mean([roc_auc_score(labels == c, scores[:, c]) for c in (0, 1, 3)])
    assert auc(scores, labels, "multi-class") == pytest.approx(expected, abs=1e-12)


def test_auc_is_nan_when_no_class_has_both_positives_and_negatives():
    assert math.isnan(auc(np.array([[0.2, 0.8], [0.6, 0.4]]), np.array([1, 1]), "binary"))
    multi_label = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert math.isnan(auc(np.random.default_rng(0).random((2, 2)), multi_label, "multi-label"))


@pytest.mark.parametrize("n", [10, 101])
@pytest.mark.parametrize("task,k", [("binary", 2), ("multi-class", 4)])
def test_accuracy_and_balanced_accuracy_match_sklearn(task, k, n):
    scores, labels = _problem(task, n, k, seed=n)
    predicted = scores.argmax(1)
    assert accuracy(scores, labels, task) == pytest.approx(accuracy_score(labels, predicted), abs=1e-12)
    with np.errstate(all="ignore"):
        expected = balanced_accuracy_score(labels, predicted)
    assert balanced_accuracy(scores, labels, task) == pytest.approx(expected, abs=1e-12)


def test_multilabel_accuracies_average_over_labels_at_half():
    scores, labels = _problem("multi-label", 80, 3, seed=5)
    predicted = scores >= 0.5
    assert accuracy(scores, labels, "multi-label") == pytest.approx((predicted == labels).mean(), abs=1e-12)
    expected = np.mean([balanced_accuracy_score(labels[:, j], predicted[:, j]) for j in range(3)])
    assert balanced_accuracy(scores, labels, "multi-label") == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("metric", metrics.METRICS)
@pytest.mark.parametrize("task,k", [("binary", 2), ("multi-class", 3), ("multi-label", 3)])
def test_weighted_metrics_equal_the_metric_on_resampled_data(task, k, metric):
    """A bootstrap resample is scored through draw counts; it must equal scoring the duplicated rows."""
    scores, labels = _problem(task, 40, k, seed=k)
    rng = np.random.default_rng(1)
    draws = [rng.integers(0, 40, 40) for _ in range(5)]
    counts = torch.tensor(np.stack([np.bincount(d, minlength=40) for d in draws]), dtype=torch.float64)
    s, y = metrics._as_tensors(scores, labels, task)
    weighted = metrics._METRIC_FUNCTIONS[metric](s, y, task, counts)
    public = {"auc": auc, "acc": accuracy, "balanced_acc": balanced_accuracy}[metric]
    for row, d in zip(weighted, draws):
        assert float(row) == pytest.approx(public(scores[d], labels[d], task), abs=1e-10, nan_ok=True)


@pytest.mark.parametrize("task,k", [("binary", 2), ("multi-class", 4), ("multi-label", 3)])
def test_bootstrap_ci_contains_the_estimate_and_is_reproducible(task, k):
    scores, labels = _problem(task, 150, k, seed=7)
    low, high = bootstrap_ci(scores, labels, task, n_resamples=300, seed=4)
    assert low < auc(scores, labels, task) < high
    assert (low, high) == bootstrap_ci(scores, labels, task, n_resamples=300, seed=4)
    assert (low, high) != bootstrap_ci(scores, labels, task, n_resamples=300, seed=5)
    narrow = bootstrap_ci(scores, labels, task, n_resamples=300, confidence=0.5, seed=4)
    assert low < narrow[0] < narrow[1] < high


def test_bootstrap_ci_matches_a_loop_over_resamples():
    scores, labels = _problem("binary", 60, 2, seed=2)
    low, high = bootstrap_ci(scores, labels, "binary", metric="acc", n_resamples=100, seed=0)
    draws = torch.randint(60, (100, 60), generator=torch.Generator().manual_seed(0)).numpy()
    values = [accuracy(scores[d], labels[d], "binary") for d in draws]
    assert (low, high) == pytest.approx(tuple(np.quantile(values, [0.025, 0.975])), abs=1e-12)


@pytest.mark.parametrize("kwargs", [{"metric": "f1"}, {"n_resamples": 0}, {"confidence": 1.0}])
def test_bootstrap_ci_rejects_bad_arguments(kwargs):
    scores, labels = _problem("binary", 10, 2, seed=0)
    with pytest.raises(ValueError):
        bootstrap_ci(scores, labels, "binary", **kwargs)


@pytest.mark.parametrize("scores,labels,task", [
    (np.zeros((4, 2)), np.zeros(4, dtype=int), "regression"),
    (np.zeros((4, 3)), np.zeros(4, dtype=int), "binary"),
    (np.zeros((4, 2)), np.zeros(3, dtype=int), "binary"),
    (np.zeros((4, 2)), np.full(4, 2), "multi-class"),
    (np.zeros(4), np.zeros(4, dtype=int), "binary"),
    (np.zeros((4, 2)), np.zeros((4, 3)), "multi-label"),
])
def test_metrics_reject_inconsistent_inputs(scores, labels, task):
    with pytest.raises(ValueError):
        auc(scores, labels, task)
