"""Shared helpers of the run-store tests: a store in tmp_path and real worker processes."""

import os
import subprocess
import sys

import pytest

from runs_testing import FAKE_JOBS_DIR, LAUNCHER
from sslcore.paths import PROJECT_ROOT
from sslcore.runs import RunStore


@pytest.fixture
def subprocess_env(monkeypatch):
    """Environment in which child processes import sslcore and the fake jobs."""
    path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), str(FAKE_JOBS_DIR), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)
    monkeypatch.syspath_prepend(str(FAKE_JOBS_DIR))
    return dict(os.environ)


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "db" / "runs.sqlite")


@pytest.fixture
def start_worker(store, subprocess_env):
    """Start ``python -m sslcore worker`` on the test store with the fake executor; killed at teardown."""
    processes = []

    def start(*extra: str) -> subprocess.Popen:
        command = [sys.executable, *LAUNCHER, "worker", "--db", str(store.path), "--device", "cpu",
                   "--executor", "test=fake_jobs:dispatch", "--poll-interval", "0.1", *extra]
        process = subprocess.Popen(command, env=subprocess_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()
