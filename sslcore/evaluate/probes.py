"""Evaluation protocols: linear probe and kNN on frozen features, and fine-tuning the whole network.

Every protocol chooses its hyper-parameters (L2 strength; k; learning rate and early-stopping step)
by AUC on the validation split, and its decision rule for accuracy and balanced accuracy on the
validation split too (:mod:`sslcore.evaluate.decision`), then scores the test split once; the test
labels never influence a choice.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from sslcore.evaluate import metrics
from sslcore.evaluate.decision import DecisionRule, choose_decision_rule
from sslcore.evaluate.features import extract_features, model_input

L2_GRID = (1.0, 1e-1, 1e-2, 1e-3, 1e-4)  # strongest first: ties on validation keep the simpler model
K_GRID = (1, 3, 5, 10, 20, 50, 100, 200)
KNN_TEMPERATURE = 0.07
# Queries scored against the labelled set at once: bounds the (chunk, N) similarity matrix.
_KNN_CHUNK = 1024


@dataclass
class ProbeResult:
    """Test metrics of one protocol run, and what validation chose.

    Attributes:
        auc, acc, balanced_acc: test metrics (see :mod:`sslcore.evaluate.metrics`).
        auc_ci_low, auc_ci_high: percentile bootstrap interval of the test AUC.
        val_auc: validation AUC of the chosen setting.
        selected: the setting chosen on validation (``{"l2": ...}``, ``{"k": ...}`` or
            ``{"lr": ..., "step": ...}``).
        test_scores: float32 (N_test, K) class (or label) probabilities on the CPU.
        decision_rule: how accuracy and balanced accuracy turn scores into predictions (chosen on
            validation).
    """

    auc: float
    acc: float
    balanced_acc: float
    auc_ci_low: float
    auc_ci_high: float
    val_auc: float
    selected: dict[str, float]
    test_scores: torch.Tensor = field(repr=False)
    decision_rule: DecisionRule | None = field(default=None, repr=False)


def _scored(test_scores: torch.Tensor, test_labels: torch.Tensor, task: str, val_auc: float,
            selected: dict[str, float], bootstrap_seed: int, val_scores: torch.Tensor,
            val_labels: torch.Tensor) -> ProbeResult:
    """Test metrics, with the decision rule chosen on the validation scores of the same setting."""
    rule = choose_decision_rule(val_scores, val_labels, task)
    decisions = rule.apply(test_scores.cpu())
    low, high = metrics.bootstrap_ci(test_scores, test_labels, task, seed=bootstrap_seed)
    return ProbeResult(auc=metrics.auc(test_scores, test_labels, task),
                       acc=metrics.accuracy(decisions, test_labels, task),
                       balanced_acc=metrics.balanced_accuracy(decisions, test_labels, task),
                       auc_ci_low=low, auc_ci_high=high, val_auc=val_auc, selected=selected,
                       test_scores=test_scores.float().cpu(), decision_rule=rule)


def n_outputs(task: str, *label_sets: torch.Tensor) -> int:
    """Number of class scores a task needs: 2 (binary), labels' width (multi-label), or the largest
    class index seen in any split + 1 (multi-class)."""
    if task not in metrics.TASKS:
        raise ValueError(f"task must be one of {metrics.TASKS}, got {task!r}")
    if task == "binary":
        return 2
    if task == "multi-label":
        return label_sets[0].shape[1]
    return int(max(int(labels.max()) for labels in label_sets if len(labels))) + 1


def _loss(logits: torch.Tensor, labels: torch.Tensor, task: str) -> torch.Tensor:
    """Mean cross-entropy; multi-label: the sum over labels of each label's mean logistic loss, so
    each label is its own logistic regression under the same L2 strength."""
    if task == "multi-label":
        return F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none").mean(0).sum()
    return F.cross_entropy(logits, labels)


def _probabilities(logits: torch.Tensor, task: str) -> torch.Tensor:
    return logits.sigmoid() if task == "multi-label" else logits.softmax(1)


def _validation_auc(scores: torch.Tensor, labels: torch.Tensor, task: str) -> float:
    """Validation AUC for model selection; -inf when undefined, so any defined value wins."""
    value = metrics.auc(scores, labels, task)
    return -math.inf if math.isnan(value) else value


def _checked_outputs(task: str, *feats_and_labels: torch.Tensor) -> int:
    """Validate train, val and test (features, labels) pairs; the number of class scores needed."""
    if task not in metrics.TASKS:
        raise ValueError(f"task must be one of {metrics.TASKS}, got {task!r}")
    for name, feats, labels in zip(("train", "val", "test"), feats_and_labels[::2], feats_and_labels[1::2]):
        if feats.ndim != 2 or len(feats) != len(labels) or len(feats) == 0:
            raise ValueError(f"{name} features must be (N, D) with one label per row, got "
                             f"{tuple(feats.shape)} and {tuple(labels.shape)} labels")
        if labels.ndim != (2 if task == "multi-label" else 1):
            raise ValueError(f"{task} {name} labels must be {'(N, L)' if task == 'multi-label' else '(N,)'}, "
                             f"got {tuple(labels.shape)}")
    return n_outputs(task, *feats_and_labels[1::2])


def _fit_logistic(x: torch.Tensor, y: torch.Tensor, task: str, l2: float, weight: torch.Tensor,
                  bias: torch.Tensor, max_iter: int) -> None:
    """Minimise mean cross-entropy + l2/2 ||W||^2 with full-batch L-BFGS, in place from (weight, bias)."""
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, history_size=10,
                                  tolerance_grad=1e-6, tolerance_change=1e-9, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = _loss(x @ weight + bias, y, task) + 0.5 * l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)


def linear_probe(
    train_feats: torch.Tensor,
    train_labels: torch.Tensor,
    val_feats: torch.Tensor,
    val_labels: torch.Tensor,
    test_feats: torch.Tensor,
    test_labels: torch.Tensor,
    task: str,
    *,
    l2_grid: tuple[float, ...] = L2_GRID,
    max_iter: int = 100,
    device: str | torch.device = "cpu",
    bootstrap_seed: int = 0,
) -> ProbeResult:
    """Logistic regression on standardised frozen features, L2 strength chosen by validation AUC.

    Multinomial for binary / multi-class, one logistic per label for multi-label (the linear
    evaluation protocol of Chen et al., "A Simple Framework for Contrastive Learning of Visual
    Representations", ICML 2020). Fitted full-batch with L-BFGS, warm-started along the grid from
    the strongest regularisation to the weakest.

    Args:
        train_feats, val_feats, test_feats: float (N, D) features of each split.
        train_labels, val_labels, test_labels: int64 (N,) or float (N, L) multi-label.
        task: ``binary``, ``multi-class`` or ``multi-label``.
        l2_grid: L2 strengths tried (on the weights of standardised features; bias unpenalised).
        max_iter: L-BFGS iterations per strength.
        device: where the fits run.
        bootstrap_seed: seeds the bootstrap interval of the test AUC.
    """
    if not l2_grid or min(l2_grid) < 0:
        raise ValueError(f"l2_grid must be non-empty non-negative strengths, got {l2_grid}")
    k = _checked_outputs(task, train_feats, train_labels, val_feats, val_labels, test_feats, test_labels)
    mean, std = train_feats.mean(0), train_feats.std(0, unbiased=False).clamp_min(1e-6)  # (D,)

    def standardised(feats: torch.Tensor) -> torch.Tensor:
        return ((feats.float() - mean) / std).to(device)

    x, y = standardised(train_feats), train_labels.to(device)
    x_val = standardised(val_feats)
    weight = torch.zeros(x.shape[1], k, device=device, requires_grad=True)  # (D, K)
    bias = torch.zeros(k, device=device, requires_grad=True)  # (K,)
    best_auc, best_l2, best_params, best_val = -math.inf, None, None, None
    for l2 in l2_grid:
        _fit_logistic(x, y, task, l2, weight, bias, max_iter)
        with torch.no_grad():
            val_scores = _probabilities(x_val @ weight + bias, task).cpu()
        val_auc = _validation_auc(val_scores, val_labels, task)
        if best_l2 is None or val_auc > best_auc:
            best_auc, best_l2, best_val = val_auc, l2, val_scores
            best_params = (weight.detach().clone(), bias.detach().clone())
    best_weight, best_bias = best_params
    with torch.no_grad():
        test_scores = _probabilities(standardised(test_feats) @ best_weight + best_bias, task).cpu()
    return _scored(test_scores, test_labels, task, best_auc, {"l2": best_l2}, bootstrap_seed, best_val, val_labels)


def _knn_votes(train_feats: torch.Tensor, targets: torch.Tensor, query_feats: torch.Tensor,
               ks: tuple[int, ...]) -> dict[int, torch.Tensor]:
    """Similarity-weighted votes of the k nearest labelled images for each k, as probabilities.

    Args:
        train_feats: (N, D) features of the labelled images.
        targets: float (N, K) one-hot classes or multi-hot labels.
        query_feats: (Q, D) features to score.
        ks: neighbourhood sizes, each at most N.

    Returns:
        k -> (Q, K) scores: the weighted mean of the neighbours' targets, weights exp(cos / 0.07)
        (Wu et al., "Unsupervised Feature Learning via Non-Parametric Instance Discrimination", CVPR 2018).
    """
    train_unit = F.normalize(train_feats.float(), dim=1)
    k_max = max(ks)
    votes: dict[int, list[torch.Tensor]] = {k: [] for k in ks}
    for start in range(0, len(query_feats), _KNN_CHUNK):
        query_unit = F.normalize(query_feats[start:start + _KNN_CHUNK].float(), dim=1)
        similarity, index = (query_unit @ train_unit.T).topk(k_max, dim=1)  # (q, k_max), sorted descending
        # Shifting by the best similarity changes no normalised weight and keeps exp() finite.
        weights = torch.exp((similarity - similarity[:, :1]) / KNN_TEMPERATURE)  # (q, k_max)
        neighbour_targets = targets[index]  # (q, k_max, K)
        for k in ks:
            w = weights[:, :k, None]  # (q, k, 1)
            votes[k].append((w * neighbour_targets[:, :k]).sum(1) / w.sum(1))  # (q, K)
    return {k: torch.cat(chunks) for k, chunks in votes.items()}


def _targets(labels: torch.Tensor, task: str, k: int) -> torch.Tensor:
    return labels.float() if task == "multi-label" else F.one_hot(labels, k).float()


def knn_probe(
    train_feats: torch.Tensor,
    train_labels: torch.Tensor,
    val_feats: torch.Tensor,
    val_labels: torch.Tensor,
    test_feats: torch.Tensor,
    test_labels: torch.Tensor,
    task: str,
    *,
    k_grid: tuple[int, ...] = K_GRID,
    device: str | torch.device = "cpu",
    bootstrap_seed: int = 0,
) -> ProbeResult:
    """Weighted k-nearest-neighbour classifier on cosine similarity, k chosen by validation AUC.

    Args:
        train_feats, ..., task: as for :func:`linear_probe`.
        k_grid: neighbourhood sizes tried, each capped at the number of labelled images.
        device: where the similarities are computed.
        bootstrap_seed: seeds the bootstrap interval of the test AUC.
    """
    if not k_grid or min(k_grid) < 1:
        raise ValueError(f"k_grid must be non-empty positive sizes, got {k_grid}")
    n_classes = _checked_outputs(task, train_feats, train_labels, val_feats, val_labels, test_feats, test_labels)
    ks = tuple(sorted({min(k, len(train_feats)) for k in k_grid}))
    train_feats, targets = train_feats.to(device), _targets(train_labels, task, n_classes).to(device)
    val_votes = _knn_votes(train_feats, targets, val_feats.to(device), ks)
    val_aucs = {k: _validation_auc(val_votes[k].cpu(), val_labels, task) for k in ks}
    best_k = max(ks, key=lambda k: (val_aucs[k], -k))  # ties: the smallest k
    test_scores = _knn_votes(train_feats, targets, test_feats.to(device), (best_k,))[best_k].cpu()
    return _scored(test_scores, test_labels, task, val_aucs[best_k], {"k": best_k}, bootstrap_seed,
                   val_votes[best_k].cpu(), val_labels)


def knn_accuracy(train_feats: torch.Tensor, train_labels: torch.Tensor, query_feats: torch.Tensor,
                 query_labels: torch.Tensor, k: int = 20) -> float:
    """Accuracy of the weighted kNN classifier with a fixed k (single-label tasks): the cheap
    online monitor of a representation during pretraining."""
    if train_labels.ndim != 1 or query_labels.ndim != 1:
        raise ValueError("knn_accuracy needs single-label (N,) labels")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    n_classes = int(max(int(train_labels.max()), int(query_labels.max()))) + 1
    k = min(k, len(train_feats))
    scores = _knn_votes(train_feats, F.one_hot(train_labels, n_classes).float(), query_feats, (k,))[k]
    return float((scores.argmax(1) == query_labels).float().mean())


@dataclass(frozen=True)
class FinetuneConfig:
    """Budget, optimiser and learning-rate grid of one fine-tune (and of training from scratch).

    The budget is ``epochs`` passes over the labelled images, at least ``min_steps`` steps (a 1 %
    subset still gets enough updates) and at most ``max_steps`` (a safety cap, not the budget).
    Validation AUC is checked ``checks_per_epoch`` times per epoch (at least every ``max_check_every``
    steps); training stops after ``patience`` checks without a gain and keeps the best state. Each
    learning rate of ``lr_grid`` is trained so, and the one with the best validation AUC is kept:
    the same choice on validation the probes make for their regularisation.

    Attributes:
        epochs, min_steps, max_steps: the step budget (see above).
        batch_size: images per step (capped at the number of labelled images).
        lr_grid: AdamW peak learning rates tried (cosine decay over the budget).
        weight_decay: AdamW's decoupled weight decay.
        checks_per_epoch, max_check_every, patience: early stopping (see above).
    """

    epochs: float = 30.0
    min_steps: int = 60
    max_steps: int = 3000
    batch_size: int = 64
    lr_grid: tuple[float, ...] = (3e-4, 1e-3, 3e-3)
    weight_decay: float = 1e-4
    checks_per_epoch: int = 2
    max_check_every: int = 100
    patience: int = 6

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr_grid", tuple(float(lr) for lr in self.lr_grid))
        for name in ("max_steps", "min_steps", "batch_size", "checks_per_epoch", "max_check_every", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"FinetuneConfig.{name} must be at least 1, got {getattr(self, name)}")
        if self.min_steps > self.max_steps:
            raise ValueError(f"FinetuneConfig.min_steps ({self.min_steps}) exceeds max_steps ({self.max_steps})")
        if self.epochs <= 0 or not self.lr_grid or min(self.lr_grid) <= 0 or self.weight_decay < 0:
            raise ValueError("FinetuneConfig needs epochs > 0, a non-empty lr_grid of positive rates and "
                             f"weight_decay >= 0, got {self.epochs}, {self.lr_grid}, {self.weight_decay}")

    def n_steps(self, n_labelled: int) -> int:
        """Optimisation steps for ``n_labelled`` training images."""
        wanted = math.ceil(self.epochs * n_labelled / min(self.batch_size, n_labelled))
        return min(self.max_steps, max(self.min_steps, wanted))

    def check_every(self, n_labelled: int) -> int:
        """Steps between two validation checks."""
        steps_per_epoch = math.ceil(n_labelled / min(self.batch_size, n_labelled))
        return max(1, min(self.max_check_every, steps_per_epoch // self.checks_per_epoch))

    @classmethod
    def from_value(cls, value: "FinetuneConfig | dict[str, Any] | None") -> "FinetuneConfig":
        """A config from itself, a dict of overrides, or the defaults (None)."""
        if value is None:
            return cls()
        return value if isinstance(value, cls) else cls(**value)


def _batches(n: int, batch_size: int, generator: torch.Generator):
    """Endless full batches of indices: consecutive shuffled epochs, cut into equal pieces."""
    pending = torch.empty(0, dtype=torch.long)
    while True:
        while len(pending) < batch_size:
            pending = torch.cat([pending, torch.randperm(n, generator=generator)])
        yield pending[:batch_size]
        pending = pending[batch_size:]


@dataclass
class _Fit:
    """The best state of one fine-tune at one learning rate, as validation saw it."""

    lr: float
    val_auc: float
    step: int
    state: dict[str, torch.Tensor]
    val_scores: torch.Tensor


def finetune_step(model: nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor, labels: torch.Tensor,
                  task: str) -> None:
    """One fine-tuning step on a batch of normalised ``inputs`` (B, C, H, W): the loss of ``task``,
    backward, AdamW. The fine-tuning protocol, the scratch baseline and the time estimate use it."""
    loss = _loss(model(inputs), labels, task)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _fit_one_rate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, val, task: str, lr: float,
                  config: FinetuneConfig, augment_fn: Callable[[torch.Tensor], torch.Tensor], seed: int,
                  device) -> _Fit:
    """Train ``model`` at peak rate ``lr`` with early stopping on validation AUC; the best state."""
    n_steps, check_every = config.n_steps(len(images)), config.check_every(len(images))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_steps)
    batches = _batches(len(images), min(config.batch_size, len(images)), torch.Generator().manual_seed(seed))
    best: _Fit | None = None
    checks_without_gain = 0
    model.train()
    for step in range(1, n_steps + 1):
        index = next(batches).to(device)
        finetune_step(model, optimizer, augment_fn(images[index]), labels[index], task)
        schedule.step()
        if step % check_every and step != n_steps:
            continue
        val_scores = _probabilities(extract_features(model, val.images, device=device), task)  # eval, no grad
        current = _validation_auc(val_scores, val.labels.cpu(), task)
        if best is None or current > best.val_auc:
            best = _Fit(lr, current, step, copy.deepcopy(model.state_dict()), val_scores)
            checks_without_gain = 0
        else:
            checks_without_gain += 1
            if checks_without_gain >= config.patience:
                break
    return best


def finetune(
    backbone_factory: Callable[[], nn.Module],
    dataset: Any,
    *,
    config: FinetuneConfig | dict[str, Any] | None = None,
    augment=None,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> ProbeResult:
    """Train a fresh backbone plus a linear head end to end on the labelled training split.

    With the pretrained backbone this is the fine-tuning protocol; with a randomly initialised one it
    is the supervised-from-scratch baseline: both get the same budget, learning-rate grid, early
    stopping and augmentation, so they compare like with like. For each learning rate of the grid
    the network is trained from the same start with early stopping on validation AUC; the rate and
    step with the best validation AUC are kept and the test split is scored once with them.

    Args:
        backbone_factory: returns a fresh backbone (an ``nn.Module`` with ``feature_dim``).
        dataset: has ``task`` and ``splits["train"|"val"|"test"]`` with uint8 ``images`` and ``labels``;
            ``train`` is the labelled subset.
        config: a :class:`FinetuneConfig`, a dict of overrides, or None for the defaults.
        augment: an ``sslcore.augment.AugmentConfig`` for the training images (the same draws for
            every learning rate and for every arm fine-tuned with this seed); plain normalisation when None.
        device: where training runs.
        seed: seeds the batch order, the augmentations and the bootstrap interval.
    """
    from sslcore.augment import augment as augment_images, normalize

    config = FinetuneConfig.from_value(config)
    task = dataset.task
    train, val, test = (dataset.splits[name] for name in ("train", "val", "test"))
    k = n_outputs(task, train.labels, val.labels, test.labels)
    backbone = backbone_factory()
    head = nn.Linear(backbone.feature_dim, k)
    nn.init.zeros_(head.weight)  # zero head: deterministic, and the first steps start from the features
    nn.init.zeros_(head.bias)
    model = nn.Sequential(backbone, head).to(device)
    start = copy.deepcopy(model.state_dict())
    images, labels = train.images.to(device), train.labels.to(device)
    fits = []
    for lr in config.lr_grid:
        model.load_state_dict(start)
        if augment is None:
            augment_fn = model_input
        else:
            generator = torch.Generator().manual_seed(seed)  # the same views for every rate

            def augment_fn(batch: torch.Tensor, generator=generator) -> torch.Tensor:
                return normalize(augment_images(batch, augment, generator))
        fits.append(_fit_one_rate(model, images, labels, val, task, lr, config, augment_fn, seed, device))
    best = max(fits, key=lambda fit: (fit.val_auc, -fit.lr))  # ties: the smaller rate
    model.load_state_dict(best.state)
    test_scores = _probabilities(extract_features(model, test.images, device=device), task)
    return _scored(test_scores, test.labels.cpu(), task, best.val_auc, {"lr": best.lr, "step": best.step}, seed,
                   best.val_scores, val.labels.cpu())
