"""What defines a pretraining run: one file per run (YAML or JSON), so that any run can be replayed from the shell."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sslcore.io import atomic_write_text

DEVICES = ("auto", "cpu", "cuda", "mps")
INIT_KINDS = ("random", "imagenet", "file:PATH", "run:ID")


def check_init(init: str) -> str:
    """``init`` itself when it has one of the forms of :data:`INIT_KINDS`; ValueError otherwise."""
    valid = isinstance(init, str) and (init in ("random", "imagenet") or (init.startswith("file:") and len(init) > 5)
                                       or (init.startswith("run:") and init[4:].isdigit()))
    if not valid:
        raise ValueError(f"init must be one of {', '.join(INIT_KINDS)}, got {init!r}")
    return init


@dataclass
class PretrainConfig:
    """Everything that defines a pretraining run.

    Attributes:
        dataset: ``synthetic``, a MedMNIST flag, a path to an ``.npz`` or to an image folder.
        method: an SSL method from ``sslcore.methods.METHODS`` (or ``supervised``).
        backbone: a backbone from ``sslcore.models`` (``small_cnn``, ``resnet18`` ...).
        image_size: side of the square images fed to the network, in pixels.
        epochs: passes over the training split; 0 evaluates the initialisation without pretraining
            (an experiment's "ImageNet only" or "from scratch" arm).
        batch_size: images per step (per process under torchrun).
        lr: peak learning rate of AdamW after warm-up.
        weight_decay: AdamW weight decay.
        warmup_epochs: linear warm-up length before the cosine decay (may be fractional).
        temperature: softmax temperature of the contrastive methods (ignored by the others).
        method_params: further method hyper-parameters, passed to ``build_method``.
        augment: augmentation preset (``radiograph``, ``light``, ``none``).
        augment_strength: scales the preset's strengths, 0 to 2.
        seed: seeds the model's initial weights, the batches and the augmentations (the model seed).
        data_seed: seeds what the data is: the synthetic images, the split by patient of an image
            folder and the subset ``max_train_images`` keeps. Runs that differ only in ``seed`` are
            scored on the same test set.
        device: ``auto`` (cuda, then mps, then cpu) or one of them.
        max_train_images: use at most this many training images (None: all).
        knn_monitor: compute the online kNN accuracy on the validation split after each epoch.
        dataset_options: extra options for ``load_dataset`` (e.g. ``n_images`` for synthetic).
        init: where the backbone's weights start: ``random``, ``imagenet``, ``file:PATH`` or ``run:ID``
            (``sslcore.training.initialisation``).
    """

    dataset: str = "synthetic"
    method: str = "simclr"
    backbone: str = "small_cnn"
    image_size: int = 28
    epochs: int = 5
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_epochs: float = 0.5
    temperature: float = 0.2
    method_params: dict[str, Any] = field(default_factory=dict)
    augment: str = "radiograph"
    augment_strength: float = 1.0
    seed: int = 0
    data_seed: int = 0
    device: str = "auto"
    max_train_images: int | None = None
    knn_monitor: bool = True
    dataset_options: dict[str, Any] = field(default_factory=dict)
    init: str = "random"

    def __post_init__(self) -> None:
        checks = [
            (self.image_size >= 8, f"image_size must be at least 8, got {self.image_size}"),
            (self.epochs >= 0, f"epochs must be 0 (no pretraining) or more, got {self.epochs}"),
            (self.batch_size >= 2, f"batch_size must be at least 2, got {self.batch_size}"),
            (self.lr > 0, f"lr must be positive, got {self.lr}"),
            (self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}"),
            (self.warmup_epochs >= 0, f"warmup_epochs must be >= 0, got {self.warmup_epochs}"),
            (self.temperature > 0, f"temperature must be positive, got {self.temperature}"),
            (0 <= self.augment_strength <= 2,
             f"augment_strength must be between 0 and 2, got {self.augment_strength}"),
            (self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}, got {self.device!r}"),
            (self.max_train_images is None or self.max_train_images >= self.batch_size,
             f"max_train_images ({self.max_train_images}) must be at least batch_size ({self.batch_size})"),
        ]
        problems = [message for ok, message in checks if not ok]
        try:
            check_init(self.init)
        except ValueError as error:
            problems.append(str(error))
        if problems:
            raise ValueError("invalid pretraining config: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "PretrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**values)

    def save(self, path: str | Path) -> Path:
        """Write the config as YAML (``.yaml``/``.yml``) or JSON (anything else)."""
        path = Path(path)
        if path.suffix in (".yaml", ".yml"):
            import yaml

            return atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "PretrainConfig":
        """Read a config written by :meth:`save` (or by hand)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FileNotFoundError(f"config file not found: {path}") from None
        try:
            if path.suffix in (".yaml", ".yml"):
                import yaml

                values = yaml.safe_load(text)
            else:
                values = json.loads(text)
        except Exception as error:  # yaml and json raise different types; both mean a bad file
            raise ValueError(f"{path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {error}") from None
        if not isinstance(values, dict):
            raise ValueError(f"{path} must hold a mapping of config keys, got {type(values).__name__}")
        return cls.from_dict(values)
