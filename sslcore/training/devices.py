"""Which device a run uses: ``auto`` picks CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

import torch

from sslcore import distributed


def resolve_device(name: str = "auto") -> torch.device:
    """Pick ``cuda``, then ``mps``, then ``cpu`` for ``auto``; check that a forced device exists.

    Under ``torchrun`` each process gets its own GPU (its local rank).

    Raises:
        ValueError: the requested device is not available here.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", distributed.local_rank())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available; use --device cpu or auto")
    if name == "mps" and not _mps_available():
        raise ValueError("device 'mps' was requested but Apple's MPS backend is not available")
    if name == "cuda":
        return torch.device("cuda", distributed.local_rank())
    return torch.device(name)


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def synchronizer(device: torch.device):
    """A function that waits for the device's queued work: what an honest clock needs on a GPU."""
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
