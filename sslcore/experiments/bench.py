"""Benchmarks behind BENCHMARKS.md: experiment presets, pretraining throughput, synthetic data,
catalogue search.

Every number in BENCHMARKS.md comes from one of these functions, run by ``python -m sslcore bench``.
"""

from __future__ import annotations

import dataclasses
import platform
import random
import statistics
import time
from collections.abc import Sequence
from typing import Any

import torch

from sslcore.training.step import timed_steps

# Catalogue benchmark queries: words, names, method and modality terms, and the empty query.
CATALOGUE_QUERIES = ("moco chest", "contrastive", "masked autoencoder", "histopathology dino", "segmentation ct",
                     "rubik", "retina fundus", "self-supervised", "zhou", "", "simclr dermatology", "ultrasound video")


def environment() -> dict[str, Any]:
    """The machine a benchmark ran on."""
    info = {"torch": torch.__version__, "python": platform.python_version(), "cpu_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def run_preset(name: str, dataset: str = "synthetic", *, evaluation: dict[str, Any] | None = None,
               **overrides) -> dict[str, Any]:
    """Pretrain and sweep one preset; the JSON layout of ``bench --out``.

    Args:
        name: a preset of ``sslcore.experiments.presets.PRESETS``.
        dataset: what to run it on.
        evaluation: ``EvaluationConfig`` fields to replace (tests use small sweeps).
        **overrides: ``PretrainConfig`` fields to replace.

    Returns:
        ``preset``, ``dataset`` (``spec`` and the test split's ``test_sha256``), ``device``, ``config``
        (with ``data_seed``), ``timings``, ``pretrain_images_per_second``, ``points``, ``summary``,
        ``comparisons`` (the like-for-like paired differences with their intervals and verdicts),
        ``estimate`` (what the Lab's estimate said before the run, ``estimated_total_s``, against the
        measured ``total_s``, and their ``ratio``) and ``environment``.
    """
    from sslcore.evaluate.report import summarise
    from sslcore.experiments.config import EvaluationConfig
    from sslcore.experiments.estimate import estimate_experiment
    from sslcore.experiments.presets import preset
    from sslcore.experiments.runner import run_experiment
    from sslcore.training import load_for_config

    config = preset(name, dataset, **overrides)
    if evaluation:
        config.evaluation = EvaluationConfig(**{**config.evaluation.to_dict(), **evaluation})
    estimated = estimate_experiment(config, load_for_config(config.pretrain))["total_seconds"]
    result = run_experiment(config)
    measured = result.timings["total_s"]
    return {
        "preset": name,
        "dataset": {"spec": dataset, "test_sha256": result.test_fingerprint},
        "device": result.pretrain.device,
        "config": config.to_dict(),
        "timings": {k: round(v, 2) for k, v in result.timings.items()},
        "pretrain_images_per_second": round(result.pretrain.images_per_second, 1),
        "points": result.points,
        "summary": summarise(result.points),
        "comparisons": result.comparisons,
        "estimate": {"estimated_total_s": None if estimated is None else round(estimated, 1),
                     "total_s": round(measured, 1),
                     "ratio": None if not estimated else round(measured / estimated, 2)},
        "environment": environment(),
    }


def preset_markdown(report: dict[str, Any], metric: str = "auc") -> str:
    """A markdown table of mean +- std of ``metric`` per method, protocol and label fraction."""
    rows = report["summary"]
    fractions = sorted({row["fraction"] for row in rows})
    keys = sorted({(row["method"], row["protocol"]) for row in rows})
    by_key = {(row["method"], row["protocol"], row["fraction"]): row for row in rows}
    header = "| method | protocol | " + " | ".join(f"{f:g}" for f in fractions) + " |"
    lines = [header, "|" + "---|" * (len(fractions) + 2)]
    for method, protocol in keys:
        cells = []
        for fraction in fractions:
            row = by_key.get((method, protocol, fraction))
            cells.append(f"{row[f'{metric}_mean']:.3f} ± {row[f'{metric}_std']:.3f}" if row else "")
        lines.append(f"| {method} | {protocol} | " + " | ".join(cells) + " |")
    lines += ["", "| method | protocol | vs | fraction | difference | 95% CI | verdict |", "|---|---|---|---|---|---|---|"]
    for c in report.get("comparisons", []):
        lines.append(f"| {c['method']} | {c['protocol']} | {c['baseline']} ({c['baseline_protocol']}) | "
                     f"{c['fraction']:g} | {c['mean_difference']:+.3f} | {c['ci_low']:+.3f} to {c['ci_high']:+.3f} | "
                     f"{c['verdict']} |")
    timings = report["timings"]
    lines.append("")
    lines.append(f"{report['preset']} on {report['dataset']['spec']} ({report['device']}): pretraining "
                 f"{timings['pretrain_s']:.0f} s at {report['pretrain_images_per_second']:,.0f} images/s, "
                 f"evaluation {timings['eval_s']:.0f} s, total {timings['total_s']:.0f} s"
                 + (f" (the Lab's estimate: {report['estimate']['estimated_total_s']:.0f} s, measured/estimated "
                    f"{report['estimate']['ratio']:.2f})" if report.get("estimate", {}).get("ratio") else "") + ". "
                 f"Values: test {metric.upper()}, mean ± std over seeds; differences: {metric.upper()} of the "
                 f"method minus its like-for-like baseline, mean over seeds with a paired bootstrap interval.")
    return "\n".join(lines)


def synthetic_generation(image_size: int = 28, n_images: int = 10_000, seed: int = 0) -> dict[str, Any]:
    """Time to draw ``n_images`` built-in synthetic radiographs (every split) on the CPU."""
    from sslcore.data.synthetic_cxr import make_synthetic_cxr

    start = time.perf_counter()
    dataset = make_synthetic_cxr(n_images=n_images, image_size=image_size, seed=seed)
    seconds = time.perf_counter() - start
    drawn = sum(len(split.images) for split in dataset.splits.values())
    return {"image_size": image_size, "n_images": drawn, "seconds": round(seconds, 3),
            "images_per_second": round(drawn / seconds), "environment": environment()}


def throughput(image_size: int = 28, backbone: str = "small_cnn", method: str = "simclr", batch_size: int = 256,
               n_images: int = 4000, n_steps: int = 10, repeats: int = 3, device: str = "auto",
               with_lightly: bool = False) -> dict[str, Any]:
    """Pretraining images/s end to end against the model alone (and against lightly's pipeline).

    ``model_only`` runs the same method step on views that already sit on the device, as many as
    the method asks for (two per image for SimCLR), so ``end_to_end / model_only`` is what the data
    path (indexing the uint8 dataset and the batched augmentations) costs. ``lightly`` (optional)
    feeds the same model the two views of lightly's per-image SimCLR transforms from a DataLoader
    with one worker process per CPU (at most 8), the common way SSL pipelines are built. The
    variants are timed in turn, ``repeats`` rounds of ``n_steps`` steps each (after two warm-up
    steps), and each figure is the median over the rounds: on a shared machine, interleaving keeps a
    burst of load from favouring one variant. Images/s counts source images.

    Returns:
        ``<variant>_images_per_second`` (median) and ``<variant>_runs`` (every round) for ``model_only``,
        ``end_to_end`` and ``lightly``; ``end_to_end_over_model_only`` and ``end_to_end_over_lightly``;
        ``cpu_ms_per_image`` (CPU time of every thread and, for lightly, of its workers: what the
        variant costs whatever else runs on the machine); ``page_faults_per_step`` of this process;
        ``allocator`` (see ``sslcore.training.runtime``) and the machine.
    """
    if n_steps < 1 or repeats < 1:
        raise ValueError(f"need n_steps >= 1 and repeats >= 1, got {n_steps} and {repeats}")
    from sslcore.augment import AugmentConfig, normalize
    from sslcore.data import load_dataset
    from sslcore.methods import Batch
    from sslcore.training import PretrainConfig, Trainer, build_model, resolve_device
    from sslcore.training.devices import synchronizer
    from sslcore.training.runtime import allocator_status

    torch_device = resolve_device(device)
    sync = synchronizer(torch_device)
    dataset = load_dataset("synthetic", image_size=image_size, seed=0, n_images=n_images)
    images = dataset.splits["train"].images.to(torch_device)
    config = PretrainConfig(method=method, backbone=backbone, image_size=image_size, batch_size=batch_size)
    model = build_model(config, channels=dataset.channels, n_classes=dataset.n_classes, task=dataset.task)
    trainer = Trainer(model, torch_device, lr=1e-4)
    augment_fn = trainer.views(AugmentConfig.preset("radiograph"), torch.Generator().manual_seed(0))
    ready: dict[int, torch.Tensor] = {}  # number of views -> random model input, made once

    def ready_views(sources: torch.Tensor) -> torch.Tensor:
        if len(sources) not in ready:
            views = normalize(torch.rand(len(sources), *sources.shape[1:], device=torch_device))
            ready[len(sources)] = views.contiguous(memory_format=torch.channels_last) if trainer.on_cuda else views
        return ready[len(sources)]

    def model_only() -> None:
        trainer.step(Batch(images=images[:batch_size]), ready_views, progress=0.5)

    def end_to_end() -> None:
        index = torch.randint(len(images), (batch_size,), device=torch_device)
        trainer.step(Batch(images=images[index]), augment_fn, progress=0.5)

    variants = {"model_only": model_only, "end_to_end": end_to_end}
    if with_lightly:
        lightly = _LightlyPipeline(trainer, dataset, batch_size, steps=repeats * (n_steps + 2))
        variants["lightly"] = lightly.step
    rates, cpu, faults = _timed_in_turn(variants, repeats, n_steps, batch_size, sync)
    report = {"image_size": image_size, "backbone": backbone, "method": method, "batch_size": batch_size,
              "device": str(torch_device), "n_steps": n_steps, "repeats": repeats}
    for name in variants:
        report[f"{name}_images_per_second"] = round(statistics.median(rates[name]), 1)
        report[f"{name}_runs"] = [round(rate, 1) for rate in rates[name]]
    report["end_to_end_over_model_only"] = round(
        report["end_to_end_images_per_second"] / report["model_only_images_per_second"], 3)
    cpu_ms = {name: 1000 * statistics.median(values) for name, values in cpu.items()}
    if with_lightly:
        report["end_to_end_over_lightly"] = round(
            report["end_to_end_images_per_second"] / report["lightly_images_per_second"], 2)
        cpu_ms["lightly"] += 1000 * lightly.close()
    report["cpu_ms_per_image"] = {name: round(value, 3) for name, value in cpu_ms.items()}
    report["page_faults_per_step"] = {name: round(statistics.median(values)) for name, values in faults.items()}
    report["allocator"] = allocator_status()
    report["environment"] = environment()
    return report


def _timed_in_turn(variants: dict[str, Any], repeats: int, n_steps: int, batch_size: int, sync):
    """Each variant's step timed in turn, ``repeats`` rounds of ``n_steps`` (after two warm-up steps):
    per variant, the images/s, CPU seconds per image and minor page faults per step of every round."""
    import resource

    rates: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    faults: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, step in variants.items():
            before, cpu_before = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
            rates[name].append(batch_size / timed_steps(step, 2, n_steps, sync))
            cpu[name].append((time.process_time() - cpu_before) / ((n_steps + 2) * batch_size))
            faults[name].append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before.ru_minflt) / (n_steps + 2))
    return rates, cpu, faults


class _LightlyPipeline:
    """The same model fed by lightly's per-image SimCLR transform in a DataLoader.

    The loader has one worker per CPU (at most 8), persistent workers, pinned memory on CUDA, and
    enough samples for every timed step, so that no epoch restart falls inside the clock; the
    workers count the images they transform, so that their CPU time can be shared out per image.
    """

    def __init__(self, trainer, dataset, batch_size: int, steps: int) -> None:
        import multiprocessing
        import os

        from lightly.transforms import SimCLRTransform
        from PIL import Image

        size = dataset.image_size
        transform = SimCLRTransform(input_size=size, cj_prob=0.8, cj_hue=0.0, cj_sat=0.0, random_gray_scale=0.0,
                                    min_scale=0.35, normalize={"mean": [0.5], "std": [0.25]})
        images = dataset.splits["train"].images.cpu()
        length = max(len(images), batch_size * (steps + 8))
        self.transformed = multiprocessing.Value("l", 0)
        transformed = self.transformed

        class Views(torch.utils.data.Dataset):
            def __len__(self) -> int:
                return length

            def __getitem__(self, i):
                picture = Image.fromarray(images[i % len(images), 0].numpy()).convert("RGB")
                first, second = transform(picture)
                with transformed.get_lock():
                    transformed.value += 1
                return first[:1], second[:1]  # grayscale model: keep one channel

        self.trainer = trainer
        self.loader = torch.utils.data.DataLoader(Views(), batch_size=batch_size, shuffle=True, drop_last=True,
                                                  num_workers=min(8, os.cpu_count() or 1), persistent_workers=True,
                                                  pin_memory=trainer.on_cuda)
        self.stream = iter(self.loader)

    def step(self) -> None:
        from sslcore.methods import Batch

        first, second = (views.to(self.trainer.device, non_blocking=True) for views in next(self.stream))
        both = torch.cat([first, second])  # (2B, 1, H, W): the two views of each image, as our path makes them
        if self.trainer.on_cuda:
            both = both.contiguous(memory_format=torch.channels_last)
        self.trainer.step(Batch(images=first), lambda sources: both[:len(sources)], progress=0.5)

    def close(self) -> float:
        """Stop the workers; their CPU seconds per transformed image."""
        import resource

        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.stream._shutdown_workers()  # joins them, so that their CPU time is counted below
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        return seconds / max(1, self.transformed.value)


def synthetic_catalogue(n_studies: int, seed: int = 0):
    """A catalogue of ``n_studies`` made by copying shipped studies with perturbed keys, years and
    titles (words swapped in from other studies), so that the vocabulary and facets stay realistic."""
    from sslcore.catalogue.store import Catalogue, load_catalogue

    shipped = load_catalogue(include_user=False).studies
    rng = random.Random(seed)
    words = [w for s in shipped for w in s.title.split()]
    studies = []
    for i in range(n_studies):
        base = shipped[i % len(shipped)]
        title = base.title.split()
        title[rng.randrange(len(title))] = rng.choice(words)
        studies.append(dataclasses.replace(base, key=f"{base.key}-{i}", title=" ".join(title),
                                           year=(base.year or 2020) + rng.randint(-2, 2)))
    return Catalogue(tuple(studies))


def catalogue_search(n_studies: int = 5000, repeats: int = 50) -> dict[str, Any]:
    """Median and 95th percentile (ms) of one faceted search (``Catalogue.browse``, as the catalogue
    page runs it: the ranked search and every facet value's count under the other filters), over
    ``repeats`` rounds of varied queries (some with filters) on ``n_studies`` synthetic studies."""
    if n_studies < 1 or repeats < 1:
        raise ValueError(f"need n_studies >= 1 and repeats >= 1, got {n_studies}, {repeats}")
    from sslcore.catalogue.facets import Filters

    catalogue = synthetic_catalogue(n_studies)
    start = time.perf_counter()
    catalogue.search("warm up")  # builds the index once, as the app does on first load
    index_ms = (time.perf_counter() - start) * 1000
    filters = (Filters(), Filters(strategy={"contrastive"}), Filters(year_from=2021, modality={"x-ray", "ct"}))
    timings, sizes = [], []
    for round_ in range(repeats):
        query = CATALOGUE_QUERIES[round_ % len(CATALOGUE_QUERIES)]
        start = time.perf_counter()
        result = catalogue.browse(query, filters[round_ % len(filters)])
        timings.append((time.perf_counter() - start) * 1000)
        sizes.append(len(result.studies))
    timings.sort()
    return {"n_studies": n_studies, "repeats": repeats, "index_build_ms": round(index_ms, 1),
            "median_ms": round(statistics.median(timings), 2),
            "p95_ms": round(timings[min(len(timings) - 1, int(0.95 * len(timings)))], 2),
            "max_ms": round(timings[-1], 2), "mean_result_size": round(statistics.mean(sizes), 1)}


METHODS_SWEEP = {"protocols": ("linear", "knn"), "fractions": (0.01, 1.0), "seeds": (0, 1, 2),
                 "baselines": ("random",)}


def methods(dataset: str = "synthetic", preset_name: str = "cpu-quick", *, device: str = "auto",
            only: Sequence[str] | None = None, on_message=print, sweep: dict[str, Any] | None = None,
            **overrides) -> dict[str, Any]:
    """Every SSL method (or those in ``only``) with its recipe under ``preset_name`` on ``dataset``,
    beside the frozen random backbone: pretraining time, validation and test AUC of the linear and kNN
    probes at 1% and 100% of the labels, whether it beat the random encoder on validation, and how well
    the classes separate in feature space (test images) before and after pretraining. ``overrides``
    replace pretraining fields of every recipe and ``sweep`` the evaluation's (tests use tiny ones)."""
    from sslcore.evaluate.embeddings import class_separation
    from sslcore.evaluate.features import extract_features
    from sslcore.evaluate.report import learning_check, summarise
    from sslcore.experiments.config import EvaluationConfig
    from sslcore.experiments.presets import preset
    from sslcore.experiments.runner import initial_backbone, run_experiment
    from sslcore.methods import METHODS
    from sslcore.training import load_for_config

    ssl_methods = [name for name, info in METHODS.items() if info.strategy != "supervised"]
    unknown = sorted(set(only or ()) - set(ssl_methods))
    if unknown:
        raise ValueError(f"bench methods runs SSL methods ({', '.join(ssl_methods)}); not {', '.join(unknown)}")
    sweep = {**METHODS_SWEEP, **(sweep or {})}
    rows = []
    loaded = {}
    for method in (name for name in ssl_methods if not only or name in only):
        config = preset(preset_name, dataset, method=method, device=device, **overrides)
        config.evaluation = EvaluationConfig(**{**config.evaluation.to_dict(), **sweep})
        key = (config.pretrain.image_size, config.pretrain.data_seed)
        data = loaded.setdefault(key, load_for_config(config.pretrain))
        on_message(f"{method}: {config.pretrain.epochs} epochs, lr {config.pretrain.lr:g}, {config.pretrain.augment}")
        try:
            result = run_experiment(config, dataset=data)
        except ValueError as error:  # a method the data cannot feed (MICLe without patients)
            rows.append({"method": method, "not_run": str(error)})
            on_message(f"  not run: {error}")
            continue
        test = data.splits["test"]
        separation = {which: class_separation(extract_features(backbone, test.images), test.labels.cpu())
                      for which, backbone in (("before", initial_backbone(config.pretrain, data)),
                                              ("after", result.pretrain.backbone))}
        summary = {(row["method"], row["protocol"], row["fraction"]): row for row in summarise(result.points)}
        val = {(p["method"], p["protocol"], p["fraction"]): [] for p in result.points}
        for point in result.points:
            val[(point["method"], point["protocol"], point["fraction"])].append(point["val_auc"])
        cells = {f"{who}_{protocol}_{fraction:g}": {"val_auc": sum(val[(name, protocol, fraction)]) / len(val[(name, protocol, fraction)]),
                                                     "test_auc": summary[(name, protocol, fraction)]["auc_mean"]}
                 for who, name in (("method", method), ("random", "random"))
                 for protocol in sweep["protocols"] for fraction in sweep["fractions"]}
        learning = learning_check(result.points)
        rows.append({"method": method, "config": config.to_dict(), "pretrain_s": round(result.timings["pretrain_s"], 1),
                     "images_per_second": round(result.pretrain.images_per_second, 1), "auc": cells,
                     "beat_random": learning["beat_random"] if learning else None, "separation": separation})
        on_message(f"  {rows[-1]['pretrain_s']:.0f} s; linear val AUC at 1% {cells['method_linear_0.01']['val_auc']:.3f} "
                   f"(random {cells['random_linear_0.01']['val_auc']:.3f}); separation {separation}")
    return {"dataset": dataset, "preset": preset_name, "methods": rows,
            "test_sha256": next(iter(loaded.values())).test_fingerprint() if loaded else None,
            "environment": environment()}


def methods_markdown(report: dict[str, Any]) -> str:
    """:func:`methods` as a markdown table (AUC val / test; separation before -> after)."""
    lines = ["| method | pretraining | linear 1% (val / test) | linear 100% | kNN 1% | kNN 100% | beats random (val) "
             "| separation before -> after |", "|---|---|---|---|---|---|---|---|"]
    random_rows = {}  # backbone -> its random encoder's cells (the ViT of MAE is not the small CNN)
    for row in report["methods"]:
        if "not_run" in row:
            lines.append(f"| {row['method']} | not run: {row['not_run']} | | | | | | |")
            continue
        auc = row["auc"]
        cells = [f"{auc[f'method_{p}_{f}']['val_auc']:.3f} / {auc[f'method_{p}_{f}']['test_auc']:.3f}"
                 for p in ("linear", "knn") for f in ("0.01", "1")]
        sep = row["separation"]
        separation = (f"{sep['before']:.3f} -> {sep['after']:.3f}" if None not in sep.values() else "n/a")
        lines.append(f"| {row['method']} | {row['pretrain_s']:.0f} s | " + " | ".join(cells)
                     + f" | {'yes' if row['beat_random'] else 'no'} | {separation} |")
        random_rows.setdefault(row["config"]["backbone"], auc)
    for backbone, auc in random_rows.items():
        cells = [f"{auc[f'random_{p}_{f}']['val_auc']:.3f} / {auc[f'random_{p}_{f}']['test_auc']:.3f}"
                 for p in ("linear", "knn") for f in ("0.01", "1")]
        lines.append(f"| random encoder ({backbone}) | - | " + " | ".join(cells) + " | - | - |")
    lines += ["", f"{report['preset']} recipes on {report['dataset']}: AUC on validation / test, mean over 3 seeds; "
                  "separation: silhouette of the test images by class (cosine), random weights -> pretrained."]
    return "\n".join(lines)
