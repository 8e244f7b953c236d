"""Runs put straight into the test's store, so that pages render real stored data without training."""

import json
import os

import pytest

from sslcore.experiments.presets import preset
from sslcore.runs import RunStore

FRACTIONS = (0.01, 0.1, 1.0)


def tiny_npz(path):
    """A MedMNIST-layout file of 28 px images at ``path`` (runs are checked against their data when queued)."""
    import numpy as np

    np.savez(path, **{f"{split}_{kind}": np.zeros((4, 28, 28) if kind == "images" else (4, 1), np.uint8)
                      for split in ("train", "val", "test") for kind in ("images", "labels")})
    return path


@pytest.fixture
def finished_run(tmp_path):
    """``finished_run(name, aucs=(0.7, 0.8), test_sha256="a" * 64, comparisons=None, **config_overrides) -> id``:
    a succeeded run whose SSL method (linear probe) scores AUC ``aucs[seed] + fraction / 10`` and its
    supervised baseline 0.1 less, scored on the test set ``test_sha256``; ``comparisons`` (dicts) are
    written as its comparisons.json. A ``dataset`` .npz that does not exist is made, with its file name,
    in the test's folder."""
    store = RunStore()

    def make(name, aucs=(0.7, 0.8), test_sha256="a" * 64, comparisons=None, result=None, **overrides):
        dataset = overrides.get("dataset", "")
        if dataset.endswith(".npz") and not os.path.exists(dataset):
            overrides["dataset"] = str(tiny_npz(tmp_path / os.path.basename(dataset)))
        config = preset("cpu-quick", **overrides).to_dict()
        run_id = store.create_run("experiment", config, name=name)
        store.claim_next(os.getpid(), "cpu")
        store.add_points(run_id, [
            {"method": method, "protocol": protocol, "fraction": fraction, "n_labelled": int(fraction * 3000),
             "seed": seed, "auc": auc + fraction / 10 - shift, "acc": auc - shift, "balanced_acc": auc - shift}
            for method, protocol, shift in ((config["method"], "linear", 0.0), ("supervised", "finetune", 0.1))
            for fraction in FRACTIONS for seed, auc in enumerate(aucs)])
        if comparisons is not None:
            store.write_artifact(run_id, "comparisons.json", json.dumps(comparisons))
        store.finish(run_id, "succeeded", result={"test_sha256": test_sha256, **(result or {})})
        return run_id

    return make
