"""How long a run will take on this machine: a few real optimisation steps, timed, then scaled."""

from __future__ import annotations

import functools
from typing import Any

TIMING_BATCH = 64
TIMED_STEPS = 3


def format_duration(seconds: float) -> str:
    """``42`` -> ``"42 s"``, ``150`` -> ``"2.5 min"``, ``7200`` -> ``"2.0 h"``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


@functools.lru_cache(maxsize=32)
def measured_images_per_second(method: str, backbone: str, image_size: int, channels: int, n_classes: int,
                               task: str, batch_size: int, device: str = "auto") -> tuple[float, str]:
    """Pretraining images/s of this method and backbone on this machine, and the device used.

    Times a few steps of the one optimisation step (``sslcore.training.Trainer``, augmentation
    included) on random images, after one warm-up step, with at most ``TIMING_BATCH`` images per
    step. Cached per set of arguments.
    """
    import torch

    from sslcore.augment import AugmentConfig
    from sslcore.methods import Batch
    from sslcore.training import PretrainConfig, Trainer, build_model, resolve_device, timed_steps
    from sslcore.training.devices import synchronizer

    torch_device = resolve_device(device)
    config = PretrainConfig(method=method, backbone=backbone, image_size=image_size, batch_size=batch_size)
    model = build_model(config, channels=channels, n_classes=n_classes, task=task)
    trainer = Trainer(model, torch_device, lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    n = min(batch_size, TIMING_BATCH)
    images = torch.randint(0, 256, (n, channels, image_size, image_size), dtype=torch.uint8, generator=generator)
    labels = (torch.randint(0, 2, (n, n_classes), generator=generator).float() if task == "multi-label"
              else torch.randint(0, n_classes, (n,), generator=generator))
    batch = Batch(images=images.to(torch_device), labels=labels.to(torch_device) if model.needs_labels else None,
                  partner_images=images.flip(0).to(torch_device) if model.needs_partner else None)
    augment_fn = trainer.views(AugmentConfig.preset("radiograph"), generator)
    seconds_per_step = timed_steps(lambda: trainer.step(batch, augment_fn, progress=0.5), 1, TIMED_STEPS,
                                   synchronizer(torch_device))
    return n / seconds_per_step, str(torch_device)


def estimate_pretraining(config, dataset) -> dict[str, Any]:
    """How long pretraining ``config`` (a ``PretrainConfig``) on ``dataset`` should take here.

    Returns:
        ``device``, ``images_per_second`` (measured, see :func:`measured_images_per_second`),
        ``images`` (images seen over all epochs) and ``seconds``.
    """
    n_train = len(dataset.splits["train"].labels)
    n_train = min(config.max_train_images or n_train, n_train)
    images = n_train // config.batch_size * config.batch_size * config.epochs
    rate, device = measured_images_per_second(config.method, config.backbone, config.image_size, dataset.channels,
                                              dataset.n_classes, dataset.task, config.batch_size, config.device)
    return {"device": device, "images_per_second": rate, "images": images, "seconds": images / rate}
