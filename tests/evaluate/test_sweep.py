
import pytest
import torch

from sslcore.augment import AugmentConfig
from sslcore.evaluate.features import model_input
from sslcore.evaluate.sweep import (baseline_arms, label_efficiency_sweep, labelled_subset, method_arms,
                                    recalibrate_batchnorm, stratified_sample)

from .toys import TinyConvNet, toy_dataset

POINT_KEYS = {"method", "protocol", "fraction", "n_labelled", "seed", "auc", "acc", "balanced_acc",
              "auc_ci_low", "auc_ci_high", "pretrain_seed", "val_auc"}
TINY_FINETUNE = {"epochs": 1, "max_steps": 6, "min_steps": 2, "batch_size": 16, "lr_grid": (1e-3,)}


@pytest.mark.parametrize("fraction", [0.001, 0.05, 0.3, 1.0])
@pytest.mark.parametrize("n_classes", [2, 5])
def test_labelled_subset_is_stratified_and_keeps_every_class(n_classes, fraction):
    labels = torch.randint(0, n_classes, (400,), generator=torch.Generator().manual_seed(n_classes))
    labels[:3] = n_classes - 1  # a rare class survives any fraction
    index = labelled_subset(labels, fraction, seed=0, task="multi-class")
    assert index.dtype == torch.long and torch.equal(index, index.unique())  # sorted, no repeats
    assert 0 <= int(index.min()) and int(index.max()) < 400
    for c in range(n_classes):
        n_c = int((labels == c).sum())
        assert int((labels[index] == c).sum()) == max(1, round(fraction * n_c))


def test_labelled_subset_is_reproducible_per_seed_and_nested_across_fractions():
    labels = torch.randint(0, 3, (500,), generator=torch.Generator().manual_seed(0))
    small = labelled_subset(labels, 0.05, seed=1, task="multi-class")
    assert torch.equal(small, labelled_subset(labels, 0.05, seed=1, task="multi-class"))
    assert not torch.equal(small, labelled_subset(labels, 0.05, seed=2, task="multi-class"))
    large = labelled_subset(labels, 0.25, seed=1, task="multi-class")
    assert set(small.tolist()) <= set(large.tolist())
    assert torch.equal(labelled_subset(labels, 1.0, seed=1, task="binary"), torch.arange(500))


@pytest.mark.parametrize("fraction", [0.01, 0.2, 1.0])
def test_multilabel_subset_has_a_positive_for_every_label_that_has_one(fraction):
    generator = torch.Generator().manual_seed(0)
    labels = (torch.rand(300, 5, generator=generator) < 0.3).float()
    labels[:, 3] = 0
    labels[7, 3] = 1  # one positive in the whole split
    labels[:, 4] = 0  # no positive at all: nothing to guarantee
    index = labelled_subset(labels, fraction, seed=4, task="multi-label")
    positives = labels[index].sum(0)
    assert (positives[:4] >= 1).all() and positives[4] == 0
    assert len(index) in range(max(1, round(fraction * 300)), max(1, round(fraction * 300)) + 5)


@pytest.mark.parametrize("fraction", [0.0, 1.5])
def test_labelled_subset_rejects_fractions_outside_the_unit_interval(fraction):
    with pytest.raises(ValueError, match="fraction"):
        labelled_subset(torch.zeros(10, dtype=torch.long), fraction, seed=0, task="binary")


class CountingFactory:
    """Evaluation seed -> a TinyConvNet (seeded by ``seed`` alone, or by the evaluation seed too)."""

    def __init__(self, seed: int, per_seed: bool = False):
        self.seed, self.per_seed, self.calls = seed, per_seed, []

    def __call__(self, evaluation_seed: int) -> TinyConvNet:
        self.calls.append(evaluation_seed)
        return TinyConvNet(seed=self.seed + (100 * evaluation_seed if self.per_seed else 0))


def standard_arms(pretrained, random, protocols=("linear", "knn", "finetune"), baselines=("supervised", "random")):
    return method_arms("simclr", protocols, pretrained) + baseline_arms(protocols, baselines, random)


@pytest.mark.parametrize("task", ["binary", "multi-label"])
def test_sweep_returns_the_grid_of_points_on_shared_subsets(task):
    dataset = toy_dataset(task, sizes=(60, 30, 30))
    pretrained, random = CountingFactory(1), CountingFactory(2, per_seed=True)
    seen = []
    result = label_efficiency_sweep(dataset, standard_arms(pretrained, random), fractions=(0.1, 1.0), seeds=(0, 1),
                                    finetune_config=TINY_FINETUNE, on_point=seen.append)
    points = result.points
    assert seen == points
    grid = {(p.method, p.protocol, p.fraction, p.seed) for p in points}
    expected_jobs = {("simclr", "linear"), ("simclr", "knn"), ("simclr", "finetune"), ("random", "linear"),
                     ("random", "knn"), ("supervised", "finetune")}
    assert grid == {(m, p, f, s) for m, p in expected_jobs for f in (0.1, 1.0) for s in (0, 1)}
    assert len(points) == len(grid) == len(result.scores)
    for point in points:
        assert set(point.to_dict()) == POINT_KEYS
        assert 0 <= point.auc <= 1 and point.auc_ci_low <= point.auc <= point.auc_ci_high
        scores = result.scores[(point.method, point.protocol, point.fraction, point.seed, point.pretrain_seed)]
        assert scores.shape[0] == len(dataset.splits["test"].labels)
    # Every method sees the same labelled subset of a (fraction, seed).
    n_labelled = {(p.fraction, p.seed): set() for p in points}
    for p in points:
        n_labelled[(p.fraction, p.seed)].add(p.n_labelled)
    assert all(len(sizes) == 1 for sizes in n_labelled.values())
    assert n_labelled[(1.0, 0)] == {60}
    # Frozen features once per pretrained backbone; the random backbone once per evaluation seed;
    # one fresh backbone per fine-tune.
    assert len(pretrained.calls) == 1 + 4
    assert sorted(random.calls) == [0, 0, 0, 1, 1, 1]  # features of seed 0 and 1, and 2 scratch runs each


def test_each_evaluation_seed_starts_the_baselines_from_its_own_initialisation():
    dataset = toy_dataset("binary", sizes=(60, 30, 30))
    result = label_efficiency_sweep(dataset, standard_arms(CountingFactory(1), CountingFactory(2, per_seed=True)),
                                    fractions=(1.0,), seeds=(0, 1), finetune_config=TINY_FINETUNE)
    # At 100% of the labels the subset is the same for both seeds: only the initialisation differs.
    for method, protocol in (("supervised", "finetune"), ("random", "linear")):
        first, second = (result.scores[(method, protocol, 1.0, seed, 0)] for seed in (0, 1))
        assert not torch.equal(first, second)
    linear = [result.scores[("simclr", "linear", 1.0, seed, 0)] for seed in (0, 1)]
    assert torch.equal(*linear)  # one pretrained backbone, one labelled set: nothing random in a linear probe


def test_the_random_baseline_takes_its_batchnorm_statistics_from_the_training_images():
    dataset = toy_dataset("binary", sizes=(60, 30, 30))
    backbone = TinyConvNet(seed=2)
    assert torch.equal(backbone.norm.running_mean, torch.zeros(8))
    recalibrate_batchnorm(backbone, dataset.splits["train"].images, "cpu")
    conv = backbone.conv(model_input(dataset.splits["train"].images))
    torch.testing.assert_close(backbone.norm.running_mean, conv.mean(dim=(0, 2, 3)), atol=1e-4, rtol=1e-4)
    assert backbone.norm.momentum == 0.1  # restored


def test_scratch_training_gets_the_same_augmentation_and_budget_as_ssl_fine_tuning(monkeypatch):
    from sslcore.evaluate import sweep

    calls = []
    real = sweep.finetune

    def recorded(factory, view, *, config, augment, device, seed):
        calls.append((config, augment, seed, len(view.splits["train"].labels)))
        return real(factory, view, config=config, augment=augment, device=device, seed=seed)

    monkeypatch.setattr(sweep, "finetune", recorded)
    light = AugmentConfig.preset("light")
    label_efficiency_sweep(toy_dataset("binary", sizes=(60, 30, 30)),
                           standard_arms(CountingFactory(1), CountingFactory(2, per_seed=True), ("finetune",),
                                         ("supervised",)),
                           fractions=(0.5,), seeds=(3,), finetune_config=TINY_FINETUNE, finetune_augment=light)
    ssl, scratch = calls
    assert ssl == scratch and ssl[1] is light and ssl[0].lr_grid == TINY_FINETUNE["lr_grid"]


def test_sweep_frozen_protocols_learn_the_toy_task_from_a_random_backbone():
    dataset = toy_dataset("multi-class", sizes=(120, 60, 60))
    result = label_efficiency_sweep(dataset, method_arms("byol", ("linear", "knn"), lambda seed: TinyConvNet(seed=1)),
                                    fractions=(1.0,), seeds=(0,))
    assert {(p.method, p.protocol) for p in result.points} == {("byol", "linear"), ("byol", "knn")}
    assert all(p.auc > 0.9 for p in result.points)


def test_sweep_stops_between_points():
    dataset = toy_dataset("binary", sizes=(40, 20, 20))
    points = []
    result = label_efficiency_sweep(dataset, standard_arms(CountingFactory(1), CountingFactory(2), ("linear", "knn"),
                                                           ("random",)),
                                    fractions=(0.5, 1.0), seeds=(0,), on_point=points.append,
                                    should_stop=lambda: len(points) >= 3)
    assert result.points == points and len(points) == 3


@pytest.mark.parametrize("kwargs", [{"arms": []}, {"fractions": (0.0,)}, {"seeds": ()}])
def test_sweep_rejects_bad_arguments(kwargs):
    arguments = {"arms": method_arms("simclr", ("linear",), CountingFactory(1)), **kwargs}
    with pytest.raises(ValueError):
        label_efficiency_sweep(toy_dataset(), **arguments)


def test_stratified_sample_keeps_each_class_share():
    labels = torch.tensor([0] * 90 + [1] * 10)
    chosen = stratified_sample(labels, 20, seed=0, task="binary")
    assert len(chosen) == 20 and int((labels[chosen] == 1).sum()) == 2
    assert torch.equal(chosen, stratified_sample(labels, 20, seed=0, task="binary"))
    assert not torch.equal(chosen, stratified_sample(labels, 20, seed=1, task="binary"))
    assert torch.equal(stratified_sample(labels, 500, seed=0, task="binary"), torch.arange(100))
