"""Pretraining methods: the self-supervised methods and the supervised baseline.

``METHODS`` describes each method (for the app and the CLI); :func:`build_method` builds one
around a backbone.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from sslcore.data.base import TASKS
from sslcore.methods import barlow_twins, byol, mae, micle, moco, rotation, simclr, simsiam, supervised
from sslcore.methods.base import STRATEGIES, Batch, Citation, MethodInfo, SSLMethod

METHODS: dict[str, MethodInfo] = {
    module.INFO.name: module.INFO
    for module in (simclr, moco, byol, simsiam, barlow_twins, micle, mae, rotation, supervised)
}


def build_method(name: str, backbone: nn.Module, *, n_classes: int, task: str, **hparams: Any) -> SSLMethod:
    """Build a pretraining method around ``backbone``.

    Args:
        name: a key of :data:`METHODS`.
        backbone: from :func:`sslcore.models.build_backbone`; must be one the method supports.
        n_classes: classes (or labels) of the dataset; used by the supervised baseline.
        task: ``binary``, ``multi-class`` or ``multi-label``.
        **hparams: the method's hyper-parameters (``METHODS[name].hparams``); defaults otherwise.

    Raises:
        ValueError: unknown method, task or hyper-parameter, unsupported backbone, or a bad value.
    """
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    info = METHODS[name]
    backbone_name = getattr(backbone, "name", type(backbone).__name__)
    if backbone_name not in info.backbones:
        raise ValueError(f"{name} does not support the {backbone_name} backbone; use {', '.join(info.backbones)}")
    unknown = sorted(set(hparams) - set(info.hparams))
    if unknown:
        accepted = ", ".join(info.hparams) or "none"
        raise ValueError(f"unknown hyper-parameter(s) for {name}: {', '.join(unknown)} (accepted: {accepted})")
    if info.needs_labels:
        hparams = {**hparams, "n_classes": n_classes, "task": task}
    return info.method_class(backbone, **hparams)


__all__ = ["METHODS", "STRATEGIES", "Batch", "Citation", "MethodInfo", "SSLMethod", "build_method"]
