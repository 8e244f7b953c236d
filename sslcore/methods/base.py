"""What every pretraining method shares: the batch it receives, its interface and its description."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import torch
from torch import nn

STRATEGIES = ("contrastive", "non-contrastive", "generative", "innate-relationship", "supervised")

# uint8 images (B, C, H, W) -> normalised float views (B, C, H, W), fresh random augmentations per call.
AugmentFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Batch:
    """One training batch, on the device.

    Attributes:
        images: uint8 (B, C, H, W).
        labels: int64 (B,) (binary / multi-class) or float (B, L) (multi-label); only for methods
            with ``needs_labels``.
        partner_images: uint8 (B, C, H, W), another image of the same patient (the image itself
            when the patient has one); only for methods with ``needs_partner``.
    """

    images: torch.Tensor
    labels: torch.Tensor | None = None
    partner_images: torch.Tensor | None = None


class SSLMethod(nn.Module):
    """A pretraining method: a backbone plus whatever heads, targets and loss the method needs.

    Subclasses implement :meth:`training_step`; methods with a momentum encoder also override
    :meth:`on_step_end`. Their constructor takes the backbone then keyword-only hyper-parameters
    with defaults (these are what :attr:`MethodInfo.hparams` lists); the supervised baseline also
    takes ``n_classes`` and ``task``.

    ``default_augment`` names the :mod:`sslcore.augment` preset the method's paper calls for: the
    SimCLR-style ``radiograph`` preset for the methods that compare views, ``crop`` for the masked
    autoencoder, which only crops and flips. ``can_collapse`` says whether the loss has a trivial
    minimum where every image gets the same features (the joint-embedding methods), so that a
    collapse check on the features means something; a masked autoencoder's or a rotation
    classifier's features share a large common component without having collapsed.
    """

    name: ClassVar[str]
    needs_partner: ClassVar[bool] = False
    needs_labels: ClassVar[bool] = False
    default_augment: ClassVar[str] = "radiograph"
    can_collapse: ClassVar[bool] = True

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def training_step(self, batch: Batch, augment_fn: AugmentFn) -> torch.Tensor:
        """Augment the batch, run the networks and return the scalar loss to minimise."""
        raise NotImplementedError

    def on_step_end(self, progress: float) -> None:
        """Called after each optimiser step with the fraction of training done, in [0, 1]."""


@dataclass(frozen=True)
class Citation:
    """The paper that introduced a method."""

    authors: str
    year: int
    title: str
    venue: str
    arxiv_id: str

    def __str__(self) -> str:
        return f"{self.authors} ({self.year}). {self.title}. {self.venue}. arXiv:{self.arxiv_id}"


@dataclass(frozen=True)
class MethodInfo:
    """What the app and the CLI show about a method, and how to build it.

    Attributes:
        name: registry key (``simclr`` ...).
        title: display name.
        strategy: one of :data:`STRATEGIES`.
        citation: the paper; ``str(citation)`` is a one-line reference.
        explanation: two or three plain sentences for clinicians.
        method_class: the :class:`SSLMethod` subclass.
        backbones: backbone names it works with.
        default_backbone: the one to propose first.
    """

    name: str
    title: str
    strategy: str
    citation: Citation
    explanation: str
    method_class: type[SSLMethod]
    backbones: tuple[str, ...] = ("small_cnn", "resnet18", "resnet50", "vit_tiny")
    default_backbone: str = "small_cnn"

    @property
    def hparams(self) -> dict[str, Any]:
        """The hyper-parameters the method accepts, with their defaults (read from its constructor)."""
        parameters = inspect.signature(self.method_class.__init__).parameters.values()
        return {p.name: p.default for p in parameters
                if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in ("n_classes", "task")}

    @property
    def needs_partner(self) -> bool:
        return self.method_class.needs_partner

    @property
    def needs_labels(self) -> bool:
        return self.method_class.needs_labels

    @property
    def can_collapse(self) -> bool:
        """Whether a collapse of the features (every image mapped to one point) is a failure mode."""
        return self.method_class.can_collapse

    @property
    def default_augment(self) -> str:
        """The augmentation preset the method is meant to train with (an ``sslcore.augment`` preset)."""
        return self.method_class.default_augment
