"""A few images of a dataset to look at: samples of each class, as displayable pixels."""

from __future__ import annotations


def samples_per_class(labels, per_class: int, seed: int = 0) -> dict[int, list[int]]:
    """Up to ``per_class`` random indices of each class (of each positive label, for multi-label)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    labels = labels if labels.ndim == 2 else torch.nn.functional.one_hot(labels.long()).bool()
    chosen = {}
    for class_index in range(labels.shape[1]):
        members = torch.nonzero(labels[:, class_index].bool()).flatten()
        order = torch.randperm(len(members), generator=generator)[:per_class]
        chosen[class_index] = members[order].tolist()
    return chosen


def displayable(images):
    """Images uint8 or float in [0, 1], shaped (N, C, H, W), as a numpy uint8 (N, H, W[, 3]) for display."""
    import torch

    images = torch.as_tensor(images)
    if images.dtype != torch.uint8:
        images = (images.float().clamp(0, 1) * 255).round().to(torch.uint8)
    images = images.cpu()
    return (images[:, 0] if images.shape[1] == 1 else images.permute(0, 2, 3, 1)).numpy()
