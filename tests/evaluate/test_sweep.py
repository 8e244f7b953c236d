
import pytest
import torch

from sslcore.evaluate.sweep import label_efficiency_sweep, labelled_subset

from .toys import TinyConvNet, toy_dataset

POINT_KEYS = {"method", "protocol", "fraction", "n_labelled", "seed", "auc", "acc", "balanced_acc",
              "auc_ci_low", "auc_ci_high"}
TINY_FINETUNE = {"max_steps": 6, "min_steps": 2, "batch_size": 16, "eval_every": 3}


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
    def __init__(self, seed: int):
        self.seed, self.calls = seed, 0

    def __call__(self) -> TinyConvNet:
        self.calls += 1
        return TinyConvNet(seed=self.seed)


@pytest.mark.parametrize("task", ["binary", "multi-label"])
def test_sweep_returns_the_grid_of_points_on_shared_subsets(task):
    dataset = toy_dataset(task, sizes=(60, 30, 30))
    pretrained, random = CountingFactory(1), CountingFactory(2)
    seen = []
    points = label_efficiency_sweep(
        dataset, pretrained_factory=pretrained, random_factory=random, method_name="simclr",
        protocols=("linear", "knn", "finetune"), fractions=(0.1, 1.0), seeds=(0, 1),
        finetune_config=TINY_FINETUNE, on_point=seen.append)
    assert seen == points
    grid = {(p.method, p.protocol, p.fraction, p.seed) for p in points}
    expected_jobs = {("simclr", "linear"), ("simclr", "knn"), ("simclr", "finetune"), ("random", "linear"),
                     ("random", "knn"), ("supervised", "finetune")}
    assert grid == {(m, p, f, s) for m, p in expected_jobs for f in (0.1, 1.0) for s in (0, 1)}
    assert len(points) == len(grid)
    for point in points:
        assert set(point.to_dict()) == POINT_KEYS
        assert 0 <= point.auc <= 1 and point.auc_ci_low <= point.auc <= point.auc_ci_high
    # Every method sees the same labelled subset of a (fraction, seed).
    n_labelled = {(p.fraction, p.seed): set() for p in points}
    for p in points:
        n_labelled[(p.fraction, p.seed)].add(p.n_labelled)
    assert all(len(sizes) == 1 for sizes in n_labelled.values())
    assert n_labelled[(1.0, 0)] == {60}
    # Frozen features once per backbone; one fresh backbone per fine-tune.
    assert pretrained.calls == 1 + 4 and random.calls == 1 + 4


def test_sweep_frozen_protocols_learn_the_toy_task_from_a_random_backbone():
    dataset = toy_dataset("multi-class", sizes=(120, 60, 60))
    points = label_efficiency_sweep(
        dataset, pretrained_factory=lambda: TinyConvNet(seed=1), random_factory=lambda: TinyConvNet(seed=2),
        method_name="byol", fractions=(1.0,), seeds=(0,), baselines=())
    assert {(p.method, p.protocol) for p in points} == {("byol", "linear"), ("byol", "knn")}
    assert all(p.auc > 0.9 for p in points)


def test_sweep_stops_between_points():
    dataset = toy_dataset("binary", sizes=(40, 20, 20))
    points = []
    result = label_efficiency_sweep(
        dataset, pretrained_factory=lambda: TinyConvNet(seed=1), random_factory=lambda: TinyConvNet(seed=2),
        method_name="simclr", fractions=(0.5, 1.0), seeds=(0,), baselines=("random",),
        on_point=points.append, should_stop=lambda: len(points) >= 3)
    assert result == points and len(points) == 3


@pytest.mark.parametrize("kwargs", [{"protocols": ("linear", "svm")}, {"protocols": ()},
                                    {"baselines": ("imagenet",)}, {"fractions": (0.0,)}, {"seeds": ()}])
def test_sweep_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        label_efficiency_sweep(toy_dataset(), pretrained_factory=TinyConvNet, random_factory=TinyConvNet,
                               method_name="simclr", **kwargs)
