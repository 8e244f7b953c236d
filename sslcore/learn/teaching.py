"""The images the Learn page shows, and how to pick from them: the synthetic radiographs drawn with
:data:`TEACHING_SEED` (never trained on), their classes and their same-patient pairs."""

from __future__ import annotations

import torch

# The page's pictures come from a fresh draw of the synthetic set that no shipped model trained on.
TEACHING_SEED = 7
TEACHING_IMAGES = 600


def teaching_dataset(image_size: int = 64):
    """The images the page shows: synthetic radiographs drawn with :data:`TEACHING_SEED`.

    Args:
        image_size: 28, 32, 64 or 128 px. The same seed gives the same patients, labels and views at
            every size, so one index names one image across sizes.
    """
    from sslcore.data import load_dataset

    return load_dataset("synthetic", image_size=image_size, seed=TEACHING_SEED, n_images=TEACHING_IMAGES)


def class_members(labels: torch.Tensor, class_index: int) -> torch.Tensor:
    """Indices (long) of the images of one class, in dataset order.

    Args:
        labels: int64 (N,) class indices (binary or multi-class datasets).
        class_index: the class.
    """
    if labels.ndim != 1:
        raise ValueError(f"class_members needs one class per image (labels of shape (N,)), got {tuple(labels.shape)}")
    return torch.nonzero(labels == class_index).flatten()


def same_patient_pairs(patient_ids: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """Pairs of different images of one patient: MICLe's positive pairs.

    Azizi et al. (2021), "Big Self-Supervised Models Advance Medical Image Classification", ICCV,
    arXiv:2101.05224.

    Args:
        patient_ids: int64 (N,), the patient of each image.
        n: how many pairs at most; each pair is from a different patient.
        seed: which patients and which of their images.

    Returns:
        long (P, 2) image indices with P = min(n, patients with two or more images).
    """
    from sslcore.data import patient_partners

    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    generator = torch.Generator().manual_seed(seed)
    partners = patient_partners(patient_ids, generator).cpu()  # (N,)
    ids = patient_ids.cpu()
    candidates = torch.nonzero(partners != torch.arange(len(ids))).flatten()
    candidates = candidates[torch.randperm(len(candidates), generator=generator)]
    # Keep the first candidate of each patient, so that no patient gives two pairs.
    _, group = torch.unique(ids[candidates], return_inverse=True)
    first = torch.full((int(group.max()) + 1 if len(group) else 0,), len(candidates), dtype=torch.long)
    first = first.scatter_reduce(0, group, torch.arange(len(candidates)), reduce="amin")
    chosen = candidates[first.sort().values][:n]
    return torch.stack([chosen, partners[chosen]], dim=1)


def other_images_of_patient(patient_ids: torch.Tensor, index: int) -> torch.Tensor:
    """Indices (long) of the other images of the patient of image ``index``; empty for a single image."""
    if not 0 <= index < len(patient_ids):
        raise ValueError(f"index must be in [0, {len(patient_ids)}), got {index}")
    same = patient_ids.cpu() == patient_ids[index].cpu()
    same[index] = False
    return torch.nonzero(same).flatten()
