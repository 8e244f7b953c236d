"""``python -m sslcore worker`` and ``python -m sslcore runs list|show|cancel|delete``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sslcore.runs.store import STATUSES, RunRecord, RunStore
from sslcore.runs.worker import EXECUTORS, Worker
from sslcore.training.config import DEVICES


def register(subparsers) -> None:
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--db", type=Path, help="run database (default $MEDSSL_RUNS_DB, else runs.sqlite in the data folder)")

    worker = subparsers.add_parser(
        "worker", parents=[db], help="execute queued runs",
        description="Execute queued runs oldest first, one at a time, each in a child process. "
                    "A job that crashes fails only its run; a cancelled job that does not stop is killed.")
    worker.add_argument("--once", action="store_true", help="execute at most one queued run, then exit")
    worker.add_argument("--device", choices=DEVICES, default="auto",
                        help="device for the runs (default auto: cuda, then mps, then cpu)")
    worker.add_argument("--executor", action="append", default=[], metavar="KIND=MODULE:FUNCTION",
                        help="the function that executes runs of KIND (repeatable; default: "
                             + ", ".join(f"{kind}={spec}" for kind, spec in EXECUTORS.items()) + ")")
    worker.add_argument("--idle-exit", type=float, metavar="SECONDS",
                        help="exit after this many seconds with nothing queued (default: wait forever)")
    worker.add_argument("--poll-interval", type=float, default=1.0, metavar="SECONDS",
                        help="seconds between looks at the queue and heartbeats (default 1)")
    worker.add_argument("--cancel-grace", type=float, default=10.0, metavar="SECONDS",
                        help="seconds a cancelled job has to stop before it is killed (default 10)")
    worker.set_defaults(func=run_worker)

    runs = subparsers.add_parser("runs", help="list, show, cancel or delete runs",
                                 description="Inspect and manage the runs in the run store.")
    actions = runs.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=[db], help="list runs, newest first",
                                 description="List runs, newest first.")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--dataset")
    listing.add_argument("--method")
    listing.set_defaults(func=list_runs)
    show = actions.add_parser("show", parents=[db], help="show one run with its last log lines",
                              description="Show one run: its fields, result, evaluation points and last log lines.")
    show.add_argument("id", type=int)
    show.add_argument("--tail", type=int, default=20, help="log lines to show (default 20)")
    show.set_defaults(func=show_run)
    cancel = actions.add_parser("cancel", parents=[db], help="cancel a queued or running run",
                                description="Cancel a queued run at once, or ask a running one to stop.")
    cancel.add_argument("id", type=int)
    cancel.set_defaults(func=cancel_run)
    delete = actions.add_parser("delete", parents=[db], help="delete a run and its artifacts",
                                description="Delete a finished or queued run with its metrics, logs and artifacts.")
    delete.add_argument("id", type=int)
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(func=delete_run)


def _store(args: argparse.Namespace) -> RunStore:
    return RunStore(args.db)


def _executors(pairs: list[str]) -> dict[str, str]:
    """``["experiment=pkg.mod:execute"]`` -> ``{"experiment": "pkg.mod:execute"}``."""
    table = {}
    for pair in pairs:
        kind, separator, spec = pair.partition("=")
        if not separator:
            raise ValueError(f"--executor must look like KIND=package.module:function, got {pair!r}")
        table[kind.strip()] = spec.strip()
    return table


def run_worker(args: argparse.Namespace) -> int:
    worker = Worker(_store(args), device=args.device, executors=_executors(args.executor),
                    poll_interval=args.poll_interval, cancel_grace=args.cancel_grace, idle_exit=args.idle_exit)
    print(f"worker pid {worker.pid} on {worker.device}, store {worker.store.path}", flush=True)
    executed = worker.run(once=args.once)
    print(f"worker pid {worker.pid} exits after {executed} run(s)", flush=True)
    return 0


def _when(timestamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp)) if timestamp else "-"


def _headline(run: RunRecord) -> str:
    return f"{run.headline_name} {run.headline_value:.4f}" if run.headline_name else "-"


def list_runs(args: argparse.Namespace) -> int:
    runs = _store(args).list_runs(status=args.status, dataset=args.dataset, method=args.method)
    if not runs:
        print("no runs")
        return 0
    rows = [("ID", "STATUS", "CREATED", "NAME", "HEADLINE")]
    rows += [(str(run.id), run.state, _when(run.created_at), run.name, _headline(run)) for run in runs]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def show_run(args: argparse.Namespace) -> int:
    store = _store(args)
    store.reconcile()
    run = store.get(args.id)
    duration = f"{run.duration:.1f} s" if run.duration is not None else "-"
    for label, value in (("id", run.id), ("name", run.name), ("kind", run.kind), ("status", run.state),
                         ("created", _when(run.created_at)), ("started", _when(run.started_at)),
                         ("finished", _when(run.finished_at)), ("duration", duration), ("device", run.device or "-"),
                         ("headline", _headline(run)), ("error", run.error or "-"),
                         ("artifacts", store.artifact_dir(run.id))):
        print(f"{label:10} {value}")
    print("config    ", json.dumps(run.config, sort_keys=True))
    if run.timings:
        print("timings   ", json.dumps(run.timings, sort_keys=True))
    if run.result is not None:
        print("result    ", json.dumps(run.result, sort_keys=True))
    print(f"points     {len(store.points(run.id))}")
    logs = store.logs(run.id, tail=args.tail)
    if logs:
        print("log:")
        for line in logs:
            print(f"  {_when(line['time'])} {line['level']:7} {line['message']}")
    return 0


def cancel_run(args: argparse.Namespace) -> int:
    store = _store(args)
    run = store.get(args.id)
    if run.finished:
        print(f"run {run.id} already finished ({run.status}); nothing to cancel")
    elif store.request_cancel(run.id).status == "cancelled":
        print(f"run {run.id} cancelled")
    else:
        print(f"run {run.id} asked to stop; the worker cancels it within a few seconds")
    return 0


def delete_run(args: argparse.Namespace) -> int:
    store = _store(args)
    run = store.get(args.id)
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"refusing to delete run {run.id} without confirmation; pass --yes", file=sys.stderr)
            return 1
        if input(f"delete run {run.id} ({run.name}, {run.status}) and its artifacts? [y/N] ").strip().lower() != "y":
            print("not deleted")
            return 1
    store.delete(run.id)
    print(f"run {run.id} deleted")
    return 0
