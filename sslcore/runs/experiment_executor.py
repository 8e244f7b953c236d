"""The experiment executor: what the worker runs for a run of kind ``experiment`` (a Lab run):
pretrain, evaluate, and save what the pages show.

Artifacts in the run's folder: ``config.yaml`` (replays the run with ``python -m sslcore experiment
--config``), ``checkpoint.pt``, ``curve.csv`` (every evaluation point), ``scores.npz`` (each point's
test scores, for paired comparisons), ``comparisons.json`` (the like-for-like paired differences)
and ``embeddings.npz`` (features of a sample of images before and after pretraining, read by the
Embeddings page). The run's result records the test split's fingerprint.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sslcore.evaluate.compare import Comparison, scores_npz
from sslcore.evaluate.embeddings import class_separation
from sslcore.evaluate.report import learning_check
from sslcore.experiments.config import ExperimentConfig
from sslcore.experiments.runner import arm_name, initial_backbone, run_experiment
from sslcore.runs.store import POINT_FIELDS

# Pretraining reports every step; the store needs far fewer rows for a smooth live curve.
METRIC_EVERY_STEPS = 5
# Images per split in embeddings.npz: enough to see structure, few enough for a quick UMAP and page.
EMBEDDING_IMAGES_PER_SPLIT = 1000
EMBEDDING_SPLITS = ("train", "test")


def execute(run, ctx) -> dict[str, Any]:
    """Run the experiment in ``ctx.config``, streaming progress, points and artifacts to the store."""
    import yaml

    config = ExperimentConfig.from_dict(ctx.config)
    ctx.write_artifact("config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    ctx.log(f"loading dataset {config.pretrain.dataset!r} at {config.pretrain.image_size} px")

    def on_progress(progress) -> None:
        if progress.knn_accuracy is not None:
            values = {"knn_accuracy": progress.knn_accuracy, "collapse_score": progress.collapse_score}
            ctx.report_metrics(progress.step, progress.epoch, **{k: v for k, v in values.items() if v is not None})
            if progress.epoch == 0:
                ctx.log(f"before pretraining (random weights): online kNN accuracy {progress.knn_accuracy:.3f}")
                return
            ctx.log(f"epoch {progress.epoch}/{progress.epochs}: loss {progress.loss:.4f}, "
                    f"online kNN accuracy {progress.knn_accuracy:.3f}, {progress.images_per_second:,.0f} images/s")
        if progress.step % METRIC_EVERY_STEPS == 0 or progress.step == progress.total_steps:
            ctx.report_metrics(progress.step, progress.epoch, loss=progress.loss, lr=progress.lr,
                               images_per_second=progress.images_per_second, eta_seconds=progress.eta_seconds,
                               progress=progress.step / progress.total_steps)

    def on_point(point: dict[str, Any]) -> None:
        ctx.add_points([{key: point[key] for key in POINT_FIELDS}])
        ctx.log(f"{point['method']} ({point['protocol']}), {point['fraction']:.0%} of labels "
                f"({point['n_labelled']} images), seed {point['seed']}: AUC {point['auc']:.3f}")

    result = run_experiment(config, on_progress=on_progress, on_point=on_point, should_stop=ctx.should_stop,
                            checkpoint_path=ctx.artifact_dir / "checkpoint.pt")
    ctx.set_timings(result.timings)
    if result.pretrain.stopped_early:
        return {"device": result.pretrain.device}
    ctx.log(f"pretraining took {result.timings['pretrain_s']:.0f} s, evaluation {result.timings['eval_s']:.0f} s")
    if result.points:
        ctx.write_artifact("curve.csv", points_csv(result.points))
        ctx.write_artifact("scores.npz", scores_npz(result.scores, result.dataset.splits["test"].labels,
                                                    result.test_fingerprint, result.dataset.task))
        ctx.write_artifact("comparisons.json", json.dumps(result.comparisons, indent=2))
        for comparison in result.comparisons:
            ctx.log(Comparison(**comparison).sentence)
        headline = headline_metric(result.points, arm_name(config.pretrain.method, config.pretrain.init,
                                                           config.pretrain.epochs))
        if headline is not None:
            ctx.set_headline(*headline)
    learning = learning_check(result.points)
    if learning is not None:
        ctx.log(learning["sentence"], "info" if learning["beat_random"] else "warning")
    arrays = embedding_arrays(config, result)
    ctx.write_artifact("embeddings.npz", npz_bytes(arrays))
    test = arrays["split"] == "test"
    separation = {"before": class_separation(arrays["features_before"][test], arrays["labels"][test]),
                  "after": class_separation(arrays["features_after"][test], arrays["labels"][test])}
    return {"device": result.pretrain.device, "images_per_second": result.pretrain.images_per_second,
            "test_sha256": result.test_fingerprint, "data_seed": config.pretrain.data_seed,
            "learning": learning, "separation": separation}


def points_csv(points: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=POINT_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(points)
    return buffer.getvalue()


def headline_metric(points: list[dict[str, Any]], method: str) -> tuple[str, float] | None:
    """The run's number for lists: mean test AUC over seeds of the method at its smallest label fraction
    (with the first of fine-tune, linear, kNN it was evaluated with: fine-tuning is what is compared
    with training from scratch): where pretraining matters most."""
    own = [p for p in points if p["method"] == method and p["auc"] is not None]
    if not own:
        return None
    protocol = next(p for p in ("finetune", "linear", "knn") if any(q["protocol"] == p for q in own))
    fraction = min(p["fraction"] for p in own if p["protocol"] == protocol)
    values = [p["auc"] for p in own if p["protocol"] == protocol and p["fraction"] == fraction]
    return f"{protocol} AUC @ {fraction:.0%} labels", sum(values) / len(values)


def npz_bytes(arrays: dict[str, Any]) -> bytes:
    """Numpy arrays as a compressed ``.npz``."""
    import numpy as np

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def embedding_arrays(config: ExperimentConfig, result) -> dict[str, Any]:
    """Features of a seeded sample of train and test images from the backbone before and after pretraining,
    with what the Embeddings page colours them by (the arrays of ``embeddings.npz``).

    ``labelled`` flags the training images in the smallest labelled subset of the first seed, the
    labels a probe at that fraction saw.
    """
    import numpy as np
    import torch

    from sslcore.evaluate.features import extract_features
    from sslcore.evaluate.sweep import labelled_subset

    dataset, device = result.dataset, result.pretrain.device
    generator = torch.Generator().manual_seed(config.pretrain.seed)
    evaluation = config.evaluation
    in_subset = torch.zeros(len(dataset.splits["train"].labels), dtype=torch.bool)
    in_subset[labelled_subset(dataset.splits["train"].labels, min(evaluation.fractions), evaluation.seeds[0],
                              dataset.task)] = True
    samples, names, labelled = [], [], []
    for name in EMBEDDING_SPLITS:
        split = dataset.splits[name].to("cpu")
        chosen = torch.randperm(len(split.labels), generator=generator)[:EMBEDDING_IMAGES_PER_SPLIT].sort().values
        samples.append(split.subset(chosen))
        names.append(np.full(len(chosen), name))
        labelled.append(in_subset[chosen] if name == "train" else torch.zeros(len(chosen), dtype=torch.bool))
    images = torch.cat([sample.images for sample in samples])
    arrays = {
        "features_before": extract_features(initial_backbone(config.pretrain, dataset), images, device=device),
        "features_after": extract_features(result.pretrain.backbone, images, device=device),
        "images": images, "labels": torch.cat([sample.labels for sample in samples]),
        "patient_ids": torch.cat([sample.patient_ids for sample in samples]), "labelled": torch.cat(labelled),
    }
    return {"split": np.concatenate(names), "label_names": np.array(dataset.label_names),
            **{key: value.cpu().numpy() for key, value in arrays.items()}}
