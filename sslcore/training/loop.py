"""Self-supervised pretraining: one loop for every method, on CUDA, MPS or the CPU.

The whole training split lives on the device as one uint8 tensor; a step indexes a batch from it,
augments it there (``sslcore.augment``) and calls the method's ``training_step`` through the one
optimisation step (:class:`sslcore.training.Trainer`). No per-image Python runs in the loop, so on
a GPU the data path keeps up with the model.

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
from sslcore.training.checkpoint import load_checkpoint, save_checkpoint
from sslcore.training.config import PretrainConfig
from sslcore.training.devices import resolve_device
from sslcore.training.step import Trainer, lr_at

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


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def method_hparams(config: PretrainConfig, n_train: int | None = None) -> dict[str, Any]:
    """The hyper-parameters ``build_method`` takes for this config's method. MoCo's queue is sized to
    the data (``moco_queue_size``) when ``n_train`` is known and ``method_params`` does not set it."""
    from sslcore.methods import METHODS
    from sslcore.methods.moco import moco_queue_size

    accepted = METHODS[config.method].hparams
    params = dict(config.method_params)
    if "temperature" in accepted:
        params.setdefault("temperature", config.temperature)
    if "queue_size" in accepted and n_train is not None:
        params.setdefault("queue_size", moco_queue_size(n_train, config.batch_size * distributed.world_size()))
    return params


def build_model(config: PretrainConfig, *, channels: int, n_classes: int, task: str,
                n_train: int | None = None) -> nn.Module:
    """The method (with its backbone) a config describes, freshly initialised from its seed;
    ``n_train`` (the images pretraining visits each epoch) sizes what depends on the data."""
    from sslcore.methods import METHODS, build_method
    from sslcore.models import build_backbone

    from sslcore.training.initialisation import initialise

    if config.method not in METHODS:
        raise ValueError(f"unknown method {config.method!r}; choose from {', '.join(METHODS)}")
    torch.manual_seed(config.seed)
    backbone = initialise(build_backbone(config.backbone, channels, config.image_size), config.init, config.backbone)
    return build_method(config.method, backbone, n_classes=n_classes, task=task, **method_hparams(config, n_train))


def load_for_config(config: PretrainConfig):
    """Load the dataset a config names, at its image size, drawn with its ``data_seed``."""
    from sslcore.data import load_dataset

    return load_dataset(config.dataset, image_size=config.image_size, seed=config.data_seed,
                        **config.dataset_options)


def check_method_fits_data(method: str, dataset) -> None:
    """Refuse a method the data cannot feed: MICLe needs patients with several images.

    Raises:
        ValueError: with what to do instead.
    """
    from sslcore.methods import METHODS

    if METHODS[method].needs_partner and not dataset.has_multi_image_patients():
        raise ValueError(f"{METHODS[method].title} learns from two images of the same patient, but no patient of "
                         f"{dataset.name!r} has more than one training image (the dataset has no patient ids, or "
                         f"one image per patient): use SimCLR, which makes both views from one image")


def representation_health(backbone: nn.Module, dataset, device: torch.device, knn: bool) -> tuple[float, float | None]:
    """Spread of the normalised validation features (the collapse score), and the online kNN
    accuracy on validation (None when not asked for or for multi-label data)."""
    from sslcore.evaluate.features import extract_features
    from sslcore.evaluate.probes import knn_accuracy

    from sslcore.evaluate.sweep import stratified_sample

    val = dataset.splits["val"]
    val_features = extract_features(backbone, val.images, device=device)
    normalised = torch.nn.functional.normalize(val_features, dim=1)
    collapse_score = float(normalised.std(dim=0).mean() * math.sqrt(normalised.shape[1]))
    if not knn or dataset.task == "multi-label":
        return collapse_score, None
    train = dataset.splits["train"]
    chosen = stratified_sample(train.labels, KNN_MONITOR_IMAGES, 0, dataset.task)
    train_features = extract_features(backbone, train.images[chosen.to(train.images.device)], device=device)
    accuracy = knn_accuracy(train_features, train.labels.cpu()[chosen], val_features, val.labels.cpu(),
                            k=KNN_MONITOR_K)
    return collapse_score, accuracy


@dataclass
class _Session:
    """Everything a pretraining run holds between its steps."""

    config: PretrainConfig
    dataset: Any
    device: torch.device
    trainer: Trainer
    augment_fn: Callable[[torch.Tensor], torch.Tensor]
    generator: torch.Generator  # augmentation and partner draws (per rank)
    order_generator: torch.Generator  # batch order (same on every rank)
    images: torch.Tensor
    labels: torch.Tensor
    patient_ids: torch.Tensor
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    history: list[dict[str, Any]] = field(default_factory=list)
    start_epoch: int = 0
    step: int = 0
    images_seen: int = 0
    timed_seconds: float = 0.0
    lr: float = 0.0
    last_rate: float = 0.0  # images/s reported with the last step

    @property
    def rate(self) -> float:
        return self.images_seen / self.timed_seconds if self.timed_seconds else 0.0

    def eta(self, rate: float) -> float:
        return (self.total_steps - self.step) * self.config.batch_size * distributed.world_size() / rate


def _set_up(config: PretrainConfig, dataset, method: nn.Module | None, checkpoint_path, resume: bool) -> _Session:
    """Load the data onto the device, build (or take) the method and its trainer, and resume."""
    from sslcore.augment import AugmentConfig
    from sslcore.evaluate.sweep import stratified_sample

    seed_everything(config.seed)
    device = resolve_device(config.device)
    dataset = dataset if dataset is not None else load_for_config(config)
    check_method_fits_data(config.method, dataset)
    train = dataset.splits["train"]
    # A stratified random subset (drawn by the data seed) when max_train_images asks for fewer images.
    kept = stratified_sample(train.labels, config.max_train_images or len(train.images), config.data_seed,
                             dataset.task)
    n_train = len(kept)
    world = distributed.world_size()
    if n_train < config.batch_size * world:
        raise ValueError(
            f"the training split has {n_train} images, fewer than one batch of "
            f"{config.batch_size} per process; lower --batch-size")
    if method is None:
        method = build_model(config, channels=dataset.channels, n_classes=dataset.n_classes, task=dataset.task,
                             n_train=n_train)
    trainer = Trainer(method, device, lr=config.lr, weight_decay=config.weight_decay,
                      distributed_data_parallel=True)
    # Augmentation parameters come from a CPU generator so CPU and CUDA runs draw the same ones.
    generator = torch.Generator().manual_seed(config.seed + distributed.rank())
    steps_per_epoch = n_train // (config.batch_size * world)
    session = _Session(
        config=config, dataset=dataset, device=device, trainer=trainer,
        augment_fn=trainer.views(AugmentConfig.preset(config.augment, config.augment_strength), generator),
        generator=generator, order_generator=torch.Generator().manual_seed(config.seed),
        images=train.images[kept.to(train.images.device)].to(device),
        labels=train.labels[kept.to(train.labels.device)].to(device),
        patient_ids=train.patient_ids[kept.to(train.patient_ids.device)].cpu(), steps_per_epoch=steps_per_epoch,
        total_steps=steps_per_epoch * config.epochs, warmup_steps=int(config.warmup_epochs * steps_per_epoch))
    if resume and checkpoint_path is not None and Path(checkpoint_path).exists():
        state = load_checkpoint(checkpoint_path, device)
        trainer.method.load_state_dict(state["model"])
        trainer.optimizer.load_state_dict(state["optimizer"])
        session.generator.set_state(state["generator"])
        session.order_generator.set_state(state["order_generator"])
        session.history = state["history"]
        session.start_epoch = state["epoch"] + 1
    session.step = session.start_epoch * steps_per_epoch
    return session


def _train_epoch(session: _Session, epoch: int, on_progress, should_stop) -> bool:
    """One pass over the training split; True when ``should_stop`` ended it early."""
    from sslcore.data import patient_partners
    from sslcore.methods import Batch

    config, method = session.config, session.trainer.method
    world, rank = distributed.world_size(), distributed.rank()
    global_batch = config.batch_size * world
    method.train()
    order = torch.randperm(len(session.images), generator=session.order_generator)
    partners = patient_partners(session.patient_ids, session.generator) if method.needs_partner else None
    first_step = session.start_epoch * session.steps_per_epoch + 1
    for batch_index in range(session.steps_per_epoch):
        if should_stop is not None and should_stop():
            return True
        step_started = time.perf_counter()
        index = order[batch_index * global_batch:(batch_index + 1) * global_batch][rank::world].to(session.device)
        batch = Batch(
            images=session.images[index],
            labels=session.labels[index] if method.needs_labels else None,
            partner_images=(session.images[partners[index.cpu()].to(session.device)]
                            if partners is not None else None),
        )
        session.lr = lr_at(session.step, session.total_steps, session.warmup_steps, config.lr)
        loss = session.trainer.step(batch, session.augment_fn, lr=session.lr,
                                    progress=(session.step + 1) / session.total_steps)
        loss_value = loss.item()  # synchronises, so the timing below is honest on CUDA
        session.step += 1
        if not math.isfinite(loss_value):
            raise TrainingError(
                f"the loss became {loss_value} at step {session.step} (epoch {epoch + 1}); "
                f"lower the learning rate (now {config.lr:g}) or the augmentation strength")
        elapsed = time.perf_counter() - step_started
        if session.step > first_step:  # the first step pays one-off costs
            session.images_seen += len(index) * world
            session.timed_seconds += elapsed
        rate = session.last_rate = session.rate or len(index) * world / elapsed
        if rank == 0 and on_progress is not None:
            on_progress(Progress(step=session.step, total_steps=session.total_steps, epoch=epoch + 1,
                                 epochs=config.epochs, loss=loss_value, lr=session.lr, images_per_second=rate,
                                 eta_seconds=session.eta(rate)))
        session.history.append({"step": session.step, "epoch": epoch + 1, "loss": loss_value, "lr": session.lr,
                                "images_per_second": rate})
    return False


def _measure_initial(session: _Session, on_progress) -> None:
    """The online kNN accuracy of the network before any step (epoch 0): what "learned something"
    is measured against while the run goes."""
    collapse_score, knn = representation_health(session.trainer.method.backbone, session.dataset, session.device,
                                                True)
    session.history.append({"step": 0, "epoch": 0, "knn_accuracy": knn, "collapse_score": collapse_score})
    if distributed.rank() == 0 and on_progress is not None:
        on_progress(Progress(step=0, total_steps=session.total_steps, epoch=0, epochs=session.config.epochs,
                             loss=math.nan, lr=0.0, images_per_second=0.0, eta_seconds=math.nan,
                             knn_accuracy=knn, collapse_score=collapse_score))


def _end_epoch(session: _Session, epoch: int, on_progress, checkpoint_path) -> None:
    """Measure the representation, stop on collapse, and checkpoint (rank 0)."""
    config, method = session.config, session.trainer.method
    collapse_score, knn = representation_health(method.backbone, session.dataset, session.device, config.knn_monitor)
    session.history.append({"step": session.step, "epoch": epoch + 1, "knn_accuracy": knn,
                            "collapse_score": collapse_score})
    if distributed.rank() == 0 and on_progress is not None:
        rate = session.last_rate
        on_progress(Progress(step=session.step, total_steps=session.total_steps, epoch=epoch + 1, epochs=config.epochs,
                             loss=session.history[-2]["loss"], lr=session.lr, images_per_second=rate,
                             eta_seconds=session.eta(rate), knn_accuracy=knn, collapse_score=collapse_score))
    if collapse_score < COLLAPSE_THRESHOLD and method.can_collapse:
        raise TrainingError(
            f"the representation collapsed after epoch {epoch + 1}: every image maps to nearly the "
            f"same features (spread {collapse_score:.3f}); lower the learning rate or strengthen "
            f"the augmentations")
    if distributed.rank() == 0 and checkpoint_path is not None:
        dataset = session.dataset
        save_checkpoint(checkpoint_path, {
            "model": method.state_dict(), "optimizer": session.trainer.optimizer.state_dict(),
            "generator": session.generator.get_state(), "order_generator": session.order_generator.get_state(),
            "epoch": epoch, "history": session.history, "config": config.to_dict(),
            "dataset": {"channels": dataset.channels, "n_classes": dataset.n_classes, "task": dataset.task,
                        "label_names": list(dataset.label_names), "name": dataset.name,
                        "n_train": len(session.images)},
        })


def pretrain(
    config: PretrainConfig,
    *,
    dataset=None,
    method: nn.Module | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    checkpoint_path: str | Path | None = None,
    resume: bool = False,
) -> PretrainResult:
    """Pretrain ``config.method`` on ``config.dataset``.

    Args:
        config: the run's configuration.
        dataset: an already loaded ``ImageDataset``; loaded from ``config.dataset`` when None.
        method: a ready-built method to train (``build_model(config, ...)`` when None).
        on_progress: called after every step with a :class:`Progress` (rank 0 only).
        should_stop: polled between steps; returning True ends the run early (cancel).
        checkpoint_path: written after every epoch (rank 0 only) with everything needed to resume.
        resume: continue from ``checkpoint_path`` when it exists.

    Returns:
        A :class:`PretrainResult`; ``stopped_early`` is True when ``should_stop`` ended it.

    Raises:
        TrainingError: the loss became NaN or infinite, or the representation collapsed.
    """
    started = time.perf_counter()
    session = _set_up(config, dataset, method, checkpoint_path, resume)
    if session.start_epoch == 0 and config.knn_monitor:
        _measure_initial(session, on_progress)
    stopped_early = False
    for epoch in range(session.start_epoch, config.epochs):
        stopped_early = _train_epoch(session, epoch, on_progress, should_stop)
        if stopped_early:
            break
        _end_epoch(session, epoch, on_progress, checkpoint_path)
    trained = session.trainer.method.eval()
    return PretrainResult(method=trained, config=config, device=str(session.device), history=session.history,
                          seconds=time.perf_counter() - started, images_per_second=session.rate,
                          stopped_early=stopped_early)
