"""The words of evaluation, defined once and imported everywhere: protocols, baselines, label
fractions, seeds and metrics. Plain data, so the CLI reads it without importing torch."""

PROTOCOLS = ("linear", "knn", "finetune")
FROZEN_PROTOCOLS = ("linear", "knn")  # probes on frozen features (no weight of the backbone changes)
BASELINES = ("supervised", "random")
FRACTIONS = (0.01, 0.05, 0.1, 0.25, 1.0)  # the default label fractions of a sweep
FRACTION_CHOICES = (0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)  # what the Lab offers
SEEDS = (0, 1, 2)
METRIC_NAMES = {"auc": "AUC", "acc": "Accuracy", "balanced_acc": "Balanced accuracy"}
