"""Timing of training steps (sslcore.training.step.timed_steps)."""

import time

import pytest

from sslcore.training.step import timed_steps


def test_the_median_ignores_a_few_slow_steps_and_the_mean_does_not(monkeypatch):
    clock = {"now": 0.0, "durations": iter(())}
    monkeypatch.setattr(time, "perf_counter", lambda: clock["now"])

    def step():
        clock["now"] += next(clock["durations"])

    clock["durations"] = iter([0.0, 0.0, 0.3, 0.0, 0.0])  # one step slowed by another process
    assert timed_steps(step, 0, 5, lambda: None, median=True) == 0.0
    clock["durations"] = iter([0.0, 0.0, 0.3, 0.0, 0.0])
    assert timed_steps(step, 0, 5, lambda: None) == pytest.approx(0.06)


def test_bad_step_counts_are_refused():
    with pytest.raises(ValueError):
        timed_steps(lambda: None, -1, 3, lambda: None)
    with pytest.raises(ValueError):
        timed_steps(lambda: None, 0, 0, lambda: None)
