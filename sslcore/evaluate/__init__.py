"""Evaluation: frozen features, linear / kNN / fine-tune protocols, metrics, the label-efficiency
sweep with its baselines, reports of runs (seed summaries, curves) and 2-D embeddings of features.

Names are imported on first use, so that the vocabulary (``sslcore.evaluate.vocabulary``) can be
read without importing torch.
"""

from sslcore import lazy_exports

_EXPORTS = {
    "extract_features": "sslcore.evaluate.features",
    "accuracy": "sslcore.evaluate.metrics",
    "auc": "sslcore.evaluate.metrics",
    "balanced_accuracy": "sslcore.evaluate.metrics",
    "bootstrap_ci": "sslcore.evaluate.metrics",
    "FinetuneConfig": "sslcore.evaluate.probes",
    "ProbeResult": "sslcore.evaluate.probes",
    "finetune": "sslcore.evaluate.probes",
    "knn_accuracy": "sslcore.evaluate.probes",
    "knn_probe": "sslcore.evaluate.probes",
    "linear_probe": "sslcore.evaluate.probes",
    "Point": "sslcore.evaluate.sweep",
    "label_efficiency_sweep": "sslcore.evaluate.sweep",
    "labelled_subset": "sslcore.evaluate.sweep",
    "summarise": "sslcore.evaluate.report",
}
__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
