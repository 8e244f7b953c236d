"""The worker: takes queued runs in order and executes each in a child process.

The child process runs the executor registered for the run's kind (:data:`EXECUTORS`: kind ->
``module:function``, called as ``execute(run, ctx)``); the worker supervises it: it writes the
run's heartbeat, enforces cancellation (a job that ignores :meth:`RunContext.should_stop` is
killed after a grace period) and marks a job that dies without reporting as failed, then goes on
with the next run. The job writes a heartbeat of its own while its main thread makes progress, so
a job that hangs reads as not responding (``RunRecord.state``) while its worker is fine. Torch is
only imported by the executor (and by ``--device auto``), so the worker itself starts fast.

The pid file beside the database records the worker's pid and its process start time
(``sslcore.runs.store.process_start_time``), so that a pid the system has given to another process
since is not taken for a live worker.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from sslcore.io import atomic_write_text
from sslcore.paths import PROJECT_ROOT
from sslcore.runs.store import RunRecord, RunStore, default_db_path, pid_alive, process_start_time
from sslcore.training.config import DEVICES
from sslcore.training.runtime import tune_allocator

# What executes a run of each kind (``RunStore.create_run(kind, ...)``).
EXECUTORS = {"experiment": "sslcore.runs.experiment_executor:execute"}
# How ensure_worker starts a worker: ``python <WORKER_ENTRY> worker --db ...``.
WORKER_ENTRY = ("-m", "sslcore")
PID_FILE, LOCK_FILE, LOG_FILE = "worker.pid", "worker.lock", "worker.log"
# Jobs train at a lower CPU priority than the app (Unix niceness, 0 to 19): while pages are being
# served they wait for the server, and on an idle machine they run at full speed.
JOB_NICENESS = 10

Executor = Callable[[RunRecord, "RunContext"], "Mapping[str, Any] | None"]


class RunContext:
    """What an executor gets to talk to the store; everything it writes is visible at once.

    Args:
        store: the run store.
        run: the run being executed.
        stop_check_interval: :meth:`should_stop` reads the store at most this often (seconds).
    """

    def __init__(self, store: RunStore, run: RunRecord, *, stop_check_interval: float = 0.5) -> None:
        self.store = store
        self.run_id = run.id
        self.config = run.config
        self.device = run.device or "cpu"
        self.artifact_dir = store.artifact_dir(run.id)
        self._stop_check_interval = stop_check_interval
        self._last_stop_check = float("-inf")
        self._stop = False

    def log(self, message: str, level: str = "info") -> None:
        """Append a line to the run's log (levels: debug, info, warning, error)."""
        self.store.log(self.run_id, message, level)

    def report_metrics(self, step: int, epoch: int | None = None, **values: float) -> None:
        """Record named values (``loss=0.5, lr=1e-3``) of a training step."""
        self.store.report_metrics(self.run_id, step, epoch, **values)

    def add_points(self, points: Sequence[Mapping[str, Any]]) -> None:
        """Record evaluation points (see ``sslcore.runs.store.POINT_FIELDS``)."""
        self.store.add_points(self.run_id, points)

    def set_headline(self, name: str, value: float) -> None:
        """Set the metric that lists show for the run."""
        self.store.set_headline(self.run_id, name, value)

    def set_timings(self, timings: Mapping[str, Any]) -> None:
        """Merge timings (seconds per phase ...) into the run's."""
        self.store.set_timings(self.run_id, timings)

    def write_artifact(self, name: str, data: bytes | str) -> Path:
        """Atomically write an artifact (a plain file name) into the run's folder."""
        return self.store.write_artifact(self.run_id, name, data)

    def should_stop(self) -> bool:
        """Whether cancellation was requested; poll it between steps and return soon after."""
        now = time.monotonic()
        if not self._stop and now - self._last_stop_check >= self._stop_check_interval:
            self._last_stop_check = now
            self._stop = self.store.get(self.run_id).cancel_requested
        return self._stop


def check_executor_spec(spec: str) -> str:
    """Check that ``spec`` has the form ``module:function``; return it."""
    module, _, function = spec.partition(":")
    if not module or not function.isidentifier():
        raise ValueError(f"executor must look like 'package.module:function', got {spec!r}")
    return spec


def executor_table(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """:data:`EXECUTORS` with ``overrides`` (kind -> ``module:function``) on top, each checked."""
    table = {**EXECUTORS, **(overrides or {})}
    for kind, spec in table.items():
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"an executor's kind must be a non-empty string, got {kind!r}")
        check_executor_spec(spec)
    return table


def load_executor(spec: str) -> Executor:
    """Import the executor named ``module:function``."""
    module_name, _, function_name = check_executor_spec(spec).partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(f"cannot load executor {spec!r}: {error}") from error
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ImportError(f"cannot load executor {spec!r}: {module_name} has no function {function_name!r}")
    return function


def _exit_with_parent(parent_pid: int, interval: float) -> None:
    """End this process when the worker that started it is gone, so a killed worker leaves no
    orphaned job computing."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-worker", daemon=True).start()


def _main_thread_position() -> tuple[int, int, int] | None:
    """Where the main thread is: its innermost frame's code, line and last instruction."""
    frame = sys._current_frames().get(threading.main_thread().ident)
    return None if frame is None else (id(frame.f_code), frame.f_lineno, frame.f_lasti)


def _beat_while_progressing(store: RunStore, run_id: int, interval: float) -> None:
    """Write the job's heartbeat now, then every ``interval`` seconds in which the main thread moved
    on. A job whose main thread waits on a lock, a sleep or a read for good, or that holds the
    interpreter in a stuck C call, stops beating, and the run reads as not responding."""
    pid = os.getpid()
    store.job_heartbeat(run_id, pid)

    def beat() -> None:
        last = _main_thread_position()
        while True:
            time.sleep(interval)
            position = _main_thread_position()
            if position != last:
                with contextlib.suppress(Exception):  # a busy store skips a beat, never ends the job
                    store.job_heartbeat(run_id, pid)
            last = position

    threading.Thread(target=beat, name="job-heartbeat", daemon=True).start()


def _execute_in_child(db_path: str, run_id: int, executor: str | None, parent_pid: int, poll_interval: float) -> None:
    """Body of the job process: run the executor and record the run's outcome."""
    tune_allocator()  # a spawned process starts with glibc's defaults
    with contextlib.suppress(AttributeError, OSError):  # no os.nice on Windows
        os.nice(max(0, JOB_NICENESS - os.nice(0)))
    _exit_with_parent(parent_pid, poll_interval)
    store = RunStore(db_path)
    _beat_while_progressing(store, run_id, poll_interval)
    run = store.get(run_id)
    context = RunContext(store, run, stop_check_interval=min(0.5, poll_interval))
    try:
        if executor is None:
            raise ValueError(f"no executor for runs of kind {run.kind!r} (known: {', '.join(EXECUTORS)})")
        result = load_executor(executor)(run, context)
        if result is not None and not isinstance(result, Mapping):
            raise TypeError(f"the executor must return a dict or None, got {type(result).__name__}")
    except Exception as error:
        store.log(run_id, traceback.format_exc(), "error")
        status = "cancelled" if store.get(run_id).cancel_requested else "failed"
        store.finish(run_id, status, error=f"{type(error).__name__}: {error}")
        return
    status = "cancelled" if store.get(run_id).cancel_requested else "succeeded"
    store.finish(run_id, status, result=result)


def _describe_exit(exitcode: int) -> str:
    if exitcode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by signal {signal.Signals(-exitcode).name}"
        return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class Worker:
    """Executes queued runs one at a time, each in a child process (spawn).

    Args:
        store: the run store; default the user's (:func:`default_db_path`).
        device: ``auto`` (cuda, then mps, then cpu), ``cpu``, ``cuda`` or ``mps``.
        executors: kind -> ``module:function`` on top of :data:`EXECUTORS`; the function is called
            as ``execute(run, ctx)`` in the child and imported there, so a missing module fails the
            run, not the worker.
        poll_interval: seconds between looks at the queue and between heartbeats.
        cancel_grace: seconds a job has to stop after cancellation before it is killed.
        idle_exit: exit after this many seconds without a queued run; ``None`` waits forever.
    """

    def __init__(self, store: RunStore | None = None, *, device: str = "auto",
                 executors: Mapping[str, str] | None = None, poll_interval: float = 1.0, cancel_grace: float = 10.0,
                 idle_exit: float | None = None) -> None:
        if device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
        if poll_interval <= 0 or cancel_grace < 0 or (idle_exit is not None and idle_exit < 0):
            raise ValueError("poll_interval must be positive and cancel_grace, idle_exit non-negative; got "
                             f"{poll_interval}, {cancel_grace}, {idle_exit}")
        self.store = store or RunStore()
        self.device = device if device == "cpu" else self._resolve(device)
        self.executors = executor_table(executors)
        self.poll_interval = poll_interval
        self.cancel_grace = cancel_grace
        self.idle_exit = idle_exit
        self.pid = os.getpid()

    @staticmethod
    def _resolve(device: str) -> str:
        from sslcore.training import resolve_device  # imports torch

        return resolve_device(device).type

    def run(self, *, once: bool = False) -> int:
        """Execute queued runs oldest first until idle for ``idle_exit`` seconds (or, with
        ``once``, after at most one run). Returns the number of runs executed."""
        executed = 0
        idle_since = time.monotonic()
        with _stop_on_sigterm():
            self.store.reconcile()
            while True:
                run = self.store.claim_next(self.pid, self.device)
                if run is not None:
                    self.execute(run)
                    executed += 1
                    idle_since = time.monotonic()
                if once or (run is None and self.idle_exit is not None
                            and time.monotonic() - idle_since >= self.idle_exit and self._leave_when_idle()):
                    return executed
                if run is None:
                    time.sleep(self.poll_interval)

    def execute(self, run: RunRecord) -> RunRecord:
        """Execute a run already claimed by this worker in a child process; returns it finished."""
        child = multiprocessing.get_context("spawn").Process(
            target=_execute_in_child, name=f"medssl-run-{run.id}",
            args=(str(self.store.path), run.id, self.executors.get(run.kind), self.pid, self.poll_interval))
        child.start()
        self.store.log(run.id, f"started on {self.device} by worker pid {self.pid} (job pid {child.pid})")
        try:
            self._supervise(run.id, child)
        except BaseException:  # the worker itself is stopping: the run must not stay "running"
            child.kill()
            child.join()
            self.store.finish(run.id, "failed", error=f"worker process stopped (pid {self.pid}) during the run")
            raise
        if self.store.get(run.id).status == "running":  # the job died without recording an outcome
            status = "cancelled" if self.store.get(run.id).cancel_requested else "failed"
            self.store.finish(run.id, status, error=f"job process exited unexpectedly ({_describe_exit(child.exitcode)})")
        return self.store.get(run.id)

    def _supervise(self, run_id: int, child: multiprocessing.process.BaseProcess) -> None:
        cancelled_at = None
        while True:
            child.join(self.poll_interval)
            if child.exitcode is not None:
                return
            self.store.heartbeat(run_id)
            if cancelled_at is None and self.store.get(run_id).cancel_requested:
                cancelled_at = time.monotonic()
                self.store.log(run_id, "cancellation requested")
            if cancelled_at is not None and time.monotonic() - cancelled_at > self.cancel_grace:
                child.kill()
                child.join()
                self.store.finish(run_id, "cancelled",
                                  error=f"cancelled; the job did not stop within {self.cancel_grace:g} s and was killed")
                return

    def _leave_when_idle(self) -> bool:
        # Under the lock that ensure_worker takes: a run queued before this check is seen here,
        # one queued after it finds no pid file and gets a new worker.
        with _folder_lock(self.store.path.parent):
            if self.store.list_runs(status="queued"):
                return False
            pid_file = self.store.path.parent / PID_FILE
            if _read_pid(pid_file)[0] == self.pid:
                pid_file.unlink()
            return True


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so that a stopped worker finishes its run as failed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read_pid(path: Path) -> tuple[int | None, str | None]:
    """The pid and process start time a pid file records (``"<pid> <start>"``); None for what it lacks."""
    try:
        pid, _, started = path.read_text().strip().partition(" ")
        return int(pid), started or None
    except (OSError, ValueError):
        return None, None


def _worker_alive(pid: int | None, started: str | None) -> bool:
    """Whether the pid file names a live worker: the pid exists and started when the file says. A
    file without a start time is trusted only where the system tells no start times."""
    if pid is None:
        return False
    if started is None:
        return process_start_time(os.getpid()) is None and pid_alive(pid)
    return pid_alive(pid, started)


def ensure_worker(db_path: str | Path | None = None, *, device: str = "auto", idle_exit: float | None = 600.0) -> int:
    """Start a detached worker for the store at ``db_path`` unless the one started before is alive.

    A lock and a pid file beside the database make concurrent calls (two browser tabs) start one
    worker; the pid file also records the worker's start time, so that a pid reused by another
    process since does not pass for the worker. Its output goes to ``worker.log`` beside the database.

    Args:
        db_path: the database; default :func:`default_db_path`.
        device: the device of a worker started now (see :class:`Worker`).
        idle_exit: the worker exits after this many seconds without a queued run; queue runs
            before calling this so that a worker about to leave still sees them.

    Returns:
        The worker's pid.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    path = Path(db_path).expanduser().resolve() if db_path is not None else default_db_path().resolve()
    folder = path.parent
    with _folder_lock(folder):
        pid, started = _read_pid(folder / PID_FILE)
        if _worker_alive(pid, started):
            return pid
        command = [sys.executable, *WORKER_ENTRY, "worker", "--db", str(path), "--device", device]
        if idle_exit is not None:
            command += ["--idle-exit", str(idle_exit)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])))
        with open(folder / LOG_FILE, "ab") as log:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True, env=env)
        atomic_write_text(folder / PID_FILE, f"{process.pid} {process_start_time(process.pid) or ''}".rstrip() + "\n")
        return process.pid
