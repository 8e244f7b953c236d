"""Evaluation: frozen features, linear / kNN / fine-tune protocols, metrics, the label-efficiency
sweep with its baselines, and 2-D embeddings of features."""

from sslcore.evaluate.features import extract_features
from sslcore.evaluate.metrics import accuracy, auc, balanced_accuracy, bootstrap_ci
from sslcore.evaluate.probes import FinetuneConfig, ProbeResult, finetune, knn_accuracy, knn_probe, linear_probe
from sslcore.evaluate.sweep import Point, label_efficiency_sweep, labelled_subset, summarise

__all__ = [
    "FinetuneConfig", "Point", "ProbeResult", "accuracy", "auc", "balanced_accuracy", "bootstrap_ci",
    "extract_features", "finetune", "knn_accuracy", "knn_probe", "label_efficiency_sweep", "labelled_subset",
    "linear_probe", "summarise",
]
