"""Per-method recipes and their choice on validation data."""

import torch

from sslcore.experiments import bench, recipes
from sslcore.experiments.presets import PRESETS, preset
from sslcore.methods import METHODS

TINY = {"epochs": 1, "batch_size": 32, "max_train_images": None, "dataset_options": {"n_images": 300}}


def test_every_method_has_a_quick_recipe_that_the_preset_uses():
    for method in METHODS:
        fields = recipes.recipe("cpu-quick", method)
        config = preset("cpu-quick", method=method).pretrain
        assert {key: getattr(config, key) for key in fields} == fields
    assert preset("cpu-quick", method="mae").pretrain.augment == "crop"
    assert preset("cpu-quick", method="mae").pretrain.backbone == "vit_tiny"
    assert preset("cpu-quick", method="byol").pretrain.lr != preset("cpu-quick", method="moco").pretrain.lr
    assert "BYOL" in PRESETS["cpu-quick"].describe("byol")


def test_the_preset_text_says_whether_the_recipe_was_chosen_on_validation():
    assert recipes.chosen_by("cpu-quick", "simclr") and not recipes.chosen_by("gpu-standard", "simclr")
    assert "chosen on validation data" in PRESETS["cpu-quick"].describe("simclr")
    assert "not yet chosen on validation data" in PRESETS["gpu-standard"].describe("simclr")


def test_the_choice_reads_no_test_image_and_keeps_the_best_validation_candidate(monkeypatch):
    from sslcore import training

    real = training.load_for_config

    def without_test(config):
        dataset = real(config)
        dataset.splits["test"].images = None  # any read of the test split fails
        dataset.splits["test"].labels = None
        return dataset

    monkeypatch.setattr(training, "load_for_config", without_test)
    grid = [{"lr": 1e-9}, {"lr": 2e-3}]  # a learning rate that cannot learn, and one that can
    report = recipes.select_recipe("cpu-quick", "simclr", grid=grid, device="cpu", budget_s=None,
                                   fractions=(0.1, 1.0), seeds=(0,), on_message=lambda line: None, **TINY)
    means = [candidate["mean_val_auc"] for candidate in report["candidates"]]
    assert report["chosen"]["lr"] == grid[means.index(max(means))]["lr"]
    assert report["chosen"]["epochs"] == recipes.recipe("cpu-quick", "simclr")["epochs"]  # tiny overrides not kept
    assert set(report["random"]) == {0.1, 1.0}


def test_a_choice_is_recorded_with_the_validation_numbers_behind_it(tmp_path):
    path = tmp_path / "recipes.yaml"
    path.write_text(recipes.RECIPES_FILE.read_text())
    report = {"preset": "cpu-quick", "method": "simclr", "dataset": "synthetic", "random": {0.01: 0.6, 1.0: 0.8},
              "candidates": [{"overrides": {"lr": 1e-3}, "val_auc": {0.01: 0.7, 1.0: 0.9}, "mean_val_auc": 0.8,
                              "pretrain_s": 10.0, "within_budget": True},
                             {"overrides": {"lr": 2e-3}, "val_auc": {0.01: 0.6, 1.0: 0.8}, "mean_val_auc": 0.7,
                              "pretrain_s": 10.0, "within_budget": True}],
              "chosen": {**recipes.recipe("cpu-quick", "simclr"), "lr": 1e-3}}
    recipes.write_choice(report, path)
    text = path.read_text()
    assert text.startswith("# How each method pretrains")
    import yaml

    entry = yaml.safe_load(text)["cpu-quick"]["simclr"]
    assert entry["lr"] == 1e-3 and "validation" in entry["chosen_by"] and "0.800" in entry["chosen_by"]
    assert "lr 0.001 -> 0.800; lr 0.002 -> 0.700" in entry["chosen_by"]

    for candidate in report["candidates"]:  # a slower machine: no candidate within the budget
        candidate["within_budget"], candidate["pretrain_s"] = False, 200.0
    recipes.write_choice(report, path)
    entry = yaml.safe_load(path.read_text())["cpu-quick"]["simclr"]
    assert entry["lr"] == 1e-3 and "none pretrained within the time budget" in entry["chosen_by"]


def test_bench_methods_reports_every_ssl_method_against_the_random_encoder():
    sweep = {"protocols": ("linear", "knn"), "fractions": (0.01, 1.0), "seeds": (0,)}
    report = bench.methods("synthetic", device="cpu", on_message=lambda line: None, sweep=sweep, **TINY)
    names = [row["method"] for row in report["methods"]]
    assert names == [name for name, info in METHODS.items() if info.strategy != "supervised"]
    for row in report["methods"]:
        assert {"method_linear_0.01", "random_linear_0.01", "method_knn_1"} <= set(row["auc"])
        assert -1 <= row["separation"]["after"] <= 1 and row["beat_random"] in (True, False)
    table = bench.methods_markdown(report)
    assert table.count("\n| ") >= len(names) and "random encoder (small_cnn)" in table
    assert "random encoder (vit_tiny)" in table  # MAE's encoder is another network, with its own random baseline


def test_bench_methods_can_run_one_method_and_refuses_a_name_it_does_not_know():
    import pytest

    sweep = {"protocols": ("linear",), "fractions": (0.01, 1.0), "seeds": (0,)}
    report = bench.methods("synthetic", device="cpu", only=["rotation"], on_message=lambda line: None, sweep=sweep,
                           **TINY)
    assert [row["method"] for row in report["methods"]] == ["rotation"]
    with pytest.raises(ValueError, match="not supervised"):
        bench.methods("synthetic", only=["supervised"])


def test_learning_check_says_when_pretraining_did_not_beat_a_random_encoder():
    from sslcore.evaluate.report import learning_check

    points = [{"method": m, "protocol": "linear", "fraction": f, "seed": 0, "val_auc": v}
              for m, f, v in (("byol", 0.1, 0.55), ("random", 0.1, 0.6), ("byol", 1.0, 0.7), ("random", 1.0, 0.75))]
    check = learning_check(points)
    assert not check["beat_random"] and "did not beat a random encoder" in check["sentence"] and check["causes"]
    better = learning_check([dict(p, val_auc=p["val_auc"] + 0.2) if p["method"] == "byol" else p for p in points])
    assert better["beat_random"] and not better["causes"]
    assert learning_check([p for p in points if p["method"] == "byol"]) is None


def test_class_separation_grows_when_classes_are_apart():
    from sslcore.evaluate.embeddings import class_separation

    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(60) % 3
    mixed = torch.randn(60, 8, generator=generator)
    apart = mixed + 10 * torch.nn.functional.one_hot(labels, 8).float()
    assert class_separation(apart, labels) > class_separation(mixed, labels) + 0.3
    assert class_separation(mixed, torch.zeros(60)) is None


def test_expected_points_counts_what_a_sweep_measures():
    from sslcore.experiments.runner import expected_points

    config = preset("cpu-quick")
    # 5 fractions x 3 seeds x (3 protocols + random linear and kNN + scratch)
    assert expected_points(config) == 5 * 3 * 6
