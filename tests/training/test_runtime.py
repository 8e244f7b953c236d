import subprocess
import sys

import pytest

from sslcore.paths import PROJECT_ROOT
from sslcore.training import runtime

# Allocates and frees a 64 MB block ten times (touching every page) and prints the page faults of
# the last nine rounds: with glibc's defaults every round maps fresh memory.
FAULTS = """
import resource, sys
from sslcore.training.runtime import tune_allocator
if sys.argv[1] == "tuned":
    assert tune_allocator().startswith("glibc malloc tuned")
block = bytearray(64 << 20)
del block
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(9):
    block = bytearray(64 << 20)
    block[::4096] = b"x" * len(block[::4096])
    del block
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(runtime, "_applied", None)
    monkeypatch.delenv(runtime.OPT_OUT, raising=False)
    monkeypatch.delenv("LD_PRELOAD", raising=False)


def _faults(mode: str) -> int:
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, env=env, check=True,
                          cwd=PROJECT_ROOT)
    return int(done.stdout)


@pytest.mark.skipif(runtime._glibc() is None, reason="mallopt is glibc's; this C library is another")
def test_tuned_glibc_reuses_freed_memory_instead_of_faulting_it_in_again():
    pages = 9 * (64 << 20) // 4096
    assert _faults("default") > pages // 2  # every round faults its pages in again
    assert _faults("tuned") < pages // 50  # the freed block is reused


class FakeGlibc:
    """Records mallopt calls; ``reject`` lists the parameters it refuses."""

    def __init__(self, reject=()):
        self.calls, self.reject = [], set(reject)

    def mallopt(self, parameter, value):
        self.calls.append((parameter, value))
        return 0 if parameter in self.reject else 1


def test_tune_allocator_sets_the_three_parameters_once_and_says_so(fresh, monkeypatch):
    libc = FakeGlibc()
    monkeypatch.setattr(runtime, "_glibc", lambda: libc)
    assert runtime.tune_allocator().startswith("glibc malloc tuned")
    assert libc.calls == list(runtime.ALLOCATOR_SETTINGS)
    runtime.tune_allocator()
    assert len(libc.calls) == 3  # only the first call acts


def test_a_rejected_parameter_is_reported(fresh, monkeypatch):
    monkeypatch.setattr(runtime, "_glibc", lambda: FakeGlibc(reject={runtime.M_TOP_PAD}))
    assert f"rejected mallopt parameters [{runtime.M_TOP_PAD}]" in runtime.tune_allocator()


def test_opt_out_leaves_the_defaults(fresh, monkeypatch):
    monkeypatch.setenv(runtime.OPT_OUT, "system")
    assert "MEDSSL_ALLOCATOR=system" in runtime.tune_allocator()


def test_without_glibc_or_with_another_malloc_nothing_changes(fresh, monkeypatch):
    monkeypatch.setattr(runtime, "_glibc", lambda: None)
    assert "not glibc" in runtime.tune_allocator()
    monkeypatch.setattr(runtime, "_applied", None)
    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/libjemalloc.so.2")
    assert "LD_PRELOAD" in runtime.tune_allocator()
