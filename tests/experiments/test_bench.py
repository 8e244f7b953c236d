"""The benchmark functions behind BENCHMARKS.md, on small settings: their reports hold what the
issue asks for and their numbers are consistent with each other."""

import json

import pytest

from sslcore.experiments import bench
from sslcore.cli import main

POINT_KEYS = {"method", "protocol", "fraction", "n_labelled", "seed", "auc", "acc", "balanced_acc"}


@pytest.fixture(scope="module")
def tiny_report():
    return bench.run_preset("cpu-quick", "synthetic", epochs=1, batch_size=32, device="cpu",
                            dataset_options={"n_images": 300})


def test_a_preset_report_has_the_documented_json_layout(tiny_report):
    assert {"points", "timings", "device", "dataset", "config"} <= set(tiny_report)
    assert set(tiny_report["timings"]) == {"pretrain_s", "eval_s", "total_s"}
    assert tiny_report["device"] == "cpu" and tiny_report["dataset"] == "synthetic"
    points = tiny_report["points"]
    assert all(POINT_KEYS <= set(point) for point in points)
    methods = {(point["method"], point["protocol"]) for point in points}
    assert methods == {("simclr", "linear"), ("simclr", "knn"), ("random", "linear"), ("random", "knn"),
                       ("supervised", "finetune")}
    assert {point["fraction"] for point in points} == {0.01, 0.05, 0.1, 0.25, 1.0}
    assert {point["seed"] for point in points} == {0, 1, 2}
    json.dumps(tiny_report)  # what --out writes


def test_the_markdown_table_has_one_row_per_method_and_protocol(tiny_report):
    table = bench.preset_markdown(tiny_report)
    lines = table.splitlines()
    assert lines[0] == "| method | protocol | 0.01 | 0.05 | 0.1 | 0.25 | 1 |"
    rows = [line for line in lines[2:] if line.startswith("| ")]
    assert len(rows) == 5 and all(line.count("±") == 5 for line in rows)
    linear = next(row for row in tiny_report["summary"] if (row["method"], row["protocol"], row["fraction"])
                  == ("simclr", "linear", 0.01))
    assert f"| simclr | linear | {linear['auc_mean']:.3f} ± {linear['auc_std']:.3f} |" in table
    assert "cpu-quick on synthetic (cpu)" in lines[-1]


def test_throughput_reports_both_paths_and_their_ratio():
    report = bench.throughput(image_size=28, batch_size=16, n_images=200, n_steps=2, device="cpu")
    assert report["model_only_images_per_second"] > 0 and report["end_to_end_images_per_second"] > 0
    assert report["end_to_end_over_model_only"] == pytest.approx(
        report["end_to_end_images_per_second"] / report["model_only_images_per_second"], abs=1e-3)


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
