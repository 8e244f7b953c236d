import json

import plotly.io
from streamlit.testing.v1 import AppTest

from sslcore.catalogue import published
from sslcore.paths import PROJECT_ROOT


def evidence_page() -> AppTest:
    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "evidence.py"), default_timeout=60).run()
    assert not page.exception
    return page


# The page's tables, in the order it draws them.
TABLES = ("browse-table", "curve-points", "bench-table", "bench-sources")


def table(page, name):
    return page.dataframe[TABLES.index(name)]


def test_filters_narrow_the_table_and_every_row_keeps_its_source():
    page = evidence_page()
    everything = table(page, "browse-table").value
    assert len(everything) == len(published.published_values())

    page.multiselect(key="filter-dataset_id").select("pneumoniamnist").run()
    pneumonia = table(page, "browse-table").value
    assert 0 < len(pneumonia) < len(everything)
    assert set(pneumonia["dataset_id"]) == {"pneumoniamnist"}

    page.multiselect(key="filter-protocol").select("linear").run()
    linear = table(page, "browse-table").value
    assert 0 < len(linear) < len(pneumonia)
    assert set(linear["protocol"]) == {"linear"}
    assert any(f"{len(linear)} of {len(everything)}" in caption.value for caption in page.caption)

    assert linear["url"].str.startswith("https://").all()
    assert set(linear["confidence"]) <= set(published.CONFIDENCES)
    assert set(linear["unit"]) == {"percent"} and linear["value"].between(0, 1).all()
    columns = json.loads(table(page, "browse-table").proto.columns)
    assert columns["url"]["type_config"]["type"] == "link"
    # long dataset, method and metric names get a set width so that the value and its source stay on screen
    assert columns["dataset"]["width"] == columns["method"]["width"] == columns["metric"]["width"] == "medium"


def test_curves_plot_published_label_fractions_on_a_log_axis_with_their_points_listed():
    page = evidence_page()
    figure = plotly.io.from_json(page.get("plotly_chart")[0].proto.spec)
    assert figure.layout.xaxis.type == "log"
    curves = published.label_efficiency_curves(metric=page.selectbox(key="curve-metric").value)
    assert [trace.name for trace in figure.data] == list(curves)
    points = table(page, "curve-points").value
    assert len(points) == sum(len(series) for series in curves.values())
    assert points["url"].str.startswith("https://").all()


def test_benchmark_tables_switch_paper_protocol_and_metric_and_list_their_sources():
    page = evidence_page()
    resnet18 = "ResNet-18 (28) supervised from scratch"
    assert table(page, "bench-table").value.loc["PneumoniaMNIST", resnet18] == 0.854  # ACC first
    page.selectbox(key="bench-metric").select("auc").run()
    assert table(page, "bench-table").value.loc["PneumoniaMNIST", resnet18] == 0.944
    assert set(table(page, "bench-sources").value["url"]) == {"https://medmnist.com/v2"}

    page.radio[0].set_value(published.MEDMNIST_PLUS).run()
    page.selectbox(key="bench-protocol").select("knn").run()
    assert page.selectbox(key="bench-metric").options == ["acc"]  # MedMNIST+ reports kNN accuracy only
    plus = table(page, "bench-table").value
    expected = [value for value in published.published_for("pneumoniamnist", "knn", "acc", image_size=28)
                if value.method_id == "dino"]
    assert plus.loc["PneumoniaMNIST", "DINO self-supervised pretraining"] == expected[0].value
    sources = table(page, "bench-sources").value
    assert set(sources["unit"]) == {"percent"} and set(sources["confidence"]) == {"high"}


def test_a_medmnist_run_is_listed_beside_the_published_numbers_for_its_dataset(finished_run):
    finished_run("pneumonia", dataset="/data/pneumoniamnist.npz")
    finished_run("toy")  # synthetic: nobody published on it
    page = evidence_page()
    assert page.selectbox(key="yours-run").options == [page.selectbox(key="yours-run").options[0]]
    page.selectbox(key="yours-protocol").select("finetune").run()
    beside = page.dataframe[-1].value
    mine, theirs = beside[beside["who"] == "this run"], beside[beside["who"] != "this run"]
    assert set(mine["method"]) == {"supervised"} and len(mine) == 3
    expected = published.published_for("pneumoniamnist", protocol="finetune", metric="auc", image_size=28)
    assert sorted(theirs["value"]) == sorted(value.value for value in expected) and len(expected) > 0
    assert theirs["url"].str.startswith("https://").all()


def test_without_medmnist_runs_the_tab_says_how_to_get_one():
    page = evidence_page()
    assert any("PneumoniaMNIST" in info.value for info in page.info)


def test_tables_lead_with_what_a_reader_needs_and_show_the_rest_on_demand():
    page = evidence_page()
    lead = ["dataset", "method", "protocol", "fraction", "metric", "value", "url"]
    for name in ("browse-table", "curve-points"):
        assert list(table(page, name).proto.column_order) == lead
    page.multiselect(key="evidence-columns").select("confidence").select("original_value").run()
    for name in ("browse-table", "curve-points"):
        assert list(table(page, name).proto.column_order) == [*lead, "confidence", "original_value"]
    # the data behind the table keeps every column (filters and the source link rely on them)
    assert {"dataset_id", "confidence", "url"} <= set(table(page, "browse-table").value.columns)
