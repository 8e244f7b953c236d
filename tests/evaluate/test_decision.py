import pytest
import torch

from sslcore.evaluate import metrics
from sslcore.evaluate.decision import choose_decision_rule


def binary_scores(p1: torch.Tensor) -> torch.Tensor:
    return torch.stack([1 - p1, p1], dim=1)


def test_a_good_ranker_below_one_half_gets_a_threshold_that_separates_the_classes():
    # Every score is below 0.5 (a model trained where the other class dominates) but ranks perfectly.
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    scores = binary_scores(torch.tensor([0.05, 0.10, 0.15, 0.30, 0.35, 0.40]))
    assert metrics.balanced_accuracy(scores, labels, "binary") == 0.5
    rule = choose_decision_rule(scores, labels, "binary")
    assert 0.15 < rule.thresholds[0] < 0.30
    assert metrics.balanced_accuracy(rule.apply(scores), labels, "binary") == 1.0
    assert metrics.auc(rule.apply(scores), labels, "binary") == metrics.auc(scores, labels, "binary")


def test_the_threshold_maximises_validation_balanced_accuracy_against_brute_force():
    generator = torch.Generator().manual_seed(0)
    labels = (torch.rand(200, generator=generator) < 0.2).long()
    p1 = (torch.rand(200, generator=generator) * 0.6 + 0.3 * labels).clamp(0, 1)
    rule = choose_decision_rule(binary_scores(p1), labels, "binary")
    best = max(metrics.balanced_accuracy(binary_scores((p1 >= t).double()), labels, "binary")
               for t in torch.linspace(0, 1, 2001).tolist())
    chosen = metrics.balanced_accuracy(rule.apply(binary_scores(p1)), labels, "binary")
    assert chosen == pytest.approx(best)


def test_multi_class_predictions_are_corrected_for_the_models_prior():
    # The model gives class 0 a head start on every image; dividing by its mean probability removes it.
    labels = torch.tensor([0, 1, 2] * 20)
    evidence = torch.nn.functional.one_hot(labels, 3).double() * 0.2
    scores = (evidence + torch.tensor([0.6, 0.1, 0.1])).softmax(1)
    assert metrics.balanced_accuracy(scores, labels, "multi-class") == pytest.approx(1 / 3)
    rule = choose_decision_rule(scores, labels, "multi-class")
    assert metrics.balanced_accuracy(rule.apply(scores), labels, "multi-class") == 1.0


def test_multi_label_thresholds_are_chosen_per_label():
    labels = torch.tensor([[0, 1], [0, 1], [1, 0], [1, 0]]).float()
    scores = torch.tensor([[0.1, 0.9], [0.2, 0.8], [0.3, 0.6], [0.4, 0.7]])
    rule = choose_decision_rule(scores, labels, "multi-label")
    assert len(rule.thresholds) == 2
    assert metrics.balanced_accuracy(rule.apply(scores), labels, "multi-label") == 1.0


def test_one_class_only_keeps_one_half_and_bad_input_is_refused():
    assert choose_decision_rule(binary_scores(torch.rand(5)), torch.zeros(5, dtype=torch.long), "binary").thresholds == (0.5,)
    with pytest.raises(ValueError, match="task"):
        choose_decision_rule(binary_scores(torch.rand(5)), torch.zeros(5), "regression")
    with pytest.raises(ValueError, match="one validation label"):
        choose_decision_rule(binary_scores(torch.rand(5)), torch.zeros(4), "binary")
