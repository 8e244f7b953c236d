import dataclasses

import pytest

from sslcore.data import load_dataset
from sslcore.experiments import estimate
from sslcore.experiments.config import EvaluationConfig, ExperimentConfig
from sslcore.experiments.estimate import cost_model, estimate_experiment, estimate_pretraining, format_duration
from sslcore.experiments.presets import preset
from sslcore.training.config import PretrainConfig


def test_format_duration_picks_a_readable_unit():
    assert [format_duration(s) for s in (42, 150, 7200)] == ["42 s", "2.5 min", "2.0 h"]


@pytest.fixture(scope="module")
def tiny_data():
    return load_dataset("synthetic", image_size=28, n_images=300)


def tiny_config(**pretrain) -> ExperimentConfig:
    values = dict(preset("cpu-quick", "synthetic", epochs=2, batch_size=32, max_train_images=None, device="cpu",
                         image_size=28).pretrain.to_dict(), **pretrain)
    return ExperimentConfig(PretrainConfig(**values),
                            EvaluationConfig(protocols=("linear", "knn", "finetune"), fractions=(0.1, 1.0), seeds=(0,)))


@pytest.fixture
def no_cache(monkeypatch):
    monkeypatch.setattr(estimate, "_measured", {})


def test_the_estimate_times_real_steps_in_another_process(tiny_data, no_cache, monkeypatch):
    from sslcore.training.step import Trainer

    def not_here(*args, **kwargs):
        raise AssertionError("a training step ran in the asking process")

    monkeypatch.setattr(Trainer, "step", not_here)  # the timing process is a fresh Python: unaffected
    result = estimate_experiment(tiny_config(), tiny_data)
    assert result["error"] is None and result["device"] == "cpu"
    assert result["images"] == len(tiny_data.splits["train"].labels) // 32 * 32 * 2
    assert result["images_per_second"] > 0 and result["seconds"] > 0 and result["evaluation_seconds"] > 0
    assert result["total_seconds"] == pytest.approx(result["seconds"] + result["evaluation_seconds"])
    assert "Estimated time on cpu" in estimate.describe_estimate(result)


def test_the_pretraining_estimate_keeps_its_keys_and_is_cached(tiny_data, no_cache, monkeypatch):
    calls = []
    measure = estimate._measure_in_child
    monkeypatch.setattr(estimate, "_measure_in_child", lambda *args: calls.append(args) or measure(*args))
    first = estimate_pretraining(tiny_config().pretrain, tiny_data)
    assert {"device", "images_per_second", "images", "seconds"} <= set(first)
    assert estimate_pretraining(tiny_config().pretrain, tiny_data) == first and len(calls) == 1


def test_a_timing_that_runs_out_of_time_says_it_could_not_estimate(tiny_data, no_cache):
    result = estimate_experiment(tiny_config(), tiny_data, time_limit=0.1)
    assert result["error"] == "could not estimate: timing a few steps took longer than 1 s here"
    assert result["seconds"] is None and result["total_seconds"] is None and result["images"] > 0
    assert estimate.describe_estimate(result).startswith("No time estimate: could not estimate")
    assert estimate._measured == {}  # not remembered: the next look tries again


@pytest.mark.parametrize("change", [{"epochs": 10**9}, {"image_size": 10**5}, {"batch_size": 10**6}])
def test_a_config_the_check_refuses_is_never_timed(tiny_data, no_cache, monkeypatch, change):
    monkeypatch.setattr(estimate, "_measure_in_child", lambda *args: pytest.fail("timed a refused config"))
    config = tiny_config()
    config = ExperimentConfig(dataclasses.replace(config.pretrain, **change), config.evaluation)
    with pytest.raises(ValueError, match="must be a whole number"):
        estimate_experiment(config, tiny_data)


def test_timing_batches_are_bounded_in_pixels():
    assert estimate.timing_batch(256, 28) == 256
    assert estimate.timing_batch(256, 224) == 5
    assert estimate.timing_batch(4096, 512) == 2
    assert estimate.timing_batch(8, 28) == 8


def test_the_cost_model_counts_the_work_of_the_sweep():
    config = ExperimentConfig(
        PretrainConfig(epochs=3, batch_size=10, knn_monitor=False),
        EvaluationConfig(protocols=("knn", "finetune"), fractions=(0.5, 1.0), seeds=(0, 1),
                         baselines=("supervised",), finetune_lrs=(1e-3,), finetune_epochs=1.0))
    shape = {"n_train": 405, "n_val": 20, "n_test": 30, "task": "binary", "n_labelled": {"0.5": 50, "1.0": 400}}
    measured = {"pretrain_images_per_second": 100.0, "forward_images_per_second": 1000.0, "finetune_step_s": 0.01,
                "probe_sizes": [50, 400], "knn_s": [1.0, 2.0], "linear_s": None}
    costs = cost_model(config, shape, measured)
    assert costs["images"] == 1200
    # Pretraining: 1200 images at 100/s, plus a validation pass (20 images at 1000/s) after each of 3 epochs.
    assert costs["pretrain_seconds"] == pytest.approx(12 + 3 * 0.02)
    # One frozen pass over every split (455 images), then per seed and fraction a kNN probe (1 s at 50
    # labels, 2 s at 400) and two fine-tunes (the SSL arm and from scratch), each: the 60-step minimum
    # budget at batch min(64, n), a validation pass per check, and a test pass. 50 labels are checked
    # at every step, so early stopping is expected to end them at EARLY_STOP_SHARE of the budget;
    # 400 labels are checked every 3 steps and run the whole budget.
    fine_tunes = 0
    for n, check_every, share in ((50, 1, estimate.EARLY_STOP_SHARE), (400, 3, 1.0)):
        steps = 60 * share
        fine_tunes += steps * min(64, n) * 0.01 + steps / check_every * 20 / 1000 + 30 / 1000
    assert costs["evaluation_seconds"] == pytest.approx(455 / 1000 + 2 * (1.0 + 2.0) + 2 * 2 * fine_tunes)


def test_changing_only_the_scale_reuses_the_timing(tiny_data, no_cache, monkeypatch):
    calls = []
    measure = estimate._measure_in_child
    monkeypatch.setattr(estimate, "_measure_in_child", lambda *args: calls.append(args) or measure(*args))
    short = estimate_experiment(tiny_config(epochs=2), tiny_data)
    longer = estimate_experiment(tiny_config(epochs=4, lr=3e-3, seed=5), tiny_data)
    assert len(calls) == 1  # epochs, rates and seeds scale the work; one step costs the same
    assert longer["seconds"] > 1.5 * short["seconds"]
    estimate_experiment(tiny_config(epochs=2, batch_size=16), tiny_data)
    assert len(calls) == 2  # a new batch size is a new step
