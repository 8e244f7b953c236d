"""Comparisons in the run store: a comparison is a row of its own whose arms are ordinary experiment
runs linked to it (``runs.comparison_id``, ``runs.arm``), so it survives restarts, is cancelled as a
whole, and its leaderboard is built from the arms' artifacts (``scores.npz``)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from sslcore.runs.store import RunRecord, RunStore

ACTIVE = ("queued", "running")


@dataclass
class ComparisonRecord:
    """A stored comparison: its config (``ComparisonConfig.to_dict()``) and its arms' runs."""

    id: int
    name: str
    created_at: float
    config: dict[str, Any]
    runs: list[RunRecord] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``running`` while an arm is queued or running, else ``finished``."""
        return "running" if any(run.status in ACTIVE for run in self.runs) else "finished"


def create_comparison(store: RunStore, config, *, owner: str | None = None, limits=None) -> int:
    """Store ``config`` (a ``ComparisonConfig``) and queue one experiment run per available arm, all in
    one transaction; arms that cannot run here are recorded in the config (``unavailable``).

    Args:
        store: the run store.
        config: the comparison.
        owner: who queues it (a classroom session's token); None for the machine's user.
        limits: ``QueueLimits``; for the per-owner limit the comparison counts as one run.

    Raises:
        ValueError: an arm's experiment does not pass the config check, or no arm can run here.
        QueueFullError: a limit is reached; nothing is queued.
    """
    from sslcore.experiments.comparison import unavailable_arms
    from sslcore.experiments.config import checked_experiment_dict
    from sslcore.runs.store import QueueLimits

    unavailable = unavailable_arms(config)
    stored = {**config.to_dict(), "unavailable": unavailable}
    arms = [(arm.name, checked_experiment_dict(config.experiment(arm).to_dict()))
            for arm in config.arms if arm.name not in unavailable]
    if not arms:
        raise ValueError("no arm of this comparison can run here: " + "; ".join(f"{k}: {v}" for k, v in unavailable.items()))
    with store._write() as connection:
        store.refuse_over_limits(connection, owner, limits or QueueLimits(), new_runs=len(arms))
        cursor = connection.execute("INSERT INTO comparisons (created_at, name, config) VALUES (?, ?, ?)",
                                    (time.time(), config.name, json.dumps(stored, sort_keys=True)))
        comparison_id = int(cursor.lastrowid)
        for arm, experiment in arms:
            connection.execute(
                "INSERT INTO runs (created_at, name, kind, config, dataset, method, comparison_id, arm, owner) "
                "VALUES (?, ?, 'experiment', ?, ?, ?, ?, ?, ?)",
                (time.time(), f"{config.name}: {arm}", json.dumps(experiment, sort_keys=True),
                 str(experiment["dataset"]), str(experiment["method"]), comparison_id, arm, owner))
    return comparison_id


def get_comparison(store: RunStore, comparison_id: int) -> ComparisonRecord:
    """One comparison with its runs (in the order of its arms); ValueError when there is none."""
    with store._read() as connection:
        row = connection.execute("SELECT * FROM comparisons WHERE id = ?", (comparison_id,)).fetchone()
        if row is None:
            raise ValueError(f"no comparison with id {comparison_id} in {store.path}")
        runs = [RunRecord._from_row(r) for r in
                connection.execute("SELECT * FROM runs WHERE comparison_id = ? ORDER BY id", (comparison_id,))]
    return ComparisonRecord(id=row["id"], name=row["name"], created_at=row["created_at"],
                            config=json.loads(row["config"]), runs=runs)


def list_comparisons(store: RunStore, owner: str | None = None) -> list[ComparisonRecord]:
    """Every comparison, newest first; with ``owner``, only those whose arms that owner queued."""
    store.reconcile()
    with store._read() as connection:
        if owner is None:
            rows = connection.execute("SELECT id FROM comparisons ORDER BY id DESC")
        else:
            rows = connection.execute("SELECT DISTINCT comparison_id FROM runs WHERE owner = ? AND comparison_id "
                                      "IS NOT NULL ORDER BY comparison_id DESC", (owner,))
        ids = [row[0] for row in rows]
    return [get_comparison(store, comparison_id) for comparison_id in ids]


def cancel_comparison(store: RunStore, comparison_id: int) -> ComparisonRecord:
    """Cancel every arm still queued or running."""
    for run in get_comparison(store, comparison_id).runs:
        if run.status in ACTIVE:
            store.request_cancel(run.id)
    return get_comparison(store, comparison_id)


def arm_results(store: RunStore, record: ComparisonRecord) -> list:
    """The :class:`sslcore.experiments.leaderboard.ArmResult` of each arm: finished ones from their
    artifacts, unavailable and unfinished ones with a reason."""
    from sslcore.evaluate.compare import load_scores
    from sslcore.experiments.leaderboard import ArmResult
    from sslcore.experiments.runner import arm_name

    unavailable = record.config.get("unavailable", {})
    by_arm = {run.arm: run for run in record.runs}
    results = []
    for arm in record.config["arms"]:
        name = _arm_name(arm)
        run = by_arm.get(name)
        if name in unavailable or run is None:
            results.append(ArmResult(name=name, unavailable=unavailable.get(name, "not queued")))
            continue
        path = store.artifact_path(run.id, "scores.npz")
        if run.status != "succeeded" or not path.exists():
            results.append(ArmResult(name=name, unavailable=f"run #{run.id} is {run.status}"))
            continue
        scores, labels, fingerprint, task = load_scores(path)
        config, result = run.config, run.result or {}
        results.append(ArmResult(
            name=name, key=arm_name(config["method"], config.get("init", "random"), config["epochs"]),
            points=store.points(run.id), scores=scores, labels=labels,
            task=task,
            fingerprint=fingerprint, pretrain_s=run.timings.get("pretrain_s"),
            images_per_second=result.get("images_per_second"), learning=result.get("learning")))
    return results


def _arm_name(values: dict[str, Any]) -> str:
    from sslcore.experiments.comparison import Arm

    return Arm(**values).name
