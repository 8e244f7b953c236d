"""Self-supervised pretraining: one loop for every method, on CUDA, MPS or the CPU.

The whole training split lives on the device as one uint8 tensor; a step indexes a batch from it,
augments it there (``sslcore.augment``) and calls the method's ``training_step``. No per-image
Python runs in the loop, so on a GPU the data path keeps up with the model.

Under ``torchrun`` the same loop runs on every rank with DDP (see ``sslcore.distributed``).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from sslcore import distributed
from sslcore.config import PretrainConfig
from sslcore.io import atomic_write

# Below this spread of the L2-normalised features (1 = spread evenly, 0 = every image maps to the
# same point) the representation has collapsed and training cannot recover.
COLLAPSE_THRESHOLD = 0.02
KNN_MONITOR_IMAGES = 2000
KNN_MONITOR_K = 20


class TrainingError(RuntimeError):
    """Training stopped because it can no longer make progress (NaN loss, collapse)."""


@dataclass
class Progress:
    """What the loop reports after every step (and, with ``knn_accuracy``, after every epoch)."""

    step: int
    total_steps: int
    epoch: int
    epochs: int
    loss: float
    lr: float
    images_per_second: float
    eta_seconds: float
    knn_accuracy: float | None = None
    collapse_score: float | None = None


@dataclass
class PretrainResult:
    """The trained model and what happened on the way."""

    method: nn.Module
    config: PretrainConfig
    device: str
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    images_per_second: float = 0.0
    stopped_early: bool = False

    @property
    def backbone(self) -> nn.Module:
        return self.method.backbone


def resolve_device(name: str = "auto") -> torch.device:
    """Pick ``cuda``, then ``mps``, then ``cpu`` for ``auto``; check a forced device exists."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", distributed.local_rank())
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available; use --device cpu or auto")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' was requested but Apple's MPS backend is not available")
    if name == "cuda":
        return torch.device("cuda", distributed.local_rank())
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def lr_at(step: int, total_steps: int, warmup_steps: int, peak_lr: float) -> float:
    """Linear warm-up to ``peak_lr`` then cosine decay to zero."""
    if warmup_steps > 0 and step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * peak_lr * (1.0 + math.cos(math.pi * min(1.0, progress)))


def method_hparams(config: PretrainConfig) -> dict[str, Any]:
    """The hyper-parameters ``build_method`` takes for this config's method."""
    from sslcore.methods import METHODS

    accepted = METHODS[config.method].hparams
    params = dict(config.method_params)
    if "temperature" in accepted:
        params.setdefault("temperature", config.temperature)
    return params


def build_model(config: PretrainConfig, *, channels: int, n_classes: int, task: str) -> nn.Module:
    """The method (with its backbone) a config describes, freshly initialised from its seed."""
    from sslcore.methods import METHODS, build_method
    from sslcore.models import build_backbone

    if config.method not in METHODS:
        raise ValueError(f"unknown method {config.method!r}; choose from {', '.join(METHODS)}")
    torch.manual_seed(config.seed)
    backbone = build_backbone(config.backbone, channels, config.image_size)
    return build_method(config.method, backbone, n_classes=n_classes, task=task, **method_hparams(config))


def load_for_config(config: PretrainConfig):
    """Load the dataset a config names, at its image size."""
    from sslcore.data import load_dataset

    return load_dataset(config.dataset, image_size=config.image_size, seed=config.seed,
                        **config.dataset_options)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Atomically save a training state: a crash mid-write leaves the previous checkpoint intact."""
    return atomic_write(path, lambda f: torch.save(state, f), mode="wb")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:
        raise ValueError(f"{path} is not a readable checkpoint ({error})") from None


def load_pretrained(path: str | Path, map_location: str | torch.device = "cpu") -> PretrainResult:
    """Rebuild a trained method from a checkpoint written by :func:`pretrain`."""
    state = load_checkpoint(path, map_location)
    config = PretrainConfig.from_dict(state["config"])
    meta = state["dataset"]
    method = build_model(config, channels=meta["channels"], n_classes=meta["n_classes"], task=meta["task"])
    method.load_state_dict(state["model"])
    return PretrainResult(method=method.eval(), config=config, device=str(map_location),
                          history=state.get("history", []))


def _collapse_and_knn(backbone: nn.Module, dataset, device: torch.device, knn: bool) -> tuple[float, float | None]:
    """Spread of the normalised validation features, and the online kNN accuracy on validation."""
    from sslcore.evaluate.features import extract_features
    from sslcore.evaluate.probes import knn_accuracy

    val = dataset.splits["val"]
    val_features = extract_features(backbone, val.images, device=device)
    normalised = torch.nn.functional.normalize(val_features, dim=1)
    collapse_score = float(normalised.std(dim=0).mean() * math.sqrt(normalised.shape[1]))
    if not knn or dataset.task == "multi-label":
        return collapse_score, None
    train = dataset.splits["train"]
    n = min(KNN_MONITOR_IMAGES, len(train.images))
    train_features = extract_features(backbone, train.images[:n], device=device)
    accuracy = knn_accuracy(train_features, train.labels[:n].cpu(), val_features, val.labels.cpu(),
                            k=KNN_MONITOR_K)
    return collapse_score, accuracy


def pretrain(
    config: PretrainConfig,
    *,
    dataset=None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    checkpoint_path: str | Path | None = None,
    resume: bool = False,
) -> PretrainResult:
    """Pretrain ``config.method`` on ``config.dataset``.

    Args:
        config: the run's configuration.
        dataset: an already loaded ``ImageDataset``; loaded from ``config.dataset`` when None.
        on_progress: called after every step with a :class:`Progress` (rank 0 only).
        should_stop: polled between steps; returning True ends the run early (cancel).
        checkpoint_path: written after every epoch (rank 0 only) with everything needed to resume.
        resume: continue from ``checkpoint_path`` when it exists.

    Returns:
        A :class:`PretrainResult`; ``stopped_early`` is True when ``should_stop`` ended it.

    Raises:
        TrainingError: the loss became NaN or infinite, or the representation collapsed.
    """
    from sslcore.augment import AugmentConfig, augment, normalize
    from sslcore.data import patient_partners
    from sslcore.methods import Batch

    started = time.perf_counter()
    seed_everything(config.seed)
    device = resolve_device(config.device)
    dataset = dataset if dataset is not None else load_for_config(config)
    train = dataset.splits["train"]
    n_train = min(config.max_train_images or len(train.images), len(train.images))
    if n_train < config.batch_size * distributed.world_size():
        raise ValueError(
            f"the training split has {n_train} images, fewer than one batch of "
            f"{config.batch_size} per process; lower --batch-size")
    images = train.images[:n_train].to(device)
    labels = train.labels[:n_train].to(device)
    patient_ids = train.patient_ids[:n_train]

    method = build_model(config, channels=dataset.channels, n_classes=dataset.n_classes, task=dataset.task)
    method.to(device)
    on_cuda = device.type == "cuda"
    if on_cuda:
        method.to(memory_format=torch.channels_last)
    step_module = distributed.wrap(method, device)

    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    augment_config = AugmentConfig.preset(config.augment, config.augment_strength)
    # Augmentation parameters come from a CPU generator so CPU and CUDA runs draw the same ones.
    generator = torch.Generator().manual_seed(config.seed + distributed.rank())
    order_generator = torch.Generator().manual_seed(config.seed)  # same order on every rank

    def augment_fn(images: torch.Tensor) -> torch.Tensor:
        views = normalize(augment(images, augment_config, generator))
        return views.contiguous(memory_format=torch.channels_last) if on_cuda else views

    world, rank = distributed.world_size(), distributed.rank()
    steps_per_epoch = n_train // (config.batch_size * world)
    total_steps = steps_per_epoch * config.epochs
    warmup_steps = int(config.warmup_epochs * steps_per_epoch)
    history: list[dict[str, Any]] = []
    start_epoch = 0
    if resume and checkpoint_path is not None and Path(checkpoint_path).exists():
        state = load_checkpoint(checkpoint_path, device)
        method.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        order_generator.set_state(state["order_generator"])
        history = state["history"]
        start_epoch = state["epoch"] + 1

    meta = {"channels": dataset.channels, "n_classes": dataset.n_classes, "task": dataset.task,
            "label_names": list(dataset.label_names), "name": dataset.name}
    step = start_epoch * steps_per_epoch
    images_seen, timed_seconds = 0, 0.0
    stopped_early = False
    for epoch in range(start_epoch, config.epochs):
        method.train()
        order = torch.randperm(n_train, generator=order_generator)
        partners = patient_partners(patient_ids, generator) if method.needs_partner else None
        for batch_index in range(steps_per_epoch):
            if should_stop is not None and should_stop():
                stopped_early = True
                break
            step_started = time.perf_counter()
            global_batch = order[batch_index * config.batch_size * world:(batch_index + 1) * config.batch_size * world]
            index = global_batch[rank::world].to(device)
            batch = Batch(
                images=images[index],
                labels=labels[index] if method.needs_labels else None,
                partner_images=images[partners[index.cpu()].to(device)] if partners is not None else None,
            )
            lr = lr_at(step, total_steps, warmup_steps, config.lr)
            for group in optimizer.param_groups:
                group["lr"] = lr
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=on_cuda):
                loss = step_module(batch, augment_fn)
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"the loss became {loss.item()} at step {step + 1} (epoch {epoch + 1}); "
                    f"lower the learning rate (now {config.lr:g}) or the augmentation strength")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            method.on_step_end((step + 1) / total_steps)
            loss_value = loss.item()  # synchronises, so the timing below is honest on CUDA
            step += 1
            elapsed = time.perf_counter() - step_started
            if step > start_epoch * steps_per_epoch + 1:  # the first step pays one-off costs
                images_seen += len(index) * world
                timed_seconds += elapsed
            rate = images_seen / timed_seconds if timed_seconds else len(index) * world / elapsed
            if rank == 0 and on_progress is not None:
                on_progress(Progress(step=step, total_steps=total_steps, epoch=epoch + 1, epochs=config.epochs,
                                     loss=loss_value, lr=lr, images_per_second=rate,
                                     eta_seconds=(total_steps - step) * config.batch_size * world / rate))
            history.append({"step": step, "epoch": epoch + 1, "loss": loss_value, "lr": lr,
                            "images_per_second": rate})
        if stopped_early:
            break
        collapse_score, knn = _collapse_and_knn(method.backbone, dataset, device, config.knn_monitor)
        history.append({"step": step, "epoch": epoch + 1, "knn_accuracy": knn, "collapse_score": collapse_score})
        if rank == 0 and on_progress is not None:
            on_progress(Progress(step=step, total_steps=total_steps, epoch=epoch + 1, epochs=config.epochs,
                                 loss=history[-2]["loss"], lr=lr, images_per_second=rate,
                                 eta_seconds=(total_steps - step) * config.batch_size * world / rate,
                                 knn_accuracy=knn, collapse_score=collapse_score))
        if collapse_score < COLLAPSE_THRESHOLD and method.name != "supervised":
            raise TrainingError(
                f"the representation collapsed after epoch {epoch + 1}: every image maps to nearly the "
                f"same features (spread {collapse_score:.3f}); lower the learning rate or strengthen "
                f"the augmentations")
        if rank == 0 and checkpoint_path is not None:
            save_checkpoint(checkpoint_path, {
                "model": method.state_dict(), "optimizer": optimizer.state_dict(),
                "generator": generator.get_state(), "order_generator": order_generator.get_state(),
                "epoch": epoch, "history": history, "config": config.to_dict(), "dataset": meta,
            })
    method.eval()
    return PretrainResult(method=method, config=config, device=str(device), history=history,
                          seconds=time.perf_counter() - started,
                          images_per_second=images_seen / timed_seconds if timed_seconds else 0.0,
                          stopped_early=stopped_early)
