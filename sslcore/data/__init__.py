"""Datasets held as uint8 tensors per split: synthetic chest X-rays, MedMNIST ``.npz``, image folders.

The names are imported on first use, so that ``sslcore.data.cli`` registers its commands without
importing torch (``python -m sslcore --help`` stays fast).
"""

import importlib

_EXPORTS = {
    "ImageDataset": "sslcore.data.base",
    "Split": "sslcore.data.base",
    "patient_partners": "sslcore.data.base",
    "load_dataset": "sslcore.data.registry",
    "list_datasets": "sslcore.data.registry",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sslcore.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
