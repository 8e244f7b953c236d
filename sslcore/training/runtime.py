"""Process-level runtime settings, applied once at the start of every entry point of the project
(``python -m sslcore``, the worker's job processes, the Streamlit app).

The C allocator. glibc's ``malloc`` gives every block above its mmap threshold (dynamic, at most
32 MB) its own mapping and unmaps it on ``free``, and trims the top of the heap above 128 kB. A
training step frees and re-requests hundreds of MB of tensors (activations, their gradients, the
augmented views), so with the defaults every step maps fresh memory and the kernel zero-fills it
page by page: on 2 CPU cores, SimCLR with the small CNN at 64 px spent 7.3 of 14 s in the kernel
(3.2 M page faults). :func:`tune_allocator` tells glibc to keep freed memory for reuse: no
per-block mappings (``M_MMAP_MAX = 0``), no trimming below 2 GB of free heap, and the heap grown
1 GB at a time. The cost: a process keeps the peak of what it used (a 128 px CPU run holds about
3.5 GB instead of 1 to 2.4 GB). ``MEDSSL_ALLOCATOR=system`` keeps glibc's defaults.
"""

from __future__ import annotations

import ctypes
import os
import sys

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX = -1, -2, -4
ALLOCATOR_SETTINGS = (
    (M_MMAP_MAX, 0),  # large blocks come from the heap and are reused, never handed back per block
    (M_TRIM_THRESHOLD, 2**31 - 1),  # keep up to 2 GB of free heap instead of returning it
    (M_TOP_PAD, 1 << 30),  # grow the heap 1 GB at a time (address space only: pages are touched when used)
)
OPT_OUT = "MEDSSL_ALLOCATOR"
_REPLACEMENTS = ("jemalloc", "tcmalloc", "mimalloc")
_applied: str | None = None


def _glibc() -> ctypes.CDLL | None:
    """The process's C library when it is glibc, else None."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None)  # the symbols the process already has, its C library's among them
    return libc if hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt") else None


def tune_allocator() -> str:
    """Keep glibc's malloc from handing memory back to the kernel after every step (see the module).

    Safe to call more than once; only the first call acts.

    Returns:
        What was done, for logs: ``"glibc malloc tuned: ..."`` or why nothing was changed (not glibc,
        another allocator preloaded, or ``MEDSSL_ALLOCATOR=system``).
    """
    global _applied
    if _applied is not None:
        return _applied
    preload = os.environ.get("LD_PRELOAD", "")
    libc = _glibc()
    if os.environ.get(OPT_OUT, "").strip().lower() == "system":
        _applied = f"allocator left at its defaults ({OPT_OUT}=system)"
    elif any(name in preload for name in _REPLACEMENTS):
        _applied = f"allocator left alone: LD_PRELOAD replaces malloc ({preload})"
    elif libc is None:
        _applied = "allocator left alone: the C library is not glibc (mallopt is glibc's)"
    else:
        failed = [parameter for parameter, value in ALLOCATOR_SETTINGS if libc.mallopt(parameter, value) != 1]
        _applied = ("glibc malloc tuned: no per-block mmap, trim above 2 GB, 1 GB top pad" if not failed
                    else f"glibc rejected mallopt parameters {failed}; allocator partly at its defaults")
    return _applied


def allocator_status() -> str:
    """What :func:`tune_allocator` did in this process, or that it was not called (benchmarks report it)."""
    return _applied or "glibc defaults: tune_allocator was not called in this process"
