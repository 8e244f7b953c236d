"""``experiment``, ``evaluate`` and ``methods`` from the shell, on a tiny synthetic experiment."""

import csv
import json

import pytest
import yaml

from sslcore.cli import main
from sslcore.experiments.config import ExperimentConfig
from sslcore.experiments.presets import preset
from sslcore.runs import RunStore


def tiny_config_file(path, **evaluation):
    config = preset("cpu-quick", epochs=1, batch_size=32, max_train_images=None, device="cpu",
                    dataset_options={"n_images": 240}).to_dict()
    config["evaluation"].update({"fractions": [0.1, 1.0], "seeds": [0], "protocols": ["linear", "knn"], **evaluation})
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def experiment_out(tmp_path_factory):
    folder = tmp_path_factory.mktemp("experiment")
    config = tiny_config_file(folder / "config_in.yaml", baselines=["random"])
    assert main(["experiment", "--config", str(config), "--out", str(folder / "out")]) == 0
    return folder / "out"


def test_experiment_writes_a_replayable_config_the_checkpoint_and_every_point(experiment_out):
    replayed = ExperimentConfig.from_dict(yaml.safe_load((experiment_out / "config.yaml").read_text()))
    assert replayed.evaluation.fractions == (0.1, 1.0) and replayed.evaluation.baselines == ("random",)
    assert (experiment_out / "checkpoint.pt").stat().st_size > 0
    result = json.loads((experiment_out / "points.json").read_text())
    # simclr and the random backbone, linear and kNN, two fractions, one seed.
    assert len(result["points"]) == 8 and {p["method"] for p in result["points"]} == {"simclr", "random"}
    assert set(result["timings"]) == {"pretrain_s", "eval_s", "total_s"}
    assert len(result["dataset"]["test_sha256"]) == 64
    # Each probe against the same probe on the random backbone, at each fraction.
    assert {(c["protocol"], c["baseline"], c["fraction"]) for c in result["comparisons"]} == {
        (protocol, "random", fraction) for protocol in ("linear", "knn") for fraction in (0.1, 1.0)}
    with (experiment_out / "curve.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 8


def test_evaluate_sweeps_a_pretrained_checkpoint(experiment_out, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(experiment_out), "--protocols", "knn", "--fractions", "0.5", "--seeds", "0", "1",
                 "--baselines", "--device", "cpu", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [(p["method"], p["protocol"], p["seed"]) for p in result["points"]] == [("simclr", "knn", 0),
                                                                                  ("simclr", "knn", 1)]
    assert all(0 <= p["auc"] <= 1 for p in result["points"])
    assert "simclr" in capsys.readouterr().out


def test_evaluate_names_a_missing_checkpoint(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nothing")]) == 1
    assert "no checkpoint at" in capsys.readouterr().err


def test_queue_adds_the_run_to_the_store_for_the_worker(tmp_path, capsys):
    db = tmp_path / "runs.sqlite"
    assert main(["experiment", "--preset", "cpu-quick", "--method", "byol", "--queue", "--db", str(db)]) == 0
    [run] = RunStore(db).list_runs()
    assert run.status == "queued" and run.config["method"] == "byol" and run.config["evaluation"]["seeds"] == [0, 1, 2]
    assert f"queued run #{run.id}" in capsys.readouterr().out


@pytest.mark.parametrize("content, message", [("[1, 2]", "must hold a mapping"), ("epochs: [", "not valid YAML"),
                                              ("evaluation: {folds: 3}", "unknown evaluation keys")])
def test_a_bad_config_file_is_a_clear_error(tmp_path, capsys, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    assert main(["experiment", "--config", str(path)]) == 1
    assert message in capsys.readouterr().err


def test_methods_lists_every_method_with_its_paper(capsys):
    from sslcore.methods import METHODS

    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in METHODS) and "arXiv" in out
