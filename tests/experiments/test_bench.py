"""The benchmark functions behind BENCHMARKS.md, on small settings: their reports hold what the
issue asks for and their numbers are consistent with each other."""

import json

import pytest
import torch

from sslcore.experiments import bench
from sslcore.cli import main

POINT_KEYS = {"method", "protocol", "fraction", "n_labelled", "seed", "auc", "acc", "balanced_acc", "pretrain_seed"}
COMPARISON_KEYS = {"method", "protocol", "baseline", "baseline_protocol", "fraction", "n_labelled", "mean_difference",
                   "ci_low", "ci_high", "verdict", "n_seeds"}
SMALL_SWEEP = {"fractions": (0.05, 1.0), "seeds": (0, 1), "finetune_epochs": 2, "finetune_lrs": (1e-3,)}


@pytest.fixture(scope="module")
def tiny_report():
    return bench.run_preset("cpu-quick", "synthetic", epochs=1, batch_size=32, device="cpu", max_train_images=None,
                            dataset_options={"n_images": 300}, evaluation=SMALL_SWEEP)


def test_a_preset_report_has_the_documented_json_layout(tiny_report):
    assert {"points", "timings", "device", "dataset", "config", "comparisons"} <= set(tiny_report)
    assert set(tiny_report["timings"]) == {"pretrain_s", "eval_s", "total_s"}
    estimate = tiny_report["estimate"]  # the Lab's estimate, made before the run, against the measured total
    assert estimate["estimated_total_s"] > 0
    # both are roundings of the same measurement (to 0.1 s and to 0.01 s), so they differ by at most 0.05 s + float error
    assert estimate["total_s"] == pytest.approx(tiny_report["timings"]["total_s"], abs=0.051)
    assert estimate["ratio"] == pytest.approx(estimate["total_s"] / estimate["estimated_total_s"], abs=0.01)
    assert tiny_report["device"] == "cpu" and tiny_report["dataset"]["spec"] == "synthetic"
    assert len(tiny_report["dataset"]["test_sha256"]) == 64 and tiny_report["config"]["data_seed"] == 0
    points = tiny_report["points"]
    assert all(POINT_KEYS <= set(point) for point in points)
    methods = {(point["method"], point["protocol"]) for point in points}
    assert methods == {("simclr", "linear"), ("simclr", "knn"), ("simclr", "finetune"), ("random", "linear"),
                       ("random", "knn"), ("supervised", "finetune")}
    assert {point["fraction"] for point in points} == {0.05, 1.0}
    assert {point["seed"] for point in points} == {0, 1}
    comparisons = tiny_report["comparisons"]
    assert all(set(c) >= COMPARISON_KEYS for c in comparisons)
    # Like against like: fine-tuning against scratch, each frozen probe against the random backbone's.
    assert {(c["protocol"], c["baseline"], c["baseline_protocol"]) for c in comparisons} == {
        ("finetune", "supervised", "finetune"), ("linear", "random", "linear"), ("knn", "random", "knn")}
    assert all(c["ci_low"] <= c["mean_difference"] <= c["ci_high"] and c["n_seeds"] == 2 for c in comparisons)
    json.dumps(tiny_report)  # what --out writes


def test_the_markdown_table_has_one_row_per_method_and_protocol_and_one_per_comparison(tiny_report):
    table = bench.preset_markdown(tiny_report)
    lines = table.splitlines()
    assert lines[0] == "| method | protocol | 0.05 | 1 |"
    rows = [line for line in lines[2:] if line.startswith("| ") and "±" in line]
    assert len(rows) == 6 and all(line.count("±") == 2 for line in rows)
    linear = next(row for row in tiny_report["summary"] if (row["method"], row["protocol"], row["fraction"])
                  == ("simclr", "linear", 0.05))
    assert f"| simclr | linear | {linear['auc_mean']:.3f} ± {linear['auc_std']:.3f} |" in table
    verdicts = [line for line in lines if line.endswith(("| better |", "| worse |", "| no detectable difference |"))]
    assert len(verdicts) == len(tiny_report["comparisons"]) == 6
    assert "cpu-quick on synthetic (cpu)" in lines[-1]


def test_throughput_reports_both_paths_and_their_ratio():
    report = bench.throughput(image_size=28, batch_size=16, n_images=200, n_steps=2, repeats=3, device="cpu")
    assert report["model_only_images_per_second"] > 0 and report["end_to_end_images_per_second"] > 0
    assert report["end_to_end_over_model_only"] == pytest.approx(
        report["end_to_end_images_per_second"] / report["model_only_images_per_second"], abs=1e-3)
    for name in ("model_only", "end_to_end"):
        assert len(report[f"{name}_runs"]) == 3
        assert report[f"{name}_images_per_second"] == pytest.approx(sorted(report[f"{name}_runs"])[1], abs=0.1)
    assert set(report["page_faults_per_step"]) == set(report["cpu_ms_per_image"]) == {"model_only", "end_to_end"}
    assert all(value > 0 for value in report["cpu_ms_per_image"].values())
    assert report["allocator"]


def test_model_only_gets_as_many_views_as_the_augmented_path(monkeypatch):
    # SimCLR asks for two views per image: the model-only path must feed 2B views too.
    from sslcore.training import step

    counts = []
    original = step.Trainer.step

    def counting(self, batch, augment_fn, **kwargs):
        counts.append(len(augment_fn(torch.cat([batch.images, batch.images]))))
        return original(self, batch, augment_fn, **kwargs)

    monkeypatch.setattr(step.Trainer, "step", counting)
    bench.throughput(image_size=28, batch_size=8, n_images=100, n_steps=1, repeats=1, device="cpu")
    assert set(counts) == {16}


def test_throughput_against_lightly_feeds_both_views():
    pytest.importorskip("lightly")
    report = bench.throughput(image_size=28, batch_size=8, n_images=100, n_steps=1, repeats=2, device="cpu",
                              with_lightly=True)
    assert report["lightly_images_per_second"] > 0 and len(report["lightly_runs"]) == 2
    # CPU time per image is reported for every variant (lightly's with its workers'); which costs more
    # is a measurement for BENCHMARKS.md, not something a test on a shared machine can assert
    assert set(report["cpu_ms_per_image"]) >= {"lightly", "model_only"}
    assert all(value > 0 for value in report["cpu_ms_per_image"].values())
    assert report["end_to_end_over_lightly"] == pytest.approx(
        report["end_to_end_images_per_second"] / report["lightly_images_per_second"], abs=0.01)


def test_throughput_rejects_no_steps():
    with pytest.raises(ValueError, match="n_steps"):
        bench.throughput(n_steps=0)


@pytest.mark.parametrize("image_size", [28, 64])
def test_synthetic_generation_counts_what_it_drew(image_size):
    report = bench.synthetic_generation(image_size=image_size, n_images=120)
    assert report["n_images"] == 120 and report["image_size"] == image_size
    assert report["seconds"] >= 0 and report["images_per_second"] > 0


def test_the_bench_command_prints_and_writes_its_report(tmp_path, capsys):
    out = tmp_path / "synthetic.json"
    assert main(["bench", "synthetic", "--image-size", "28", "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == written
    assert written["synthetic"][0]["n_images"] == 10_000
