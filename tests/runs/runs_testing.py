"""Helpers of the run-store tests (a module of its own so test files can import them)."""

import time
from pathlib import Path

FAKE_JOBS_DIR = Path(__file__).resolve().parent
# `python -m sslcore` with only this area's commands, so the tests do not depend on the other
# areas' modules being present.
LAUNCHER = ("-c", "import sys, sslcore.cli as cli; cli.COMMAND_MODULES[:] = ['sslcore.runs.cli']; sys.exit(cli.main())")


def wait_for(predicate, timeout=15.0, interval=0.05):
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
