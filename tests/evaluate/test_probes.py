import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

from sslcore.augment import AugmentConfig
from sslcore.evaluate.features import extract_features
from sslcore.evaluate.probes import (KNN_TEMPERATURE, FinetuneConfig, finetune, knn_accuracy, knn_probe,
                                     linear_probe)

from .toys import TinyConvNet, separable_features, toy_dataset

TASK_SHAPES = [("binary", 2), ("multi-class", 4), ("multi-label", 3)]


def _labels(task: str, k: int, n: int, generator: torch.Generator) -> torch.Tensor:
    if task == "multi-label":
        return (torch.rand(n, k, generator=generator) < 0.4).float()
    return torch.randint(0, k, (n,), generator=generator)


def _splits(task: str, k: int, sizes=(200, 150, 300), dim: int = 16, seed: int = 0):
    """Train, val, test (features, labels) with separable features."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for n in sizes:
        labels = _labels(task, k, n, generator)
        out += [separable_features(labels, dim, generator), labels]
    return out


@pytest.mark.parametrize("probe", [linear_probe, knn_probe])
@pytest.mark.parametrize("task,k", TASK_SHAPES)
def test_probes_separate_separable_features(probe, task, k):
    result = probe(*_splits(task, k), task)
    assert result.auc > 0.98 and result.acc > 0.9 and result.balanced_acc > 0.9
    assert result.auc_ci_low <= result.auc <= result.auc_ci_high
    assert result.test_scores.shape == (300, k) and result.test_scores.dtype == torch.float32


@pytest.mark.parametrize("probe", [linear_probe, knn_probe])
@pytest.mark.parametrize("task,k", TASK_SHAPES)
def test_probes_are_at_chance_on_features_unrelated_to_the_labels(probe, task, k):
    train_x, train_y, val_x, val_y, test_x, test_y = _splits(task, k, sizes=(300, 200, 800))
    noise = torch.Generator().manual_seed(1)
    train_x, val_x, test_x = (torch.randn(x.shape, generator=noise) for x in (train_x, val_x, test_x))
    result = probe(train_x, train_y, val_x, val_y, test_x, test_y, task)
    assert abs(result.auc - 0.5) < 0.07


@pytest.mark.parametrize("probe,choice", [(linear_probe, "l2"), (knn_probe, "k")])
def test_test_labels_never_influence_the_choice(probe, choice):
    train_x, train_y, val_x, val_y, test_x, test_y = _splits("multi-class", 3, dim=8)
    train_x = train_x + 2 * torch.randn(train_x.shape, generator=torch.Generator().manual_seed(3))  # harder
    honest = probe(train_x, train_y, val_x, val_y, test_x, test_y, "multi-class")
    poisoned_labels = (test_y + 1) % 3
    poisoned = probe(train_x, train_y, val_x, val_y, test_x, poisoned_labels, "multi-class")
    assert poisoned.selected == honest.selected and poisoned.val_auc == honest.val_auc
    assert torch.equal(poisoned.test_scores, honest.test_scores)
    assert poisoned.auc < 0.5 < honest.auc


@pytest.mark.parametrize("task,k", TASK_SHAPES)
def test_linear_probe_matches_sklearn_logistic_regression(task, k):
    train_x, train_y, val_x, val_y, test_x, test_y = _splits(task, k, sizes=(80, 40, 50), dim=6)
    train_x = train_x + 3 * torch.randn(train_x.shape, generator=torch.Generator().manual_seed(2))
    l2 = 0.05
    result = linear_probe(train_x, train_y, val_x, val_y, test_x, test_y, task, l2_grid=(l2,), max_iter=500)
    mean, std = train_x.mean(0), train_x.std(0, unbiased=False)
    x, x_test = ((train_x - mean) / std).double().numpy(), ((test_x - mean) / std).double().numpy()
    # sklearn minimises C * sum(loss) + ||w||^2 / 2, which is ours (mean loss + l2/2 ||w||^2) times C * n.
    c = 1 / (l2 * len(x))
    if task == "multi-label":
        expected = np.stack([LogisticRegression(C=c, tol=1e-10, max_iter=5000).fit(x, train_y[:, j].numpy())
                             .predict_proba(x_test)[:, 1] for j in range(k)], axis=1)
    else:
        expected = LogisticRegression(C=c, tol=1e-10, max_iter=5000).fit(x, train_y.numpy()).predict_proba(x_test)
        if task == "binary":  # sklearn's binary model is one logit; ours has a softmax over two
            c = 2 / (l2 * len(x))  # the optimum has w0 = -w1, so ||(w0, w1)||^2 = ||w1 - w0||^2 / 2
            expected = LogisticRegression(C=c, tol=1e-10, max_iter=5000).fit(x, train_y.numpy()).predict_proba(x_test)
    np.testing.assert_allclose(result.test_scores.numpy(), expected, atol=2e-3)


def _reference_knn_scores(train_x, targets, query_x, k):
    """One query at a time: sort cosine similarities, weight the top k by exp(s / T), average targets."""
    rows = []
    for q in query_x:
        similarity = F.cosine_similarity(train_x, q[None], dim=1)
        top = similarity.argsort(descending=True)[:k]
        weights = torch.exp(similarity[top] / KNN_TEMPERATURE)
        rows.append((weights[:, None] * targets[top]).sum(0) / weights.sum())
    return torch.stack(rows)


@pytest.mark.parametrize("task,k", TASK_SHAPES)
@pytest.mark.parametrize("k_neighbours", [1, 4, 30])
def test_knn_scores_match_a_reference(task, k, k_neighbours):
    train_x, train_y, val_x, val_y, test_x, test_y = _splits(task, k, sizes=(30, 20, 25), dim=5)
    result = knn_probe(train_x, train_y, val_x, val_y, test_x, test_y, task, k_grid=(k_neighbours,))
    targets = train_y.float() if task == "multi-label" else F.one_hot(train_y, k).float()
    expected = _reference_knn_scores(train_x, targets, test_x, k_neighbours)
    torch.testing.assert_close(result.test_scores, expected, atol=1e-5, rtol=1e-5)


def test_knn_k_is_bounded_by_the_labelled_images():
    train_x, train_y, val_x, val_y, test_x, test_y = _splits("binary", 2)
    result = knn_probe(train_x[:3], train_y[:3], val_x, val_y, test_x, test_y, "binary", k_grid=(50, 100))
    assert result.selected == {"k": 3}


def test_knn_accuracy_on_separable_and_shuffled_features():
    train_x, train_y, val_x, val_y, _, _ = _splits("multi-class", 4, sizes=(400, 400, 1))
    assert knn_accuracy(train_x, train_y, val_x, val_y, k=10) > 0.95
    shuffled = train_y[torch.randperm(400, generator=torch.Generator().manual_seed(0))]
    assert abs(knn_accuracy(train_x, shuffled, val_x, val_y, k=10) - 0.25) < 0.1


@pytest.mark.parametrize("probe,kwargs", [(linear_probe, {"l2_grid": ()}), (linear_probe, {"l2_grid": (-1.0,)}),
                                          (knn_probe, {"k_grid": (0,)})])
def test_probes_reject_bad_grids(probe, kwargs):
    with pytest.raises(ValueError):
        probe(*_splits("binary", 2, sizes=(10, 10, 10)), "binary", **kwargs)


def test_probes_reject_mismatched_splits():
    train_x, train_y, val_x, val_y, test_x, test_y = _splits("binary", 2, sizes=(10, 10, 10))
    with pytest.raises(ValueError, match="val"):
        linear_probe(train_x, train_y, val_x[:5], val_y, test_x, test_y, "binary")
    with pytest.raises(ValueError, match="multi-label"):
        knn_probe(train_x, train_y, val_x, val_y, test_x, test_y, "multi-label")


# --- Fine-tuning ---------------------------------------------------------------------------------

TINY_FINETUNE = FinetuneConfig(epochs=20, max_steps=60, min_steps=30, batch_size=32, lr_grid=(1e-2,),
                               checks_per_epoch=1)


class TrainingSteps:
    """Counts a backbone's forward passes in training mode (one per optimisation step)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, module, inputs) -> None:
        self.count += module.training


def counted(steps: TrainingSteps, seed: int = 1) -> TinyConvNet:
    backbone = TinyConvNet(seed=seed)
    backbone.register_forward_pre_hook(steps)
    return backbone


@pytest.mark.parametrize("task", ["binary", "multi-class", "multi-label"])
def test_finetune_learns_a_trivial_task(task):
    dataset = toy_dataset(task)
    result = finetune(lambda: TinyConvNet(seed=1), dataset, config=TINY_FINETUNE)
    assert result.auc > 0.9
    assert 1 <= result.selected["step"] <= 60 and result.val_auc > 0.9 and result.selected["lr"] == 1e-2


def test_finetune_test_labels_never_influence_early_stopping_or_the_learning_rate():
    dataset = toy_dataset("multi-class", sizes=(60, 60, 60))
    config = dataclasses.replace(TINY_FINETUNE, lr_grid=(1e-3, 1e-2))
    honest = finetune(lambda: TinyConvNet(seed=1), dataset, config=config, seed=3)
    test = dataset.splits["test"]
    test.labels = (test.labels + 1) % 4
    poisoned = finetune(lambda: TinyConvNet(seed=1), dataset, config=config, seed=3)
    assert poisoned.selected == honest.selected and poisoned.val_auc == honest.val_auc
    assert poisoned.auc < honest.auc


def test_finetune_chooses_the_learning_rate_with_the_best_validation_auc():
    dataset = toy_dataset("binary", sizes=(60, 60, 60))
    config = dataclasses.replace(TINY_FINETUNE, lr_grid=(1e-7, 1e-2), patience=100)
    chosen = finetune(lambda: TinyConvNet(seed=1), dataset, config=config)
    alone = {lr: finetune(lambda: TinyConvNet(seed=1), dataset, config=dataclasses.replace(config, lr_grid=(lr,)))
             for lr in config.lr_grid}
    best = max(alone, key=lambda lr: alone[lr].val_auc)
    assert chosen.selected["lr"] == best and chosen.val_auc == alone[best].val_auc
    assert chosen.auc == alone[best].auc  # each rate starts from the same state


def test_finetune_trains_on_augmented_views_the_same_for_every_arm(monkeypatch):
    import sslcore.augment

    dataset = toy_dataset("binary")
    real, seen = sslcore.augment.augment, []

    def recorded(images, config, generator):
        seen.append((images.dtype, tuple(images.shape), generator.initial_seed()))
        return real(images, config, generator)

    monkeypatch.setattr(sslcore.augment, "augment", recorded)
    light = AugmentConfig.preset("light")
    finetune(lambda: TinyConvNet(seed=1), dataset, config=TINY_FINETUNE, augment=light, seed=5)
    assert len(seen) >= TINY_FINETUNE.min_steps
    assert set(seen) == {(torch.uint8, (32, 1, 8, 8), 5)}  # every view drawn from the fit's own seed
    first = len(seen)
    finetune(lambda: TinyConvNet(seed=2), dataset, config=TINY_FINETUNE, augment=light, seed=5)
    assert seen[first:first + 3] == seen[:3]  # another backbone, the same augmentation stream


def test_finetune_stops_after_patience_checks_without_gain():
    dataset = toy_dataset("binary")
    steps = TrainingSteps()
    config = FinetuneConfig(epochs=100, max_steps=200, min_steps=200, batch_size=32, lr_grid=(1e-2,),
                            checks_per_epoch=1, patience=2)
    result = finetune(lambda: counted(steps), dataset, config=config)
    assert result.val_auc == 1.0  # the toy task is learnt perfectly, so validation cannot improve further
    every = config.check_every(len(dataset.splits["train"].labels))
    assert steps.count == result.selected["step"] + 2 * every < 200


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("probe", [linear_probe, knn_probe])
def test_probes_on_cuda_agree_with_the_cpu(probe):
    splits = _splits("multi-class", 4)
    on_cpu, on_cuda = probe(*splits, "multi-class"), probe(*splits, "multi-class", device="cuda")
    assert on_cuda.selected == on_cpu.selected and on_cuda.test_scores.device.type == "cpu"
    torch.testing.assert_close(on_cuda.test_scores, on_cpu.test_scores, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("n,steps", [(1, 60), (100, 60), (1000, 469), (100_000, 3000)])  # ceil(30 * n / 64)
def test_finetune_budget_is_epochs_of_the_labelled_images_within_its_floor_and_cap(n, steps):
    assert FinetuneConfig().n_steps(n) == steps


@pytest.mark.parametrize("overrides", [{"max_steps": 0}, {"min_steps": 5000}, {"lr_grid": (0.0,)}, {"lr_grid": ()},
                                       {"patience": 0}, {"epochs": 0}])
def test_finetune_config_rejects_bad_values(overrides):
    with pytest.raises(ValueError):
        FinetuneConfig(**overrides)
    assert FinetuneConfig.from_value({"max_steps": 12, "min_steps": 2}).max_steps == 12


# --- Features ------------------------------------------------------------------------------------

@pytest.mark.parametrize("n,batch_size", [(1, 4), (10, 3), (17, 512)])
def test_extract_features_matches_a_plain_forward(n, batch_size):
    backbone = TinyConvNet(in_channels=3, feature_dim=5)
    images = torch.randint(0, 256, (n, 3, 6, 6), dtype=torch.uint8, generator=torch.Generator().manual_seed(n))
    backbone.train()
    features = extract_features(backbone, images, batch_size=batch_size)
    assert backbone.training  # mode restored
    with torch.no_grad():
        expected = backbone.eval()((images.float() / 255 - 0.5) / 0.25)
    assert features.shape == (n, 5) and features.dtype == torch.float32 and features.device.type == "cpu"
    torch.testing.assert_close(features, expected)
    assert not math.isnan(float(features.sum()))


def test_extract_features_rejects_float_images():
    with pytest.raises(ValueError, match="uint8"):
        extract_features(TinyConvNet(), torch.zeros(2, 1, 4, 4))
