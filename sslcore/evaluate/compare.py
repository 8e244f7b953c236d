"""Paired comparisons: is one arm better than another on the same test images?

For two arms evaluated on the same test split, each replicate (an evaluation seed, and a
pretraining seed where there are several) gives a pair of test scores. The difference of their AUCs
is averaged over replicates; its 95% interval comes from a two-level paired bootstrap: replicates
are resampled with replacement, and within each one the test images are resampled, the same
resample for both arms, so that what the two arms share (the images) cancels and what differs
(training randomness, which labelled subset, which test images) is in the interval (Davison &
Hinkley, 1997, "Bootstrap Methods and their Application", sec. 3.8 on hierarchical data). The
verdict comes from the interval alone: above zero "better", below zero "worse", and otherwise "no
detectable difference".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import torch

from sslcore.evaluate.metrics import auc_under_weights, bootstrap_weights

VERDICTS = ("better", "no detectable difference", "worse")
# Like against like: an SSL protocol and the baseline it is compared with (method, protocol).
LIKE_FOR_LIKE = {"finetune": ("supervised", "finetune"), "linear": ("random", "linear"), "knn": ("random", "knn")}
N_RESAMPLES = 2000
_CHUNK = 250  # image resamples scored at once: bounds the (chunk, N) weight matrix

ScoreKey = tuple  # (method, protocol, fraction, seed, pretrain_seed), see ``sslcore.evaluate.sweep.Arm.key``


@dataclass(frozen=True)
class Comparison:
    """The paired difference ``method (protocol)`` minus ``baseline (baseline_protocol)`` at one fraction.

    Attributes:
        mean_difference: mean over replicates of the test AUC difference.
        ci_low, ci_high: its interval (``confidence``, two-level paired bootstrap).
        verdict: one of :data:`VERDICTS`, from the interval alone.
        n_seeds: replicates paired (evaluation seeds x pretraining seeds).
    """

    method: str
    protocol: str
    baseline: str
    baseline_protocol: str
    fraction: float
    n_labelled: int
    mean_difference: float
    ci_low: float
    ci_high: float
    verdict: str
    n_seeds: int
    metric: str = "auc"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def sentence(self) -> str:
        """The comparison in plain words."""
        subject = f"{self.method} ({self.protocol}) vs {self.baseline} ({self.baseline_protocol}) at {self.fraction:.0%}"
        interval = f"AUC difference {self.mean_difference:+.3f}, 95% CI {self.ci_low:+.3f} to {self.ci_high:+.3f}"
        words = {"better": "better", "worse": "worse",
                 "no detectable difference": "no detectable difference"}[self.verdict]
        return f"{subject}: {words} ({interval}, {self.n_seeds} seed(s))"


def verdict(ci_low: float, ci_high: float) -> str:
    """``better`` when the interval is above zero, ``worse`` when below, else ``no detectable difference``."""
    if ci_low > 0:
        return "better"
    if ci_high < 0:
        return "worse"
    return "no detectable difference"


def paired_bootstrap(pairs: list[tuple[torch.Tensor, torch.Tensor | None]], labels: torch.Tensor, task: str, *,
                     n_resamples: int = N_RESAMPLES, confidence: float = 0.95,
                     seed: int = 0) -> tuple[float, float, float]:
    """Mean AUC difference (first minus second) over replicates, and its two-level bootstrap interval;
    with ``None`` as every second, the mean AUC of the first arm itself and its interval.

    Args:
        pairs: one (scores_a, scores_b or None) per replicate, each (N, K) on the same N test images.
        labels: the test labels, (N,) or (N, L).
        task: ``binary``, ``multi-class`` or ``multi-label``.
        n_resamples: bootstrap resamples.
        confidence: coverage of the interval, in (0, 1).
        seed: seeds the resampling.

    Returns:
        (mean difference, low, high); NaNs when no resample defines the AUC of both arms.
    """
    if not pairs:
        raise ValueError("need at least one pair of scores")
    if not 0 < confidence < 1 or n_resamples < 1:
        raise ValueError(f"need confidence in (0, 1) and n_resamples >= 1, got {confidence}, {n_resamples}")
    n = len(labels)
    if any(len(a) != n or (b is not None and len(b) != n) for a, b in pairs):
        raise ValueError(f"every score matrix must have one row per test label ({n})")
    generator = torch.Generator().manual_seed(seed)

    def difference(a: torch.Tensor, b: torch.Tensor | None, weights: torch.Tensor) -> torch.Tensor:
        first = auc_under_weights(a, labels, task, weights)
        return first if b is None else first - auc_under_weights(b, labels, task, weights)

    observed = torch.stack([difference(a, b, torch.ones(1, n, dtype=torch.float64))[0] for a, b in pairs])  # (R,)
    # D[r, b]: the difference of replicate r under image resample b (the same resample for both arms).
    differences = torch.empty(len(pairs), n_resamples, dtype=torch.float64)
    for start in range(0, n_resamples, _CHUNK):
        weights = bootstrap_weights(n, min(_CHUNK, n_resamples - start), generator)  # (b, N)
        for r, (a, b) in enumerate(pairs):
            differences[r, start:start + len(weights)] = difference(a, b, weights)
    # Then replicates are resampled: each bootstrap draw averages R replicates drawn with replacement.
    chosen = torch.randint(len(pairs), (n_resamples, len(pairs)), generator=generator)  # (B, R)
    draws = differences.T.gather(1, chosen).nanmean(1)  # (B,)
    draws = draws[~torch.isnan(draws)]
    if len(draws) == 0 or torch.isnan(observed).all():
        return float("nan"), float("nan"), float("nan")
    tail = (1 - confidence) / 2
    low, high = torch.quantile(draws, torch.tensor([tail, 1 - tail], dtype=torch.float64))
    return float(observed.nanmean()), float(low), float(high)


def _replicates(scores: Mapping[ScoreKey, torch.Tensor], method: str, protocol: str,
                fraction: float) -> dict[tuple[int, int], torch.Tensor]:
    """(seed, pretrain_seed) -> test scores of one arm at one fraction."""
    return {(key[3], key[4]): value for key, value in scores.items()
            if key[0] == method and key[1] == protocol and abs(key[2] - fraction) < 1e-9}


def compare_arms(scores: Mapping[ScoreKey, torch.Tensor], labels: torch.Tensor, task: str, arm: tuple[str, str],
                 against: tuple[str, str], fraction: float, n_labelled: int, *,
                 other_scores: Mapping[ScoreKey, torch.Tensor] | None = None,
                 n_resamples: int = N_RESAMPLES, seed: int = 0) -> Comparison | None:
    """``arm`` (method, protocol) against ``against`` at one fraction, paired by evaluation seed (and by
    pretraining seed where both have several); None when they share no seed.

    Args:
        scores: test scores by key (``SweepResult.scores`` or a run's ``scores.npz``).
        other_scores: where ``against``'s scores are, if not in ``scores`` (another run on the same test set).
    """
    mine = _replicates(scores, *arm, fraction)
    theirs = _replicates(other_scores if other_scores is not None else scores, *against, fraction)
    single = len({pretrain for _, pretrain in theirs}) == 1  # a baseline: one run per evaluation seed
    by_seed = {seed_: value for (seed_, _), value in theirs.items()}
    pairs = [(value, by_seed[seed_] if single else theirs[(seed_, pretrain)])
             for (seed_, pretrain), value in sorted(mine.items())
             if (seed_ in by_seed if single else (seed_, pretrain) in theirs)]
    if not pairs:
        return None
    mean, low, high = paired_bootstrap(pairs, labels, task, n_resamples=n_resamples, seed=seed)
    return Comparison(method=arm[0], protocol=arm[1], baseline=against[0], baseline_protocol=against[1],
                      fraction=float(fraction), n_labelled=int(n_labelled), mean_difference=mean, ci_low=low,
                      ci_high=high, verdict=verdict(low, high), n_seeds=len(pairs))


def like_for_like(points: Iterable[Any], scores: Mapping[ScoreKey, torch.Tensor], labels: torch.Tensor, task: str,
                  *, n_resamples: int = N_RESAMPLES, seed: int = 0) -> list[Comparison]:
    """Every method arm against its like-for-like baseline (:data:`LIKE_FOR_LIKE`) at every fraction:
    fine-tuning against training from scratch, frozen probes against the random backbone's."""
    rows = [point if isinstance(point, dict) else point.to_dict() for point in points]
    baselines = {(base, protocol) for base, protocol in LIKE_FOR_LIKE.values()}
    arms = sorted({(row["method"], row["protocol"]) for row in rows} - baselines)
    comparisons = []
    for method, protocol in arms:
        against = LIKE_FOR_LIKE[protocol]
        for fraction in sorted({row["fraction"] for row in rows if (row["method"], row["protocol"]) == (method, protocol)}):
            n_labelled = next(row["n_labelled"] for row in rows if row["fraction"] == fraction)
            comparison = compare_arms(scores, labels, task, (method, protocol), against, fraction, n_labelled,
                                      n_resamples=n_resamples, seed=seed)
            if comparison is not None:
                comparisons.append(comparison)
    return comparisons


def scores_npz(scores: Mapping[ScoreKey, torch.Tensor], labels: torch.Tensor, fingerprint: str, task: str) -> bytes:
    """Test scores by key, the test labels, the test split's fingerprint and the task as an ``.npz`` (a run's
    ``scores.npz``), so that comparisons can be made later, also between runs on the same test set."""
    import io

    import numpy as np

    buffer = io.BytesIO()
    arrays = {"|".join(str(part) for part in key): value.float().numpy() for key, value in scores.items()}
    np.savez_compressed(buffer, __labels__=labels.cpu().numpy(), __fingerprint__=np.array(fingerprint),
                        __task__=np.array(task), **arrays)
    return buffer.getvalue()


def load_scores(path) -> tuple[dict[ScoreKey, torch.Tensor], torch.Tensor, str, str]:
    """Read :func:`scores_npz`'s file: (scores by key, test labels, test fingerprint, task).

    Raises:
        ValueError: unreadable or not a scores file.
    """
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as archive:
            data = {name: archive[name] for name in archive.files}
    except Exception as error:  # zipfile, numpy and OS errors all mean an unusable file
        raise ValueError(f"{path} could not be read as a scores file ({error})") from None
    if "__labels__" not in data:
        raise ValueError(f"{path} is not a scores file (no test labels)")
    scores = {}
    for name, value in data.items():
        if name.startswith("__"):
            continue
        method, protocol, fraction, seed, pretrain_seed = name.split("|")
        scores[(method, protocol, float(fraction), int(seed), int(pretrain_seed))] = torch.from_numpy(value)
    return (scores, torch.from_numpy(data["__labels__"]), str(data.get("__fingerprint__", "")),
            str(data.get("__task__", "")))
