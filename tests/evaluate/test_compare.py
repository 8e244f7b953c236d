import pytest
import torch

from sslcore.evaluate.compare import (VERDICTS, compare_arms, like_for_like, load_scores, paired_bootstrap,
                                      scores_npz, verdict)
from sslcore.evaluate.metrics import auc


def binary(p1: torch.Tensor) -> torch.Tensor:
    return torch.stack([1 - p1, p1], dim=1)


def arm(labels: torch.Tensor, signal: float, seed: int) -> torch.Tensor:
    """Scores whose AUC grows with ``signal``: the label plus noise."""
    generator = torch.Generator().manual_seed(seed)
    return binary(torch.sigmoid(signal * (2 * labels.double() - 1) + torch.randn(len(labels), generator=generator,
                                                                                  dtype=torch.float64)))


LABELS = torch.tensor([0, 1] * 150)


def test_a_known_difference_is_recovered_with_an_interval_around_it():
    pairs = [(arm(LABELS, 2.0, seed), arm(LABELS, 0.3, 100 + seed)) for seed in range(3)]
    truth = sum(auc(a, LABELS, "binary") - auc(b, LABELS, "binary") for a, b in pairs) / 3
    mean, low, high = paired_bootstrap(pairs, LABELS, "binary", n_resamples=500)
    assert mean == pytest.approx(truth)
    assert low < mean < high and low > 0.1 and verdict(low, high) == "better"


def test_identical_arms_give_an_interval_around_zero():
    pairs = [(arm(LABELS, 1.0, seed), arm(LABELS, 1.0, seed)) for seed in range(3)]
    mean, low, high = paired_bootstrap(pairs, LABELS, "binary", n_resamples=300)
    assert mean == 0.0 and low == 0.0 and high == 0.0  # the same resample for both arms: no difference at all
    assert verdict(low, high) == "no detectable difference"


def test_two_equally_good_arms_are_no_detectable_difference_and_the_interval_is_paired():
    pairs = [(arm(LABELS, 1.0, seed), arm(LABELS, 1.0, 50 + seed)) for seed in range(3)]
    mean, low, high = paired_bootstrap(pairs, LABELS, "binary", n_resamples=500)
    assert low < 0 < high and verdict(low, high) == "no detectable difference"
    worse = [(b, a) for a, b in [(arm(LABELS, 2.0, seed), arm(LABELS, 0.3, 100 + seed)) for seed in range(3)]]
    assert verdict(*paired_bootstrap(worse, LABELS, "binary", n_resamples=300)[1:]) == "worse"


def test_verdicts_come_from_the_interval_alone():
    assert [verdict(0.01, 0.2), verdict(-0.01, 0.2), verdict(-0.2, -0.01)] == list(VERDICTS)


def scores_of(arms, fractions=(0.1, 1.0), seeds=(0, 1, 2), pretrain_seeds=(0,)):
    """(method, protocol) -> signal, as a scores dict keyed like a sweep's."""
    scores = {}
    for (method, protocol), signal in arms.items():
        baseline = method in ("supervised", "random")
        for fraction in fractions:
            for seed in seeds:
                for pretrain_seed in ((0,) if baseline else pretrain_seeds):
                    scores[(method, protocol, fraction, seed, pretrain_seed)] = arm(
                        LABELS, signal * fraction, hash((method, protocol, fraction, seed, pretrain_seed)) % 1000)
    return scores


def test_like_for_like_pairs_fine_tuning_with_scratch_and_probes_with_the_random_backbone():
    scores = scores_of({("simclr", "finetune"): 3.0, ("simclr", "linear"): 3.0, ("supervised", "finetune"): 0.5,
                        ("random", "linear"): 3.0})
    points = [{"method": k[0], "protocol": k[1], "fraction": k[2], "n_labelled": int(300 * k[2])} for k in scores]
    comparisons = like_for_like(points, scores, LABELS, "binary", n_resamples=200)
    pairs = {(c.method, c.protocol, c.baseline, c.baseline_protocol, c.fraction) for c in comparisons}
    assert pairs == {("simclr", "finetune", "supervised", "finetune", f) for f in (0.1, 1.0)} | {
        ("simclr", "linear", "random", "linear", f) for f in (0.1, 1.0)}
    by = {(c.protocol, c.fraction): c for c in comparisons}
    assert by[("finetune", 1.0)].verdict == "better" and by[("finetune", 1.0)].n_seeds == 3
    assert by[("linear", 1.0)].verdict == "no detectable difference"
    assert "95% CI" in by[("finetune", 1.0)].sentence


def test_several_pretraining_seeds_are_pooled_against_one_baseline_per_seed():
    scores = scores_of({("byol", "finetune"): 3.0, ("supervised", "finetune"): 0.5}, pretrain_seeds=(0, 1, 2))
    comparison = compare_arms(scores, LABELS, "binary", ("byol", "finetune"), ("supervised", "finetune"), 1.0, 300,
                              n_resamples=200)
    assert comparison.n_seeds == 9 and comparison.verdict == "better"
    assert compare_arms(scores, LABELS, "binary", ("byol", "finetune"), ("moco", "finetune"), 1.0, 300) is None


def test_scores_round_trip_through_their_file(tmp_path):
    scores = scores_of({("simclr", "linear"): 1.0})
    path = tmp_path / "scores.npz"
    path.write_bytes(scores_npz(scores, LABELS, "abc123", "binary"))
    loaded, labels, fingerprint, task = load_scores(path)
    assert fingerprint == "abc123" and task == "binary" and torch.equal(labels, LABELS) and set(loaded) == set(scores)
    key = next(iter(scores))
    torch.testing.assert_close(loaded[key], scores[key].float())
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="could not be read"):
        load_scores(tmp_path / "junk.npz")


def test_one_arm_alone_gets_its_mean_auc_and_an_interval_around_it():
    replicates = [(arm(LABELS, 1.0, seed), None) for seed in range(3)]
    mean, low, high = paired_bootstrap(replicates, LABELS, "binary", n_resamples=300)
    assert mean == pytest.approx(sum(auc(a, LABELS, "binary") for a, _ in replicates) / 3)
    assert low < mean < high
