"""The durable run store: runs, their metrics, evaluation points and logs in one SQLite file.

Several processes use the store at once (the app's script threads, the worker and its job
processes), so every operation opens its own short-lived connection, writes in short
``BEGIN IMMEDIATE`` transactions and relies on WAL mode with a busy timeout. Artifacts live
beside the database in ``runs/<id>/``.

A running run is alive while the worker process that claimed it exists: the store records the
worker's pid together with the process's start time, so a pid the system has since given to
another process is not mistaken for the worker. The worker and the job each write a heartbeat; when
either is older than ``stale_after`` while the worker still exists, the run reads as "not
responding" (:attr:`RunRecord.state`) rather than failed, so a hung job shows and a laptop that
slept for a while finds its runs going on.

Runs may have an owner (a browser session's token in classroom mode): lists, cancellation and
deletion can be limited to one owner, and :class:`QueueLimits` caps how many runs one owner, and
everyone together, may have waiting or running.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from sslcore.io import atomic_write_bytes, atomic_write_text
from sslcore.paths import data_home
from sslcore.runs.processes import pid_alive, process_start_time
from sslcore.runs.records import (ACTIVE_STATUSES, DEFAULT_STALE_AFTER, FINISHED_STATUSES, NOT_RESPONDING,
                                  STATUSES, QueueFullError, QueueLimits, RunNotFoundError, RunRecord,
                                  RunStoreError)

__all__ = ["ACTIVE_STATUSES", "FINISHED_STATUSES", "NOT_RESPONDING", "STATUSES", "QueueFullError", "QueueLimits",
           "RunNotFoundError", "RunRecord", "RunStore", "RunStoreError", "default_db_path", "pid_alive",
           "process_start_time"]

SCHEMA_VERSION = 4
LOG_LEVELS = ("debug", "info", "warning", "error")
POINT_FIELDS = ("method", "protocol", "fraction", "n_labelled", "seed", "auc", "acc", "balanced_acc",
                "auc_ci_low", "auc_ci_high", "pretrain_seed", "val_auc")
REQUIRED_POINT_FIELDS = ("method", "protocol", "fraction")
# What checks and completes the config of a run of each kind before it is queued (module:function,
# called as check(config) -> config; raises ValueError naming every problem).
CONFIG_CHECKS = {"experiment": "sslcore.experiments.config:checked_experiment_dict"}

_SCHEMA = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    device TEXT,
    timings TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    worker_pid INTEGER,
    heartbeat_at REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    dataset TEXT,
    method TEXT,
    headline_name TEXT,
    headline_value REAL,
    result TEXT,
    comparison_id INTEGER,
    arm TEXT,
    owner TEXT,
    worker_started TEXT,
    job_pid INTEGER,
    job_heartbeat_at REAL
);
CREATE TABLE comparisons (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at REAL NOT NULL, name TEXT NOT NULL, config TEXT NOT NULL
);
CREATE INDEX runs_status_created ON runs (status, created_at);
CREATE INDEX runs_owner ON runs (owner, status);
CREATE TABLE metrics (
    run_id INTEGER NOT NULL, step INTEGER NOT NULL, epoch INTEGER, name TEXT NOT NULL,
    value REAL, time REAL NOT NULL
);
CREATE INDEX metrics_run ON metrics (run_id, step);
CREATE TABLE points (
    run_id INTEGER NOT NULL, method TEXT NOT NULL, protocol TEXT NOT NULL, fraction REAL NOT NULL,
    n_labelled INTEGER, seed INTEGER, auc REAL, acc REAL, balanced_acc REAL,
    auc_ci_low REAL, auc_ci_high REAL, pretrain_seed INTEGER NOT NULL DEFAULT 0, val_auc REAL
);
CREATE INDEX points_run ON points (run_id);
CREATE TABLE logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER NOT NULL, time REAL NOT NULL,
    level TEXT NOT NULL, message TEXT NOT NULL
);
CREATE INDEX logs_run ON logs (run_id, id);
"""


# What turns a store of schema version N - 1 into version N (existing runs keep their data).
_MIGRATIONS = {
    2: ("ALTER TABLE points ADD COLUMN pretrain_seed INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE points ADD COLUMN val_auc REAL"),
    3: ("ALTER TABLE runs ADD COLUMN comparison_id INTEGER", "ALTER TABLE runs ADD COLUMN arm TEXT",
        "CREATE TABLE comparisons (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at REAL NOT NULL, "
        "name TEXT NOT NULL, config TEXT NOT NULL)"),
    4: ("ALTER TABLE runs ADD COLUMN owner TEXT",
        "ALTER TABLE runs ADD COLUMN worker_started TEXT",
        "ALTER TABLE runs ADD COLUMN job_pid INTEGER",
        "ALTER TABLE runs ADD COLUMN job_heartbeat_at REAL",
        "CREATE INDEX runs_owner ON runs (owner, status)"),
}


def default_db_path() -> Path:
    """``$MEDSSL_RUNS_DB``, else ``runs.sqlite`` in the user's data folder."""
    override = os.environ.get("MEDSSL_RUNS_DB")
    return Path(override).expanduser() if override else data_home() / "runs.sqlite"


def _encode_json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, allow_nan=True)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be JSON-serialisable: {error}") from error


def _load_function(spec: str):
    """The function named ``module:function``."""
    module, _, function = spec.partition(":")
    return getattr(importlib.import_module(module), function)


def _check_artifact_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise ValueError(f"artifact name must be a plain file name, got {name!r}")
    return name


class RunStore:
    """Runs in a SQLite file, shared safely between processes and threads.

    Args:
        path: the database file; default :func:`default_db_path`. Its folder also holds the
            artifacts, in ``runs/<id>/``.
        stale_after: seconds without a heartbeat (of the worker or of the job) after which a running
            run reads as not responding (:attr:`RunRecord.state`).
        busy_timeout: seconds a write waits for another process's transaction.
    """

    def __init__(self, path: str | Path | None = None, *, stale_after: float = DEFAULT_STALE_AFTER,
                 busy_timeout: float = 30.0) -> None:
        if stale_after <= 0:
            raise ValueError(f"stale_after must be positive, got {stale_after}")
        self.path = Path(path).expanduser().resolve() if path is not None else default_db_path().resolve()
        self.stale_after = stale_after
        self.busy_timeout = busy_timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._create_schema()

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    # -- connections -------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are explicit, so a write takes the lock up front
        # (BEGIN IMMEDIATE) and never fails upgrading a read lock.
        connection = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        connection.row_factory = sqlite3.Row
        connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        return connection

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        connection = self._open()
        try:
            yield connection
        finally:
            connection.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        connection = self._open()
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            connection.close()

    def _create_schema(self) -> None:
        try:
            self._migrate()
        except sqlite3.DatabaseError as error:  # not a database, corrupt, a folder ...
            raise RunStoreError(f"{self.path} is not a readable run store ({error}); move it away and a new, "
                                f"empty one is made in its place") from None

    def _migrate(self) -> None:
        with self._read() as connection:
            if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                connection.execute("PRAGMA journal_mode = WAL")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ValueError(f"{self.path} has run-store schema {version}, newer than this "
                             f"version of sslcore understands ({SCHEMA_VERSION}); update sslcore")
        if version == SCHEMA_VERSION:  # the usual case: no write lock for a page that opens the store
            return
        with self._write() as connection:
            version = connection.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
            if version == 0:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
            else:
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS[step]:
                        connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _require(self, connection: sqlite3.Connection, run_id: int, owner: str | None = None) -> RunRecord:
        row = connection.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None or (owner is not None and row["owner"] != owner):
            raise RunNotFoundError(f"no run with id {run_id} in {self.path}")
        return RunRecord._from_row(row, self.stale_after)

    # -- the pages' API ----------------------------------------------------------------------

    def create_run(self, kind: str, config: Mapping[str, Any], name: str | None = None, *,
                   owner: str | None = None, limits: QueueLimits | None = None) -> int:
        """Queue a run and return its id.

        Args:
            kind: what the executor should do (``"experiment"`` ...).
            config: the run's JSON-serialisable settings; its ``"dataset"`` and ``"method"`` keys
                are also stored as columns for filtering. A kind with a check in
                :data:`CONFIG_CHECKS` (experiments) is validated and stored complete.
            name: a label for lists; default built from kind, method and dataset.
            owner: who queued it (a classroom session's token); None for the machine's user.
            limits: refuse the run when the owner, or everyone, already has this many runs queued
                or running (:class:`QueueFullError`).

        Raises:
            ValueError: a bad kind, name or config (for experiments, one sentence per problem).
            QueueFullError: a limit is reached; nothing is queued.
        """
        if not isinstance(kind, str) or not kind.strip():
            raise ValueError(f"kind must be a non-empty string, got {kind!r}")
        if not isinstance(config, Mapping):
            raise ValueError(f"config must be a mapping, got {type(config).__name__}")
        if name is not None and not isinstance(name, str):
            raise ValueError(f"name must be a string, got {type(name).__name__}")
        if owner is not None and (not isinstance(owner, str) or not owner):
            raise ValueError(f"owner must be a non-empty string or None, got {owner!r}")
        if kind in CONFIG_CHECKS:
            config = _load_function(CONFIG_CHECKS[kind])(config)
        config_json = _encode_json(dict(config), "config")
        dataset, method = config.get("dataset"), config.get("method")
        if name is None:
            name = " ".join(str(part) for part in (kind, method, dataset) if part is not None)
        with self._write() as connection:
            self.refuse_over_limits(connection, owner, limits or QueueLimits(), new_runs=1)
            cursor = connection.execute(
                "INSERT INTO runs (created_at, name, kind, config, dataset, method, owner) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (time.time(), name, kind, config_json,
                 None if dataset is None else str(dataset), None if method is None else str(method), owner))
            return int(cursor.lastrowid)

    @staticmethod
    def refuse_over_limits(connection: sqlite3.Connection, owner: str | None, limits: QueueLimits, *,
                           new_runs: int) -> None:
        """Raise :class:`QueueFullError` when queueing ``new_runs`` runs for ``owner`` (inside the
        caller's write transaction) would pass ``limits``. For the per-owner limit a comparison counts
        once, whatever its number of arms."""
        active = "FROM runs WHERE status IN ('queued', 'running')"
        if limits.total is not None:
            waiting = connection.execute("SELECT COUNT(*) " + active).fetchone()[0]
            if waiting + new_runs > limits.total:
                raise QueueFullError(f"The queue is full ({waiting} runs waiting or running, the most this app "
                                     f"takes is {limits.total}); try again when one has finished.")
        if limits.per_owner is not None:
            mine = connection.execute(
                "SELECT COUNT(DISTINCT COALESCE('comparison ' || comparison_id, 'run ' || id)) " + active
                + " AND owner IS ?", (owner,)).fetchone()[0]
            if mine >= limits.per_owner:
                raise QueueFullError(f"You already have {mine} run{'s' if mine != 1 else ''} waiting or running (a "
                                     f"comparison counts as one), the most one session may have; wait for one to "
                                     f"finish or cancel one.")

    def get(self, run_id: int) -> RunRecord:
        """The run ``run_id``; raises :class:`RunNotFoundError` when there is none."""
        with self._read() as connection:
            return self._require(connection, run_id)

    def list_runs(self, status: str | None = None, dataset: str | None = None,
                  method: str | None = None, owner: str | None = None) -> list[RunRecord]:
        """Runs, newest first, optionally filtered (``owner``: only that owner's runs). Runs whose
        worker is gone are reconciled first."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        self.reconcile()
        filters = {"status": status, "dataset": dataset, "method": method, "owner": owner}
        where = [f"{column} = ?" for column, value in filters.items() if value is not None]
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        with self._read() as connection:
            rows = connection.execute(sql + " ORDER BY created_at DESC, id DESC",
                                      [value for value in filters.values() if value is not None])
            return [RunRecord._from_row(row, self.stale_after) for row in rows]

    def metrics(self, run_id: int) -> list[dict[str, Any]]:
        """The run's metrics in report order, one dict (step, epoch, name, value, time) per value."""
        with self._read() as connection:
            self._require(connection, run_id)
            rows = connection.execute("SELECT step, epoch, name, value, time FROM metrics WHERE run_id = ? "
                                      "ORDER BY rowid", (run_id,))
            return [dict(row) for row in rows]

    def points(self, run_id: int) -> list[dict[str, Any]]:
        """The run's evaluation points, one dict with the keys of ``POINT_FIELDS`` each."""
        with self._read() as connection:
            self._require(connection, run_id)
            rows = connection.execute(f"SELECT {', '.join(POINT_FIELDS)} FROM points WHERE run_id = ? "
                                      "ORDER BY rowid", (run_id,))
            return [dict(row) for row in rows]

    def logs(self, run_id: int, tail: int | None = 50) -> list[dict[str, Any]]:
        """The last ``tail`` log lines (all when ``None``), oldest first, as dicts (time, level, message)."""
        if tail is not None and tail < 0:
            raise ValueError(f"tail must be non-negative or None, got {tail}")
        with self._read() as connection:
            self._require(connection, run_id)
            rows = connection.execute("SELECT time, level, message FROM logs WHERE run_id = ? "
                                      "ORDER BY id DESC LIMIT ?", (run_id, -1 if tail is None else tail))
            return [dict(row) for row in reversed(rows.fetchall())]

    def request_cancel(self, run_id: int, owner: str | None = None) -> RunRecord:
        """Cancel a queued run at once, or ask a running one to stop (the worker enforces it).
        A finished run is left as it is. With ``owner``, only that owner's runs are found. Returns
        the run after the request."""
        with self._write() as connection:
            run = self._require(connection, run_id, owner)
            if run.status == "queued":
                connection.execute("UPDATE runs SET status = 'cancelled', cancel_requested = 1, finished_at = ? "
                                   "WHERE id = ?", (time.time(), run_id))
            elif run.status == "running":
                connection.execute("UPDATE runs SET cancel_requested = 1 WHERE id = ?", (run_id,))
            return self._require(connection, run_id)

    def delete(self, run_id: int, owner: str | None = None) -> None:
        """Remove a run, its metrics, points, logs and artifact folder. A running run is refused.
        With ``owner``, only that owner's runs are found."""
        with self._write() as connection:
            run = self._require(connection, run_id, owner)
            if run.status == "running":
                raise ValueError(f"run {run_id} is running; cancel it before deleting it")
            for table, column in (("metrics", "run_id"), ("points", "run_id"), ("logs", "run_id"), ("runs", "id")):
                connection.execute(f"DELETE FROM {table} WHERE {column} = ?", (run_id,))
        shutil.rmtree(self._artifact_dir(run_id), ignore_errors=True)

    def artifact_dir(self, run_id: int) -> Path:
        """The run's artifact folder, ``<db folder>/runs/<id>/`` (created when first written)."""
        self.get(run_id)
        return self._artifact_dir(run_id)

    def artifact_path(self, run_id: int, name: str) -> Path:
        """Where the artifact ``name`` (a plain file name) of the run lives."""
        return self.artifact_dir(run_id) / _check_artifact_name(name)

    def _artifact_dir(self, run_id: int) -> Path:
        return self.path.parent / "runs" / str(run_id)

    # -- the worker's and the job's API --------------------------------------------------------

    def claim_next(self, worker_pid: int, device: str) -> RunRecord | None:
        """Mark the oldest queued run as running on ``device`` by ``worker_pid`` and return it;
        ``None`` when nothing is queued or another run already runs on ``device``."""
        self.reconcile()
        with self._write() as connection:
            busy = connection.execute("SELECT 1 FROM runs WHERE status = 'running' AND device = ?", (device,))
            if busy.fetchone():
                return None
            row = connection.execute("SELECT id FROM runs WHERE status = 'queued' "
                                     "ORDER BY created_at, id LIMIT 1").fetchone()
            if row is None:
                return None
            now = time.time()
            connection.execute("UPDATE runs SET status = 'running', started_at = ?, heartbeat_at = ?, "
                               "worker_pid = ?, worker_started = ?, device = ? WHERE id = ?",
                               (now, now, worker_pid, process_start_time(worker_pid), device, row["id"]))
            return self._require(connection, row["id"])

    def heartbeat(self, run_id: int) -> None:
        """Record that the run's worker is alive."""
        with self._write() as connection:
            connection.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running'",
                               (time.time(), run_id))

    def job_heartbeat(self, run_id: int, job_pid: int) -> None:
        """Record that the run's job process ``job_pid`` is making progress."""
        with self._write() as connection:
            connection.execute("UPDATE runs SET job_pid = ?, job_heartbeat_at = ? WHERE id = ? AND status = 'running'",
                               (job_pid, time.time(), run_id))

    def finish(self, run_id: int, status: str, *, error: str | None = None,
               result: Mapping[str, Any] | None = None) -> bool:
        """Give a running run its final status. Returns ``False`` when the run was no longer
        running (already finished, or reconciled as orphaned), leaving it untouched."""
        if status not in FINISHED_STATUSES:
            raise ValueError(f"status must be one of {', '.join(FINISHED_STATUSES)}, got {status!r}")
        result_json = None if result is None else _encode_json(dict(result), "result")
        with self._write() as connection:
            cursor = connection.execute(
                "UPDATE runs SET status = ?, error = ?, result = COALESCE(?, result), finished_at = ? "
                "WHERE id = ? AND status = 'running'", (status, error, result_json, time.time(), run_id))
            return cursor.rowcount == 1

    def reconcile(self) -> list[int]:
        """Mark as failed every running run whose worker process is gone (a pid now held by a process
        that started later counts as gone). A stale heartbeat alone fails nothing: the run reads as
        not responding (:attr:`RunRecord.state`). Returns the ids marked."""
        with self._read() as connection:
            running = connection.execute("SELECT id, worker_pid, worker_started, heartbeat_at FROM runs "
                                         "WHERE status = 'running'").fetchall()
        now = time.time()
        orphaned = [row for row in running
                    if row["worker_pid"] is None or not pid_alive(row["worker_pid"], row["worker_started"])]
        marked = []
        for row in orphaned:
            with self._write() as connection:
                # The heartbeat in the condition keeps a run whose worker just spoke up.
                cursor = connection.execute(
                    "UPDATE runs SET status = 'failed', error = ?, finished_at = ? WHERE id = ? "
                    "AND status = 'running' AND heartbeat_at IS ?",
                    (f"worker process stopped unexpectedly (pid {row['worker_pid']})", now, row["id"],
                     row["heartbeat_at"]))
            if cursor.rowcount:
                marked.append(row["id"])
        return marked

    def log(self, run_id: int, message: str, level: str = "info") -> None:
        """Append a log line to the run."""
        if level not in LOG_LEVELS:
            raise ValueError(f"level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
        with self._write() as connection:
            connection.execute("INSERT INTO logs (run_id, time, level, message) VALUES (?, ?, ?, ?)",
                               (run_id, time.time(), level, str(message)))

    def report_metrics(self, run_id: int, step: int, epoch: int | None = None, **values: float) -> None:
        """Record named metric values of one step (and epoch) of the run."""
        if not values:
            raise ValueError("report_metrics needs at least one named value")
        now = time.time()
        with self._write() as connection:
            connection.executemany(
                "INSERT INTO metrics (run_id, step, epoch, name, value, time) VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, int(step), None if epoch is None else int(epoch), name,
                  None if value is None else float(value), now) for name, value in values.items()])

    def add_points(self, run_id: int, points: Sequence[Mapping[str, Any]]) -> None:
        """Record evaluation points: dicts with ``method``, ``protocol``, ``fraction`` and any of
        the other ``POINT_FIELDS``."""
        rows = []
        for point in points:
            unknown = set(point) - set(POINT_FIELDS)
            missing = [key for key in REQUIRED_POINT_FIELDS if point.get(key) is None]
            if unknown or missing:
                raise ValueError(f"invalid evaluation point {dict(point)!r}: unknown keys {sorted(unknown)}, "
                                 f"missing keys {missing}; the keys are {', '.join(POINT_FIELDS)}")
            rows.append([run_id] + [point.get(key, 0 if key == "pretrain_seed" else None) for key in POINT_FIELDS])
        with self._write() as connection:
            connection.executemany(f"INSERT INTO points (run_id, {', '.join(POINT_FIELDS)}) "
                                   f"VALUES ({', '.join('?' * (len(POINT_FIELDS) + 1))})", rows)

    def set_headline(self, run_id: int, name: str, value: float) -> None:
        """Set the run's headline metric (shown in lists)."""
        with self._write() as connection:
            connection.execute("UPDATE runs SET headline_name = ?, headline_value = ? WHERE id = ?",
                               (str(name), float(value), run_id))

    def set_timings(self, run_id: int, timings: Mapping[str, Any]) -> None:
        """Merge ``timings`` (e.g. seconds per phase) into the run's timings."""
        encoded = _encode_json(dict(timings), "timings")
        with self._write() as connection:
            connection.execute("UPDATE runs SET timings = json_patch(timings, ?) WHERE id = ?", (encoded, run_id))

    def write_artifact(self, run_id: int, name: str, data: bytes | str) -> Path:
        """Atomically write ``data`` to the run's artifact ``name`` and return its path."""
        path = self._artifact_dir(run_id) / _check_artifact_name(name)
        if isinstance(data, str):
            return atomic_write_text(path, data)
        return atomic_write_bytes(path, data)
