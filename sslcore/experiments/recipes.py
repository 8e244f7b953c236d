"""Per-method recipes: how each method pretrains under each preset, and how a recipe is chosen.

Every method inherited SimCLR's recipe before (its learning rate and augmentation, AdamW's weight
decay 1e-4); each method now has its own, starting from its paper's defaults scaled to small images
(``recipes.yaml``), and :func:`select_recipe` (``python -m sslcore bench select``) tries a small
documented grid around it, judging each candidate by the linear probe's AUC on the VALIDATION split
at a few label fractions (the test split is never read), and records what it chose.
"""

from __future__ import annotations

import datetime
import functools
import time
from pathlib import Path
from typing import Any, Callable

RECIPES_FILE = Path(__file__).resolve().parent / "recipes.yaml"
RECIPE_KEYS = ("lr", "weight_decay", "augment", "epochs", "batch_size", "temperature", "method_params", "backbone")
# What bench select tries around each method's recipe (each candidate replaces these fields).
SELECTION_GRIDS: dict[str, list[dict[str, Any]]] = {
    "simclr": [{"lr": lr, "temperature": t} for lr in (1e-3, 2e-3) for t in (0.2, 0.5)],
    "micle": [{"temperature": t} for t in (0.2, 0.5)],
    "moco": [{"lr": lr} for lr in (5e-4, 1e-3)],
    # BYOL and SimSiam rely on weight decay (their papers use 1.5e-6 with LARS and 1e-4 with SGD); under
    # AdamW's decoupled decay 1e-4 is close to none, so the grid tries a decay of the size MAE uses too.
    "byol": [{"lr": lr, "weight_decay": wd} for lr in (5e-4, 2e-3) for wd in (1e-4, 0.05)],
    "simsiam": [{"lr": lr, "weight_decay": wd} for lr in (5e-4, 2e-3) for wd in (1e-4, 0.05)],
    "barlow_twins": [{"lr": lr} for lr in (1e-3, 2e-3)],
    "mae": [{"lr": lr} for lr in (1.5e-3, 3e-3)],
    "rotation": [{"lr": lr} for lr in (1e-3, 2e-3)],
}
SELECTION_FRACTIONS = (0.01, 0.1, 1.0)
SELECTION_SEEDS = (0, 1)
QUICK_BUDGET_S = 180.0  # a quick recipe pretrains within 3 minutes on 2 CPU cores


@functools.lru_cache(maxsize=1)
def _recipes() -> dict[str, dict[str, dict[str, Any]]]:
    import yaml

    return yaml.safe_load(RECIPES_FILE.read_text(encoding="utf-8"))


def recipe(preset: str, method: str) -> dict[str, Any]:
    """The pretraining fields of ``method``'s recipe under ``preset`` (empty when it has none: the
    preset's own fields then apply)."""
    entry = dict(_recipes().get(preset, {}).get(method, {}))
    entry.pop("chosen_by", None)
    unknown = set(entry) - set(RECIPE_KEYS)
    if unknown:
        raise ValueError(f"recipes.yaml: {preset}/{method} has unknown fields {sorted(unknown)}")
    return entry


def chosen_by(preset: str, method: str) -> str:
    """How a recipe was chosen, as recorded in ``recipes.yaml`` ("" when not recorded)."""
    return str(_recipes().get(preset, {}).get(method, {}).get("chosen_by", ""))


def validation_auc(backbone, dataset, *, fractions=SELECTION_FRACTIONS, seeds=SELECTION_SEEDS,
                   device="cpu") -> dict[float, float]:
    """Mean validation AUC of the linear probe on ``backbone``'s frozen features at each label
    fraction (over ``seeds``). Reads the training and validation splits only."""
    from sslcore.evaluate.features import extract_features
    from sslcore.evaluate.probes import linear_probe
    from sslcore.evaluate.sweep import labelled_subset

    train, val = dataset.splits["train"], dataset.splits["val"]
    train_feats = extract_features(backbone, train.images, device=device)
    val_feats = extract_features(backbone, val.images, device=device)
    labels, val_labels = train.labels.cpu(), val.labels.cpu()
    result = {}
    for fraction in fractions:
        values = []
        for seed in seeds:
            index = labelled_subset(labels, fraction, seed, dataset.task)
            # The validation split stands in for the test split: the probe's test numbers are discarded.
            probe = linear_probe(train_feats[index], labels[index], val_feats, val_labels, val_feats, val_labels,
                                 dataset.task, device=device)
            values.append(probe.val_auc)
        result[float(fraction)] = sum(values) / len(values)
    return result


def _merged(base: dict[str, Any], candidate: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **candidate}
    if "method_params" in candidate:
        merged["method_params"] = {**base.get("method_params", {}), **candidate["method_params"]}
    return merged


def select_recipe(preset_name: str, method: str, dataset_spec: str = "synthetic", *,
                  grid: list[dict[str, Any]] | None = None, device: str = "auto",
                  budget_s: float | None = QUICK_BUDGET_S, fractions=SELECTION_FRACTIONS, seeds=SELECTION_SEEDS,
                  on_message: Callable[[str], None] = print, **overrides) -> dict[str, Any]:
    """Try each candidate of ``method``'s grid under ``preset_name`` on ``dataset_spec`` and choose the
    one with the best mean validation AUC (linear probe at :data:`SELECTION_FRACTIONS`) among those
    that pretrain within ``budget_s`` here. ``overrides`` replace pretraining fields of every
    candidate (tests use tiny ones; the recorded choice leaves them out).

    Returns:
        ``preset``, ``method``, ``dataset``, ``random`` (the frozen random encoder's validation AUC per
        fraction), ``candidates`` (each: ``overrides``, ``val_auc`` per fraction, ``mean_val_auc``,
        ``pretrain_s``, ``within_budget``) and ``chosen`` (the winning candidate's recipe fields).
    """
    from sslcore.experiments.presets import preset as build_preset
    from sslcore.experiments.runner import initial_backbone
    from sslcore.training import load_for_config, pretrain, resolve_device

    base = recipe(preset_name, method)
    grid = grid if grid is not None else SELECTION_GRIDS.get(method, [{}])
    first = build_preset(preset_name, dataset_spec, method=method, **overrides)
    dataset = load_for_config(first.pretrain)
    torch_device = resolve_device(device)
    scored = dict(fractions=fractions, seeds=seeds, device=torch_device)
    random = validation_auc(initial_backbone(first.pretrain, dataset), dataset, **scored)
    on_message(f"random encoder: validation AUC {_format(random)}")
    candidates = []
    for candidate in grid:
        fields = _merged(base, candidate)
        config = build_preset(preset_name, dataset_spec, method=method, **{**fields, "device": device, **overrides})
        started = time.perf_counter()
        result = pretrain(config.pretrain, dataset=dataset)
        seconds = time.perf_counter() - started
        scores = validation_auc(result.backbone, dataset, **scored)
        mean = sum(scores.values()) / len(scores)
        fits = budget_s is None or seconds <= budget_s
        candidates.append({"overrides": candidate, "val_auc": scores, "mean_val_auc": mean,
                           "pretrain_s": round(seconds, 1), "within_budget": fits})
        on_message(f"{candidate}: validation AUC {_format(scores)}, mean {mean:.3f}, pretraining {seconds:.0f} s"
                   + ("" if fits else " (over the time budget)"))
    return {"preset": preset_name, "method": method, "dataset": dataset_spec, "random": random,
            "candidates": candidates, "chosen": _merged(base, _best(candidates)["overrides"])}


def _best(candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """The candidate with the best mean validation AUC among those within the time budget, or among
    all of them when none is."""
    eligible = [c for c in candidates if c["within_budget"]] or candidates
    return max(eligible, key=lambda c: c["mean_val_auc"])


def _setting(overrides: dict[str, Any]) -> str:
    """``{"lr": 0.002, "weight_decay": 0.05}`` -> ``"lr 0.002, weight_decay 0.05"``."""
    return ", ".join(f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}"
                     for key, value in overrides.items()) or "the recipe as it is"


def _format(scores: dict[float, float]) -> str:
    return ", ".join(f"{fraction:.0%} {value:.3f}" for fraction, value in scores.items())


def write_choice(report: dict[str, Any], path: Path = RECIPES_FILE) -> None:
    """Record :func:`select_recipe`'s choice in ``recipes.yaml`` with the validation numbers behind it."""
    import yaml

    from sslcore.io import atomic_write_text

    recipes = yaml.safe_load(path.read_text(encoding="utf-8"))
    best = _best(report["candidates"])
    tried = "; ".join(f"{_setting(c['overrides'])} -> {c['mean_val_auc']:.3f}" for c in report["candidates"])
    if not best["within_budget"]:
        seconds = ", ".join(f"{c['pretrain_s']:.0f} s" for c in report["candidates"])
        tried += f" (none pretrained within the time budget on the machine that chose: {seconds})"
    entry = {key: report["chosen"][key] for key in RECIPE_KEYS if key in report["chosen"]}
    entry["chosen_by"] = (f"bench select on {report['dataset']} (validation split only, {datetime.date.today()}): "
                          f"mean linear-probe validation "
                          f"AUC at {', '.join(f'{f:.0%}' for f in best['val_auc'])} labels {best['mean_val_auc']:.3f} "
                          f"(random encoder {sum(report['random'].values()) / len(report['random']):.3f}); tried {tried}")
    recipes.setdefault(report["preset"], {})[report["method"]] = entry
    header = "".join(line + "\n" for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#"))
    atomic_write_text(path, header + yaml.safe_dump(recipes, sort_keys=False, width=120))
    _recipes.cache_clear()
