"""Datasets a user uploads through the Lab: checked, then kept in the user's dataset cache.

Each upload is saved under a name that ends with a digest of its content, so a later upload never
replaces the file an earlier run read (the same bytes get the same name, different bytes another).
In classroom mode each browser session (``owner``) has a folder of its own and sees only its own
uploads; :func:`remove_old_uploads` deletes what nobody has uploaded again for a while.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
from pathlib import Path
from typing import Iterable

UPLOAD_LIMIT_MB = 200
MEDMNIST_KEYS = ("train_images", "train_labels", "val_images", "val_labels", "test_images", "test_labels")
DIGEST_CHARS = 12  # of the sha256 in the file name: 48 bits, no collision among a class's uploads
_OWNER = re.compile(r"[A-Za-z0-9_-]{8,64}")


def uploads_dir(owner: str | None = None) -> Path:
    """Where uploaded datasets are kept: ``data_home()/datasets/uploads``, and a folder per owner in it.

    Raises:
        ValueError: ``owner`` is not a session token (8 to 64 letters, digits, ``_`` or ``-``).
    """
    from sslcore.paths import data_home

    base = data_home() / "datasets" / "uploads"
    if owner is None:
        return base
    if not isinstance(owner, str) or not _OWNER.fullmatch(owner):
        raise ValueError(f"owner must be a session token of 8 to 64 letters, digits, '_' or '-', got {owner!r}")
    return base / owner


def save_upload(filename: str, data: bytes, limit_mb: int = UPLOAD_LIMIT_MB, *, owner: str | None = None) -> Path:
    """Check an uploaded MedMNIST-layout ``.npz`` and save it atomically into the dataset cache.

    Args:
        filename: the name it was uploaded under (only its stem is kept, made safe).
        data: its bytes.
        limit_mb: the largest upload accepted.
        owner: the session it belongs to (classroom mode); None for the machine's user.

    Returns:
        Its path, ``uploads_dir(owner)/<stem>-<digest>.npz``, which ``load_dataset`` accepts. Saving
        the same bytes again returns the same path (and counts as a fresh upload for the clean-up).

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
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(filename).stem).strip("_")[:60] or "upload"
    path = uploads_dir(owner) / f"{stem}-{hashlib.sha256(data).hexdigest()[:DIGEST_CHARS]}.npz"
    if path.exists():  # these very bytes, uploaded before: keep the file, renew its age
        os.utime(path)
        return path
    return atomic_write_bytes(path, data)


def uploaded_datasets(owner: str | None = None) -> list[Path]:
    """The ``.npz`` files uploaded earlier (by ``owner`` when given), by name."""
    return sorted(uploads_dir(owner).glob("*.npz"))


def remove_old_uploads(max_age_seconds: float, *, keep: Iterable[str | Path] = (), now: float | None = None
                       ) -> list[Path]:
    """Delete uploads (everyone's) not uploaded again for ``max_age_seconds``, except those in ``keep``
    (the datasets of queued and running runs), and the session folders this leaves empty.

    Returns:
        The files deleted.
    """
    if not max_age_seconds > 0:
        raise ValueError(f"max_age_seconds must be positive, got {max_age_seconds}")
    base = uploads_dir()
    if not base.is_dir():
        return []
    kept = {Path(path).resolve() for path in keep}
    cutoff = (time.time() if now is None else now) - max_age_seconds
    removed = []
    for path in [*base.glob("*.npz"), *base.glob("*/*.npz")]:
        try:
            if path.stat().st_mtime < cutoff and path.resolve() not in kept:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # another session's clean-up was first
            continue
    for folder in base.iterdir():
        if folder.is_dir() and _OWNER.fullmatch(folder.name):
            try:
                folder.rmdir()  # only when empty
            except OSError:
                pass
    return removed
