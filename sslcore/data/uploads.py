"""Datasets a user uploads through the Lab: checked, then kept in the user's dataset cache."""

from __future__ import annotations

import io
import re
from pathlib import Path

UPLOAD_LIMIT_MB = 200
MEDMNIST_KEYS = ("train_images", "train_labels", "val_images", "val_labels", "test_images", "test_labels")


def uploads_dir() -> Path:
    """Where uploaded datasets are kept: ``data_home()/datasets/uploads``."""
    from sslcore.paths import data_home

    return data_home() / "datasets" / "uploads"


def save_upload(filename: str, data: bytes, limit_mb: int = UPLOAD_LIMIT_MB) -> Path:
    """Check an uploaded MedMNIST-layout ``.npz`` and save it atomically into the dataset cache.

    Returns:
        Its path, ``uploads_dir()/<name>.npz``, which ``load_dataset`` accepts.

    Raises:
        ValueError: not an ``.npz``, over ``limit_mb``, unreadable, or missing MedMNIST arrays.
    """
    import numpy as np

    from sslcore.io import atomic_write_bytes

    if not filename.lower().endswith(".npz"):
        raise ValueError(f"{filename!r} is not an .npz file; upload a MedMNIST-style .npz")
    if len(data) > limit_mb * 1024 * 1024:
        raise ValueError(f"{filename!r} is {len(data) / 1024 ** 2:.0f} MB, over the {limit_mb} MB limit")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            missing = [key for key in MEDMNIST_KEYS if key not in archive.files]
    except Exception as error:  # zipfile, numpy and pickle errors all mean a corrupt upload
        raise ValueError(f"{filename!r} could not be read as an .npz ({error})") from None
    if missing:
        raise ValueError(f"{filename!r} lacks the MedMNIST arrays {', '.join(missing)}")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(filename).stem).strip("_") or "upload"
    return atomic_write_bytes(uploads_dir() / f"{stem}.npz", data)


def uploaded_datasets() -> list[Path]:
    """The ``.npz`` files uploaded earlier, by name."""
    return sorted(uploads_dir().glob("*.npz"))
