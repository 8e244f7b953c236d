"""What a stored run is: its statuses, its record, queue limits and the store's errors
(``sslcore.runs.store`` keeps them; pages and the CLI read them)."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED_STATUSES = ("succeeded", "failed", "cancelled")
ACTIVE_STATUSES = ("queued", "running")
NOT_RESPONDING = "not responding"

# A running run whose worker or job has not written a heartbeat for this long reads as not responding.
DEFAULT_STALE_AFTER = 60.0


class RunNotFoundError(ValueError):
    """No run has the requested id (or none that the asking owner may see)."""


class RunStoreError(ValueError):
    """The run store's file cannot be used (not a database, corrupt, unreadable)."""


class QueueFullError(ValueError):
    """A queue limit (:class:`QueueLimits`) refuses another run."""


@dataclass(frozen=True)
class QueueLimits:
    """How many runs may wait or run at once (queued plus running).

    Attributes:
        per_owner: for one owner (a classroom session); None for no limit.
        total: for everyone together; None for no limit.
    """

    per_owner: int | None = None
    total: int | None = None

    def __post_init__(self) -> None:
        for name in ("per_owner", "total"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"QueueLimits.{name} must be a positive whole number or None, got {value!r}")


@dataclass
class RunRecord:
    """One run as stored. Timestamps are Unix seconds; ``config``, ``timings`` and ``result`` are
    decoded JSON."""

    id: int
    name: str
    kind: str
    status: str
    config: dict[str, Any]
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    device: str | None = None
    timings: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    worker_pid: int | None = None
    heartbeat_at: float | None = None
    cancel_requested: bool = False
    dataset: str | None = None
    method: str | None = None
    headline_name: str | None = None
    headline_value: float | None = None
    result: dict[str, Any] | None = None
    comparison_id: int | None = None  # the comparison this run is an arm of (``sslcore.runs.comparisons``)
    arm: str | None = None  # its arm's name there
    owner: str | None = None
    worker_started: str | None = None
    job_pid: int | None = None
    job_heartbeat_at: float | None = None
    stale_after: float = field(default=DEFAULT_STALE_AFTER, repr=False, compare=False)

    @property
    def state(self) -> str:
        """The status as a person should read it: ``status``, except ``"not responding"`` for a
        running run whose worker or job has written no heartbeat for ``stale_after`` seconds (its
        worker still exists, or the store would have marked it failed)."""
        if self.status != "running":
            return self.status
        now = time.time()
        # Until the job's first heartbeat (it is starting), the claim time stands for it.
        job_beat = self.job_heartbeat_at if self.job_pid is not None else self.started_at
        if any(beat is None or now - beat > self.stale_after for beat in (self.heartbeat_at, job_beat)):
            return NOT_RESPONDING
        return self.status

    @property
    def finished(self) -> bool:
        """Whether the run has reached a final status."""
        return self.status in FINISHED_STATUSES

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (or to now while running); ``None`` before the start."""
        if self.started_at is None:
            return None
        return (self.finished_at or time.time()) - self.started_at

    @classmethod
    def _from_row(cls, row: sqlite3.Row, stale_after: float = DEFAULT_STALE_AFTER) -> "RunRecord":
        values = dict(row)
        values["config"] = json.loads(values["config"])
        values["timings"] = json.loads(values["timings"])
        values["result"] = json.loads(values["result"]) if values["result"] is not None else None
        values["cancel_requested"] = bool(values["cancel_requested"])
        return cls(**values, stale_after=stale_after)
