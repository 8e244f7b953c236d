"""The leaderboard of a comparison: every arm's test AUC per label fraction with its interval, its
paired difference against training from scratch and against the best arm, its pretraining cost,
and whether its pretraining beat a random encoder.

Built from :class:`ArmResult` s, which come from runs made here (``run_comparison``) or from the run
store (``sslcore.runs.comparisons.arm_results``); every pair of arms compared must share one test set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from sslcore.evaluate.compare import compare_arms, paired_bootstrap


@dataclass
class ArmResult:
    """What one arm produced (or why it could not run).

    Attributes:
        name: the arm's name (``Arm.name``).
        key: the name its points carry (``sslcore.experiments.runner.arm_name``).
        points: its evaluation points; scores: their test scores (``Arm.key`` keys); labels: the test labels.
        task: the dataset's task; fingerprint: the test split's sha256.
        pretrain_s, images_per_second: its pretraining cost; learning: ``learning_check``'s result.
        unavailable: why it did not run ("" when it did).
    """

    name: str
    key: str = ""
    points: list[dict[str, Any]] = field(default_factory=list)
    scores: dict = field(default_factory=dict)
    labels: torch.Tensor | None = None
    task: str = ""
    fingerprint: str = ""
    pretrain_s: float | None = None
    images_per_second: float | None = None
    learning: dict[str, Any] | None = None
    unavailable: str = ""


def _protocol(results: list[ArmResult]) -> str:
    protocols = {p["protocol"] for r in results for p in r.points if p["method"] == r.key}
    return next(p for p in ("finetune", "linear", "knn") if p in protocols)


def leaderboard(results: list[ArmResult], *, n_resamples: int = 1000) -> dict[str, Any]:
    """The leaderboard of ``results`` (their first run also gives the from-scratch arm).

    Returns:
        ``protocol`` (fine-tuning where evaluated), ``fractions``, ``arms`` (each: ``name``, ``auc`` per
        fraction with ``mean``/``low``/``high``, ``pretrain_s``, ``images_per_second``, ``beat_random``,
        ``unavailable``), ``best`` (the best arm per fraction) and ``comparisons`` (each arm against
        ``from scratch`` and against the best arm, with the verdict words of ``sslcore.evaluate.compare``).

    Raises:
        ValueError: arms scored on different test sets.
    """
    from sslcore.experiments.comparison import SCRATCH

    ran = [r for r in results if not r.unavailable]
    if not ran:
        return {"protocol": None, "fractions": [], "arms": [_row(r, {}) for r in results], "best": {},
                "comparisons": []}
    if len({r.fingerprint for r in ran}) > 1:
        raise ValueError("the arms were not scored on the same test set (their test fingerprints differ)")
    protocol = _protocol(ran)
    base = ran[0]
    scratch = ArmResult(name=SCRATCH, key="supervised", points=base.points, scores=base.scores, labels=base.labels,
                        task=base.task, fingerprint=base.fingerprint)
    fractions = sorted({p["fraction"] for p in base.points})
    entries = [(scratch, "finetune")] + [(r, protocol) for r in ran]
    aucs = {r.name: {f: _interval(r, arm_protocol, f, n_resamples) for f in fractions} for r, arm_protocol in entries}
    best = {f: max(aucs, key=lambda name: aucs[name][f]["mean"]) for f in fractions}
    by_name = {r.name: (r, arm_protocol) for r, arm_protocol in entries}
    comparisons = []
    for r in ran:
        for f in fractions:
            n = next(p["n_labelled"] for p in r.points if p["fraction"] == f)
            for against_name in dict.fromkeys((SCRATCH, best[f])):
                if against_name == r.name:
                    continue
                other, other_protocol = by_name[against_name]
                c = compare_arms(r.scores, r.labels, r.task, (r.key, protocol), (other.key, other_protocol), f, n,
                                 other_scores=other.scores, n_resamples=n_resamples)
                if c is not None:
                    comparisons.append({**c.to_dict(), "arm": r.name, "against": against_name})
    arms = [_row(scratch, aucs[SCRATCH])] + [_row(r, aucs.get(r.name, {})) for r in results]
    return {"protocol": protocol, "fractions": fractions, "arms": arms, "best": best, "comparisons": comparisons}


def _interval(result: ArmResult, protocol: str, fraction: float, n_resamples: int) -> dict[str, float]:
    """Mean test AUC over the arm's seeds at one fraction, with its bootstrap interval."""
    replicates = [(value, None) for key, value in result.scores.items()
                  if key[0] == result.key and key[1] == protocol and abs(key[2] - fraction) < 1e-9]
    if not replicates:
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan")}
    mean, low, high = paired_bootstrap(replicates, result.labels, result.task, n_resamples=n_resamples)
    return {"mean": mean, "low": low, "high": high}


def _row(result: ArmResult, auc: dict[float, dict[str, float]]) -> dict[str, Any]:
    return {"name": result.name, "auc": auc, "pretrain_s": result.pretrain_s,
            "images_per_second": result.images_per_second,
            "beat_random": None if result.learning is None else result.learning["beat_random"],
            "unavailable": result.unavailable}


def leaderboard_table(board: dict[str, Any]):
    """The leaderboard as a DataFrame for a page or a CSV: one row per arm, ``AUC at f`` columns
    (mean [low, high]), the differences against scratch and against the best arm at the smallest
    fraction, the pretraining cost and the random-encoder check."""
    import pandas as pd

    fractions = board["fractions"]
    smallest = fractions[0] if fractions else None
    rows = []
    for arm in board["arms"]:
        row = {"arm": arm["name"]}
        for f in fractions:
            value = arm["auc"].get(f)
            row[f"AUC at {f:.0%}"] = ("not run" if value is None else
                                      f"{value['mean']:.3f} [{value['low']:.3f}, {value['high']:.3f}]")
        for against, column in (("from scratch", "vs from scratch"), (board["best"].get(smallest), "vs best")):
            match = [c for c in board["comparisons"] if c["arm"] == arm["name"] and c["against"] == against
                     and c["fraction"] == smallest]
            row[f"{column} at {smallest:.0%}" if smallest else column] = (
                f"{match[0]['mean_difference']:+.3f} [{match[0]['ci_low']:+.3f}, {match[0]['ci_high']:+.3f}] "
                f"{match[0]['verdict']}" if match else "")
        row["pretraining (s)"] = None if arm["pretrain_s"] is None else round(arm["pretrain_s"], 1)
        row["images/s"] = None if arm["images_per_second"] is None else round(arm["images_per_second"])
        row["beats a random encoder"] = {True: "yes", False: "no", None: ""}[arm["beat_random"]]
        row["note"] = arm["unavailable"] or ("" if arm["name"] != "from scratch" else "every run's supervised baseline")
        rows.append(row)
    return pd.DataFrame(rows)
