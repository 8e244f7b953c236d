"""The in-memory dataset every loader returns, and the checks every loader shares.

A dataset is held as one uint8 tensor per split, so training indexes batches out of it on the
device with no per-image Python.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

SPLIT_NAMES = ("train", "val", "test")
TASKS = ("binary", "multi-class", "multi-label")
# A loader refuses a dataset whose images would take more than this share of the machine's physical
# memory (they are held whole, and training copies batches out of them), and never more than
# MAX_DATASET_BYTES, so that one file or folder cannot take a shared server's memory.
MEMORY_FRACTION = 0.5
MAX_DATASET_BYTES = 32 * 2**30


def dataset_byte_limit() -> int:
    """How many bytes one dataset's arrays may take: MEMORY_FRACTION of physical memory, at most
    MAX_DATASET_BYTES."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (not POSIX): only the cap applies
        return MAX_DATASET_BYTES
    return min(MAX_DATASET_BYTES, int(physical * MEMORY_FRACTION))


def format_bytes(n_bytes: int) -> str:
    """``n_bytes`` for a message: "3.2 GB", "108.0 MB", "9.4 kB", "12 bytes"."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:,.1f} {unit}"
    return f"{n_bytes} bytes"


def limit_explained() -> str:
    """The dataset memory limit and where it comes from, for a message."""
    return (f"{format_bytes(dataset_byte_limit())} ({MEMORY_FRACTION:.0%} of this machine's memory, "
            f"at most {format_bytes(MAX_DATASET_BYTES)})")


@dataclass
class Split:
    """One split of a dataset.

    Attributes:
        images: uint8 (N, C, H, W), C in {1, 3}.
        labels: int64 (N,) for binary / multi-class; float32 (N, L) in {0, 1} for multi-label.
        patient_ids: int64 (N,), one id per image (the image index when patients are unknown).
    """

    images: torch.Tensor
    labels: torch.Tensor
    patient_ids: torch.Tensor

    def __len__(self) -> int:
        return self.images.shape[0]

    def to(self, device: torch.device | str) -> "Split":
        return Split(self.images.to(device), self.labels.to(device), self.patient_ids.to(device))

    def subset(self, index: torch.Tensor) -> "Split":
        """The images at ``index`` (a LongTensor or a boolean mask), with their labels and ids."""
        return Split(self.images[index], self.labels[index], self.patient_ids[index])

    def class_counts(self, n_classes: int) -> list[int]:
        """Images per class (multi-label: images carrying each label)."""
        if self.labels.ndim == 2:
            return [int(c) for c in self.labels.sum(0).round().long().tolist()]
        return torch.bincount(self.labels.cpu(), minlength=n_classes).tolist()


@dataclass
class ImageDataset:
    """A labelled image dataset with train / val / test splits.

    Attributes:
        name: "synthetic", "pneumoniamnist", a folder name ...
        task: "binary" | "multi-class" | "multi-label".
        label_names: one name per class (per label for multi-label).
        splits: "train", "val", "test" -> ``Split``.
        licence: the data's licence, as its source states it.
        description: one paragraph on where the images come from.
        synthetic: True for procedurally generated data.
    """

    name: str
    task: str
    label_names: list[str]
    splits: dict[str, Split]
    licence: str
    description: str
    synthetic: bool

    @property
    def channels(self) -> int:
        return self.splits["train"].images.shape[1]

    @property
    def image_size(self) -> int:
        return self.splits["train"].images.shape[-1]

    @property
    def n_classes(self) -> int:
        return len(self.label_names)

    def to(self, device: torch.device | str) -> "ImageDataset":
        return replace(self, splits={name: split.to(device) for name, split in self.splits.items()})

    def test_fingerprint(self) -> str:
        """sha256 of the test split's images and labels (with their shapes and types): two runs whose
        fingerprints differ were not scored on the same test set and must not be compared as if they were."""
        import hashlib

        test = self.splits["test"]
        digest = hashlib.sha256()
        for tensor in (test.images, test.labels):
            array = tensor.detach().cpu().contiguous().numpy()
            digest.update(f"{array.dtype}{array.shape}".encode())
            digest.update(array.tobytes())
        return digest.hexdigest()

    def has_multi_image_patients(self) -> bool:
        """Whether some patient of the training split has two or more images (what MICLe pairs)."""
        ids = self.splits["train"].patient_ids
        return len(ids) > 0 and int(ids.unique().numel()) < len(ids)

    def summary(self) -> dict:
        """Sizes and class counts per split, for display (``datasets describe``, the app)."""
        return {
            "name": self.name,
            "task": self.task,
            "synthetic": self.synthetic,
            "licence": self.licence,
            "channels": self.channels,
            "image_size": self.image_size,
            "label_names": list(self.label_names),
            "splits": {
                name: {
                    "images": len(split),
                    "patients": int(split.patient_ids.unique().numel()),
                    "class_counts": split.class_counts(self.n_classes),
                }
                for name, split in self.splits.items()
            },
            "description": self.description,
        }


def patient_partners(patient_ids: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """For each image, the index of another image of the same patient, chosen at random.

    An image whose patient has no other image is its own partner. Used by MICLe
    (Azizi et al., 2021, "Big Self-Supervised Models Advance Medical Image Classification",
    https://arxiv.org/abs/2101.05224) to make positive pairs from two views of one patient.

    Args:
        patient_ids: int64 (N,), on any device.
        generator: a CPU generator for the random choice.

    Returns:
        LongTensor (N,) on the device of ``patient_ids``.
    """
    ids = patient_ids.detach().cpu()
    n = ids.numel()
    if n == 0:
        return torch.empty(0, dtype=torch.long, device=patient_ids.device)
    order = torch.argsort(ids, stable=True)  # images grouped by patient
    sorted_ids = ids[order]
    _, counts = torch.unique_consecutive(sorted_ids, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    group_start = torch.repeat_interleave(starts, counts)  # (N,) in sorted order
    group_size = torch.repeat_interleave(counts, counts)
    rank = torch.arange(n) - group_start  # position of each image within its patient's group
    # One of the other (size - 1) images: an offset in [1, size - 1] added modulo size
    # (a single-image patient gets offset 1 modulo 1, i.e. itself).
    u = torch.rand(n, generator=generator)
    offset = 1 + torch.minimum((u * (group_size - 1)).long(), (group_size - 2).clamp(min=0))
    partner_sorted = group_start + (rank + offset) % group_size
    partners = torch.empty(n, dtype=torch.long)
    partners[order] = order[partner_sorted]
    return partners.to(patient_ids.device)


def split_by_patient(
    patient_ids: np.ndarray, fractions: tuple[float, float, float], seed: int
) -> dict[str, np.ndarray]:
    """Indices of a seeded train / val / test split in which every patient lies in one split.

    Args:
        patient_ids: (N,) integer patient id per image.
        fractions: share of patients for train, val and test (summing to 1).
        seed: seeds the shuffle of patients.

    Returns:
        "train", "val", "test" -> sorted int64 index arrays.
    """
    patients = np.unique(patient_ids)
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(patients)
    n_train = int(round(fractions[0] * len(patients)))
    n_val = int(round(fractions[1] * len(patients)))
    groups = {
        "train": shuffled[:n_train],
        "val": shuffled[n_train:n_train + n_val],
        "test": shuffled[n_train + n_val:],
    }
    return {name: np.flatnonzero(np.isin(patient_ids, group)) for name, group in groups.items()}


def make_split(images: np.ndarray, labels: np.ndarray, patient_ids: np.ndarray | None, source: str) -> Split:
    """Validate arrays read from ``source`` and hold them as a ``Split``.

    Args:
        images: uint8-convertible (N, H, W), (N, H, W, C) or (N, C, H, W) with C in {1, 3}.
        labels: (N,), (N, 1) class indices, or (N, L) multi-label 0/1.
        patient_ids: (N,) or None (then each image is its own patient).
        source: names the file or folder in error messages.
    """
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4 and images.shape[-1] in (1, 3) and images.shape[1] not in (1, 3):
        images = images.transpose(0, 3, 1, 2)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"{source}: images must be (N, H, W) or (N, H, W, 1|3), got shape {images.shape}")
    if len(labels) != len(images):
        raise ValueError(f"{source}: {len(images)} images but {len(labels)} labels")
    if images.dtype != np.uint8:
        if images.min() < 0 or images.max() > 255:
            raise ValueError(f"{source}: image values must lie in 0..255")
        images = images.astype(np.uint8)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim == 1:
        label_tensor = torch.from_numpy(labels.astype(np.int64))
    elif labels.ndim == 2:
        label_tensor = torch.from_numpy(labels.astype(np.float32))
    else:
        raise ValueError(f"{source}: labels must be (N,), (N, 1) or (N, L), got shape {labels.shape}")
    ids = np.arange(len(images)) if patient_ids is None else np.asarray(patient_ids)
    return Split(torch.from_numpy(np.ascontiguousarray(images)), label_tensor, torch.from_numpy(ids.astype(np.int64)))


def check_path_exists(path: Path, what: str) -> None:
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path}")
