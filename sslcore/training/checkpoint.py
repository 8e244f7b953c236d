"""Checkpoints: written atomically, read without running any code they might carry.

A checkpoint holds only tensors, dicts, lists, strings and numbers, so it is read with
``torch.load(weights_only=True)``: a file crafted to run code when unpickled is refused instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sslcore.io import atomic_write

# Keys every checkpoint written by :func:`sslcore.training.pretrain` holds.
PRETRAINED_KEYS = ("model", "config", "dataset")


class CheckpointError(ValueError):
    """A file that is not a MedSSL checkpoint (or is damaged)."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Atomically save a training state: a crash mid-write leaves the previous checkpoint intact."""
    return atomic_write(path, lambda f: torch.save(state, f), mode="wb")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint's state without executing anything stored in it.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: unreadable, damaged, or holding objects other than tensors and plain data
            (such as code to run on loading).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # pickle, zip and torch errors all mean: not a checkpoint we can trust
        raise CheckpointError(f"{path} is not a MedSSL checkpoint: it is damaged or holds more than weights and "
                              f"plain data, so it was not loaded ({type(error).__name__})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} is not a MedSSL checkpoint (it holds a {type(state).__name__}, not a dict)")
    return state


def load_pretrained(path: str | Path, map_location: str | torch.device = "cpu"):
    """Rebuild a trained method from a checkpoint written by :func:`sslcore.training.pretrain`.

    Returns:
        A :class:`sslcore.training.PretrainResult` with the method in eval mode.

    Raises:
        CheckpointError: not such a checkpoint, or its weights do not fit the network its config names.
    """
    from sslcore.training.config import PretrainConfig
    from sslcore.training.loop import PretrainResult, build_model

    state = load_checkpoint(path, map_location)
    missing = [key for key in PRETRAINED_KEYS if key not in state]
    if missing:
        raise CheckpointError(f"{path} is not a MedSSL pretraining checkpoint (it lacks {', '.join(missing)})")
    try:
        config = PretrainConfig.from_dict(state["config"])
        meta = state["dataset"]
        method = build_model(config, channels=meta["channels"], n_classes=meta["n_classes"], task=meta["task"],
                             n_train=meta.get("n_train"))
        method.load_state_dict(state["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path}: its weights do not fit the network its config describes ({error})") from None
    return PretrainResult(method=method.eval(), config=config, device=str(map_location),
                          history=state.get("history", []))
