"""Whether a process is alive and the very one that started then: the run store's test of a
worker (a pid the system has given to another process since is not the worker)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path


def process_start_time(pid: int) -> str | None:
    """When process ``pid`` started, as an opaque token that differs between two processes given the
    same pid: on Linux the start time in clock ticks since boot (``/proc/<pid>/stat``), elsewhere what
    ``ps -o lstart=`` prints. None when the process does not exist or the system cannot tell."""
    try:
        # Field 22 of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses.
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        if sys.platform.startswith("linux"):
            return None
    try:
        shown = subprocess.run(["ps", "-o", "lstart=", "-p", str(int(pid))], capture_output=True, text=True,
                               timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return shown.stdout.strip() or None


def pid_alive(pid: int, started: str | None = None) -> bool:
    """Whether process ``pid`` exists and is not a zombie (a zombie child of ours is reaped); with
    ``started`` (a :func:`process_start_time` token), also whether it is the process that started
    then, not a later one that was given the same pid."""
    if not _pid_exists(pid):
        return False
    return started is None or process_start_time(pid) in (started, None)


def _pid_exists(pid: int) -> bool:
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped:
            return False
    except ChildProcessError:
        pass  # not our child: ask the kernel below
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # Linux: a zombie that is not ours still "exists"
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True
