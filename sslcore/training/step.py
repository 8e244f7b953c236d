"""The one optimisation step of the project: pretraining, the throughput benchmark, the Lab's
duration estimate and the Learn page's small models all train through :class:`Trainer`.

On CUDA the step runs the forward pass under bfloat16 autocast with channels-last tensors; the
loss is computed by the method in float32 (``sslcore.methods``), so the CPU and the GPU optimise
the same objective.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Callable

import torch
from torch import nn

from sslcore import distributed


def lr_at(step: int, total_steps: int, warmup_steps: int, peak_lr: float) -> float:
    """Linear warm-up to ``peak_lr`` then cosine decay to zero."""
    if warmup_steps > 0 and step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * peak_lr * (1.0 + math.cos(math.pi * min(1.0, progress)))


class Trainer:
    """A method, its AdamW optimiser and the device they run on.

    Args:
        method: an ``SSLMethod`` (anything with ``training_step(batch, augment_fn)`` and
            ``on_step_end(progress)``); moved to ``device`` (channels-last on CUDA).
        device: where the step runs.
        lr: initial learning rate (a schedule changes it through :meth:`step`).
        weight_decay: AdamW's decoupled weight decay.
        distributed_data_parallel: wrap the method in DDP when the process is one of several
            ranks (``torchrun``); the loop sets it, single-process users leave it.
    """

    def __init__(self, method: nn.Module, device: torch.device, *, lr: float, weight_decay: float = 0.0,
                 distributed_data_parallel: bool = False) -> None:
        if lr <= 0 or weight_decay < 0:
            raise ValueError(f"lr must be positive and weight_decay >= 0, got {lr} and {weight_decay}")
        self.device = torch.device(device)
        self.on_cuda = self.device.type == "cuda"
        self.method = method.to(self.device)
        if self.on_cuda:
            self.method.to(memory_format=torch.channels_last)
        self._forward = (distributed.wrap(self.method, self.device) if distributed_data_parallel
                         else self.method.training_step)
        parameters = [p for p in self.method.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)

    def views(self, augment_config, generator: torch.Generator) -> Callable[[torch.Tensor], torch.Tensor]:
        """The ``augment_fn`` a method calls on uint8 images: augmented, normalised views in the
        layout the device prefers. ``generator`` (CPU) draws the augmentation parameters."""
        from sslcore.augment import augment, normalize

        def augment_fn(images: torch.Tensor) -> torch.Tensor:
            views = normalize(augment(images, augment_config, generator))
            return views.contiguous(memory_format=torch.channels_last) if self.on_cuda else views

        return augment_fn

    def step(self, batch, augment_fn: Callable[[torch.Tensor], torch.Tensor], *, progress: float,
             lr: float | None = None) -> torch.Tensor:
        """One optimisation step on ``batch``.

        Args:
            batch: a ``sslcore.methods.Batch`` on the device.
            augment_fn: uint8 images -> model input (see :meth:`views`).
            progress: fraction of training done after this step, in [0, 1] (momentum schedules).
            lr: the learning rate for this step; unchanged when None.

        Returns:
            The loss, detached, on the device (reading it synchronises a GPU: do it when needed).
        """
        if lr is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=self.on_cuda):
            loss = self._forward(batch, augment_fn)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.method.on_step_end(progress)
        return loss.detach()


def timed_steps(step: Callable[[], object], n_warmup: int, n_steps: int, sync: Callable[[], None], *,
                median: bool = False) -> float:
    """Seconds per call of ``step()`` after ``n_warmup`` calls, synchronising the device around the clock:
    the mean over ``n_steps`` calls, or with ``median`` the median of the calls timed one by one (a
    few calls slowed by another process then do not move it)."""
    if n_warmup < 0 or n_steps < 1:
        raise ValueError(f"need n_warmup >= 0 and n_steps >= 1, got {n_warmup} and {n_steps}")
    for _ in range(n_warmup):
        step()
    sync()
    if median:
        seconds = []
        for _ in range(n_steps):
            started = time.perf_counter()
            step()
            sync()
            seconds.append(time.perf_counter() - started)
        return statistics.median(seconds)
    started = time.perf_counter()
    for _ in range(n_steps):
        step()
    sync()
    return (time.perf_counter() - started) / n_steps
