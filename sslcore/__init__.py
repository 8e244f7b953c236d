"""sslcore: the engine of MedSSL Explorer.

Self-supervised learning for medical image classification: datasets, on-device augmentations,
backbones, SSL methods, training, evaluation, a run store, and the study catalogue of the
systematic reviews. It never imports streamlit; the app's pages only call it.
"""

__version__ = "0.1.0"
