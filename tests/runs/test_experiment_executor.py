"""The Lab's experiment job, run end to end by a real worker on a small synthetic experiment."""

import csv
import json

import numpy as np
import pytest
import yaml

from sslcore.evaluate import labelled_subset
from sslcore.evaluate.compare import VERDICTS, load_scores
from sslcore.evaluate.embeddings import load_embeddings
from sslcore.experiments.config import ExperimentConfig
from sslcore.experiments.presets import preset
from sslcore.runs import Worker
from sslcore.runs.experiment_executor import headline_metric
from sslcore.runs.store import POINT_FIELDS
from sslcore.training import load_for_config

FRACTIONS = (0.05, 1.0)


def small_experiment() -> ExperimentConfig:
    config = preset("cpu-quick", epochs=1, batch_size=64, max_train_images=None, dataset_options={"n_images": 500})
    config.evaluation.fractions, config.evaluation.seeds = FRACTIONS, (0,)
    config.evaluation.finetune_epochs, config.evaluation.finetune_lrs = 2, (1e-3,)
    return config


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One experiment run through the worker with the real executor."""
    from sslcore.runs import RunStore

    store = RunStore(tmp_path_factory.mktemp("jobs") / "runs.sqlite")
    config = small_experiment()
    run_id = store.create_run("experiment", config.to_dict(), name="small")
    Worker(store, device="cpu", poll_interval=0.1, idle_exit=0.0).run(once=True)
    return store, run_id, config


def test_the_run_succeeds_with_progress_points_timings_and_a_headline(finished):
    store, run_id, config = finished
    run = store.get(run_id)
    assert run.status == "succeeded", run.error
    names = {row["name"] for row in store.metrics(run_id)}
    assert {"loss", "images_per_second", "progress", "knn_accuracy"} <= names
    points = store.points(run_id)
    # The method (linear, knn, fine-tuned), the random backbone (linear, knn) and supervised, per fraction.
    assert {(p["method"], p["protocol"]) for p in points} == {
        ("simclr", "linear"), ("simclr", "knn"), ("simclr", "finetune"), ("random", "linear"), ("random", "knn"),
        ("supervised", "finetune")}
    assert {p["fraction"] for p in points} == set(FRACTIONS)
    assert set(run.timings) == {"pretrain_s", "eval_s", "total_s"}
    own = [p["auc"] for p in points if p["method"] == "simclr" and p["protocol"] == "finetune" and p["fraction"] == 0.05]
    # The headline is the fine-tuned number: what is compared with training from scratch.
    assert run.headline_name == "finetune AUC @ 5% labels" and run.headline_value == pytest.approx(np.mean(own))
    assert run.result["test_sha256"] == load_for_config(config.pretrain).test_fingerprint()


def test_the_run_keeps_its_test_scores_and_its_paired_comparisons(finished):
    store, run_id, config = finished
    scores, labels, fingerprint, task = load_scores(store.artifact_path(run_id, "scores.npz"))
    assert task == "multi-class"
    assert fingerprint == store.get(run_id).result["test_sha256"]
    assert len(scores) == len(store.points(run_id)) and all(len(value) == len(labels) for value in scores.values())
    comparisons = json.loads(store.artifact_path(run_id, "comparisons.json").read_text())
    assert {(c["protocol"], c["baseline"], c["fraction"]) for c in comparisons} == {
        (protocol, baseline, fraction) for protocol, baseline in (("finetune", "supervised"), ("linear", "random"),
                                                                  ("knn", "random")) for fraction in FRACTIONS}
    assert all(c["verdict"] in VERDICTS for c in comparisons)


def test_the_artifacts_replay_the_run_and_hold_every_point(finished):
    store, run_id, config = finished
    saved = yaml.safe_load(store.artifact_path(run_id, "config.yaml").read_text())
    assert ExperimentConfig.from_dict(saved).to_dict() == config.to_dict()
    with store.artifact_path(run_id, "curve.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(POINT_FIELDS) and len(rows) == len(store.points(run_id))
    assert store.artifact_path(run_id, "checkpoint.pt").stat().st_size > 0


def test_embeddings_hold_train_and_test_images_before_and_after_pretraining(finished):
    store, run_id, config = finished
    data = load_embeddings(store.artifact_path(run_id, "embeddings.npz"))
    dataset = load_for_config(config.pretrain)
    n_train, n_test = len(dataset.splits["train"].labels), len(dataset.splits["test"].labels)
    assert data["features_before"].shape == data["features_after"].shape
    assert len(data["labels"]) == n_train + n_test  # small enough to keep every image
    assert not np.allclose(data["features_before"], data["features_after"])
    assert list(data["label_names"]) == dataset.label_names
    assert data["images"].dtype == np.uint8
    expected = labelled_subset(dataset.splits["train"].labels, min(FRACTIONS), 0, dataset.task)
    assert data["labelled"].sum() == len(expected) and not data["labelled"][data["split"] == "test"].any()


def test_the_headline_uses_the_first_protocol_the_method_was_evaluated_with():
    points = [{"method": "byol", "protocol": "knn", "fraction": f, "auc": a} for f, a in ((0.1, 0.6), (1.0, 0.9))]
    points.append({"method": "supervised", "protocol": "finetune", "fraction": 0.1, "auc": 0.99})
    assert headline_metric(points, "byol") == ("knn AUC @ 10% labels", 0.6)
    assert headline_metric(points, "simclr") is None
