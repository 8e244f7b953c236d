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
                                              ("evaluation: {folds: 3}", "Unknown evaluation setting(s) folds")])
def test_a_bad_config_file_is_a_clear_error(tmp_path, capsys, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    assert main(["experiment", "--config", str(path)]) == 1
    assert message in capsys.readouterr().err


HOSTILE = [("epochs: ten", "error: epochs must be a whole number from 1 to 1,000, got 'ten'.\n"),
           ("epochs: 10**9", "error: epochs must be a whole number from 1 to 1,000, got '10**9'.\n"),
           ("epochs: 1000000000", "error: epochs must be a whole number from 1 to 1,000, got 1000000000.\n"),
           ("image_size: 10**5", "error: image_size must be a whole number from 8 to 512, got '10**5'.\n"),
           ("image_size: 100000", "error: image_size must be a whole number from 8 to 512, got 100000.\n")]


@pytest.mark.parametrize("content, message", HOSTILE)
@pytest.mark.parametrize("command", [["experiment", "--queue"], ["experiment"], ["pretrain"]])
def test_a_hostile_value_is_one_clear_error_and_nothing_runs_or_is_queued(tmp_path, capsys, command, content,
                                                                        message):
    path = tmp_path / "hostile.yaml"
    path.write_text(content)
    db, out = tmp_path / "runs.sqlite", tmp_path / "out"
    extra = ["--db", str(db)] if "--queue" in command else ["--out", str(out)]
    assert main([*command, "--config", str(path), *extra]) == 1
    assert capsys.readouterr().err == message
    assert not out.exists()
    if "--queue" in command:
        assert RunStore(db).list_runs() == []


def test_every_problem_of_a_config_is_named_at_once(tmp_path, capsys):
    path = tmp_path / "several.yaml"
    path.write_text("method: mae\nbackbone: small_cnn\ndataset: pneumoniamnist\nimage_size: 32\n"
                    "evaluation: {seeds: [0, 0], fractions: [0.1, 1.5]}\n")
    assert main(["experiment", "--queue", "--config", str(path), "--db", str(tmp_path / "runs.sqlite")]) == 1
    err = capsys.readouterr().err
    assert err.count(".") >= 4 and "\n" not in err.rstrip("\n")  # one line, one sentence per problem
    for part in ("needs the vit_tiny backbone, not small_cnn", "MedMNIST files come at 28, 64, 128, 224 px, not 32",
                 "every label fraction must be a number greater than 0 and at most 1, got 1.5",
                 "evaluation.seeds must differ from each other"):
        assert part in err


def test_micle_is_refused_on_data_without_patients_and_a_size_the_file_does_not_hold(tmp_path, capsys):
    import numpy as np

    npz = tmp_path / "mine.npz"
    arrays = {f"{split}_{kind}": np.zeros((4, 28, 28) if kind == "images" else (4, 1), dtype=np.uint8)
              for split in ("train", "val", "test") for kind in ("images", "labels")}
    np.savez(npz, **arrays)
    path = tmp_path / "micle.yaml"
    path.write_text(f"method: micle\ndataset: {npz}\nimage_size: 64\n")
    assert main(["experiment", "--queue", "--config", str(path), "--db", str(tmp_path / "runs.sqlite")]) == 1
    err = capsys.readouterr().err
    assert "mine.npz holds 28 px images, so image_size must be 28, not 64." in err
    assert "learns from two images of the same patient, but this dataset has no patient with several images" in err


def test_methods_lists_every_method_with_its_paper(capsys):
    from sslcore.methods import METHODS

    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in METHODS) and "arXiv" in out
