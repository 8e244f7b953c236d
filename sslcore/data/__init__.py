"""Datasets held as uint8 tensors per split: synthetic chest X-rays, MedMNIST ``.npz``, image folders.

The names are imported on first use, so that ``sslcore.data.cli`` registers its commands without
importing torch (``python -m sslcore --help`` stays fast).
"""

from sslcore import lazy_exports

_EXPORTS = {
    "ImageDataset": "sslcore.data.base",
    "Split": "sslcore.data.base",
    "patient_partners": "sslcore.data.base",
    "load_dataset": "sslcore.data.registry",
    "list_datasets": "sslcore.data.registry",
    "dataset_choices": "sslcore.data.registry",
}
__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
