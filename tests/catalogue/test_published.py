import csv

import pytest

from sslcore.catalogue import published

RESNET18_28 = "ResNet-18 (28) supervised from scratch"


def test_the_shipped_files_validate():
    assert published.validate() == []


@pytest.mark.parametrize("metric, expected", [("acc", 0.854), ("auc", 0.944)])
def test_pneumoniamnist_resnet18_28_is_a_supervised_finetune_reference(metric, expected):
    values = [value for value in published.published_for("pneumoniamnist", "finetune", metric)
              if value.method == RESNET18_28]
    assert len(values) == 1
    value = values[0]
    assert (value.value, value.original_value, value.unit) == (expected, str(expected), "fraction")
    assert (value.method_id, value.image_size, value.fraction, value.confidence) == ("supervised", 28, 1.0, "high")
    assert value.url == "https://medmnist.com/v2"


def test_a_percent_row_comes_back_as_a_fraction_with_its_original_beside_it():
    dino = [value for value in published.published_for("pneumoniamnist", "linear", "auc", image_size=28)
            if value.method_id == "dino"]
    assert len(dino) == 1
    # MedMNIST+ BENCHMARK.md: DINO ViT-B/16, linear probe, PneumoniaMNIST 28x28, AUC 97.29 %.
    assert (dino[0].value, dino[0].original_value, dino[0].unit) == (0.9729, "97.29", "percent")


def test_every_accuracy_and_auc_is_a_fraction():
    scores = [value for value in published.published_values() if value.metric_id in ("acc", "auc")]
    assert {value.unit for value in scores} == {"fraction", "percent"}
    assert all(0.0 <= value.value <= 1.0 for value in scores)


def test_lookup_filters_by_protocol_and_image_size_and_finds_nothing_for_unpublished_data():
    values = published.published_for("PneumoniaMNIST", "knn", "acc", image_size=64)
    assert values and all((v.dataset_id, v.protocol, v.metric_id, v.image_size) == ("pneumoniamnist", "knn", "acc", 64)
                          for v in values)
    assert published.published_for("synthetic") == []
    assert published.published_for("pneumoniamnist", metric="balanced_acc") == []
    with pytest.raises(ValueError, match="protocol"):
        published.published_for("pneumoniamnist", protocol="linear probe")
    with pytest.raises(ValueError, match="dataset_id"):
        published.published_for(" ")


def test_label_efficiency_curves_keep_series_with_several_fractions_in_order():
    curves = published.label_efficiency_curves("chexpert", "auc", protocol="linear")
    resnet = curves["sowrirajan2021_mococxr: MoCo-CXR pretraining, ResNet18, linear probe, CheXpert"]
    assert [value.fraction for value in resnet] == [0.001, 0.01, 0.1, 1.0]
    assert [value.value for value in resnet] == [0.776, 0.838, 0.848, 0.85]
    assert {value.confidence for value in resnet} == {"low"}
    assert all(len({value.fraction for value in series}) > 1 for series in curves.values())
    # The MoCo-CXR abstract's gains are single points, not curves.
    assert not any("linear classifier" in label for label in curves)


def test_benchmark_tables_pivot_dataset_by_method_with_their_sources():
    table = published.benchmark_table(published.MEDMNIST_V2, "acc")
    assert table.values.shape == (12, 7)
    assert table.values.loc["PneumoniaMNIST", RESNET18_28] == 0.854
    assert set(table.sources["url"]) == {"https://medmnist.com/v2"}
    assert set(table.sources["unit"]) == {"fraction"}

    plus = published.benchmark_table(published.MEDMNIST_PLUS, "auc", protocol="linear", image_size=28)
    assert "Average over 12 MedMNIST+ 2D datasets" == plus.values.index[-1]
    assert plus.values.loc["PneumoniaMNIST", "DINO self-supervised pretraining"] == pytest.approx(
        published.published_for("pneumoniamnist", "linear", "auc", image_size=28)[0].value)
    assert set(plus.sources["unit"]) == {"percent"}
    with pytest.raises(ValueError, match="several"):
        published.benchmark_table(published.MEDMNIST_PLUS, "auc")


# --- Broken files ---------------------------------------------------------------------------

def read_rows(path):
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        return reader.fieldnames, list(reader)


def write_rows(path, fieldnames, rows):
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def broken(tmp_path):
    """``broken(change) -> problems``: validate copies of the shipped files after ``change(results, medmnist)``
    edited their row lists in place."""

    def run(change):
        result_fields, results = read_rows(published.RESULTS_PATH)
        medmnist_fields, medmnist = read_rows(published.MEDMNIST_PATH)
        change(results, medmnist)
        return [str(problem) for problem in
                published.validate(write_rows(tmp_path / "paper_results.csv", result_fields, results),
                                   write_rows(tmp_path / "medmnist.csv", medmnist_fields, medmnist))]

    return run


def first_row(rows, key=published.MEDMNIST_PLUS):
    """Index of the first row of ``key`` (MedMNIST+ rows are not cross-checked with medmnist.csv)."""
    return next(index for index, row in enumerate(rows) if row["key"] == key)


@pytest.mark.parametrize("column, bad, message", [
    ("source_url", "see the paper", "no source URL"),
    ("value", "n/a", "value 'n/a' is not a number"),
    ("value", "101.5", "outside 0-100"),
    ("baseline_value", "about 80", "baseline_value 'about 80' is not a number"),
    ("confidence", "guessed", "confidence 'guessed' is not one of"),
    ("unit", "permille", "unit 'permille' is not one of"),
    ("protocol", "fine-tune", "protocol 'fine-tune' is not one of"),
    ("label_fraction", "1.5", "label_fraction '1.5'"),
    ("dataset_id", "fakemnist", "MedMNIST dataset 'fakemnist' is not in medmnist.csv"),
    ("method", "", "empty method"),
])
def test_each_broken_result_row_is_reported_with_its_line(broken, column, bad, message):
    line = {}

    def change(results, medmnist):
        index = first_row(results)
        results[index][column] = bad
        line["number"] = index + 2

    problems = broken(change)
    assert len(problems) == 1
    assert problems[0].startswith(f"paper_results.csv: line {line['number']}: ")
    assert message in problems[0]


def test_a_duplicated_row_is_reported(broken):
    problems = broken(lambda results, medmnist: results.append(dict(results[first_row(results)])))
    assert len(problems) == 1
    assert "duplicates line" in problems[0]


def test_a_benchmark_number_the_two_files_disagree_on_is_reported(broken):
    def change(results, medmnist):
        pneumonia = next(row for row in medmnist if row["dataset_id"] == "pneumoniamnist")
        pneumonia["resnet18_28_auc"] = "0.945"

    assert broken(change) == ["medmnist.csv: line 6: resnet18_28_auc 0.945 disagrees with paper_results.csv (0.944)"]


def test_a_medmnist_v2_row_missing_from_the_benchmark_is_reported(broken):
    def change(results, medmnist):
        del results[first_row(results, published.MEDMNIST_V2)]

    assert broken(change) == ["medmnist.csv: line 2: resnet18_28_acc 0.907 disagrees with paper_results.csv "
                              "(no such row)"]


def test_a_missing_column_or_file_is_reported(tmp_path):
    fields, rows = read_rows(published.RESULTS_PATH)
    fields = [field for field in fields if field != "confidence"]
    results = write_rows(tmp_path / "no_confidence.csv", fields,
                         [{field: row[field] for field in fields} for row in rows])
    assert [str(problem) for problem in published.validate(results, published.MEDMNIST_PATH)] == [
        "no_confidence.csv: header: missing column(s) confidence"]
    assert str(published.validate(tmp_path / "absent.csv")[0]).startswith("absent.csv: file: no such file")
