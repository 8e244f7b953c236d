"""Durable runs: the SQLite run store, the worker that executes queued runs, and the executor
interface (``execute(run: RunRecord, ctx: RunContext) -> dict | None``)."""

from sslcore.runs.store import (FINISHED_STATUSES, POINT_FIELDS, STATUSES, RunNotFoundError, RunRecord, RunStore,
                                default_db_path)
from sslcore.runs.worker import EXECUTORS, RunContext, Worker, ensure_worker

__all__ = ["EXECUTORS", "FINISHED_STATUSES", "POINT_FIELDS", "STATUSES", "RunContext", "RunNotFoundError",
           "RunRecord", "RunStore", "Worker", "default_db_path", "ensure_worker"]
