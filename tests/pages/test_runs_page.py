import pandas as pd
from streamlit.testing.v1 import AppTest

from sslcore.paths import PROJECT_ROOT
from sslcore.runs import RunStore


def runs_page() -> AppTest:
    return AppTest.from_file(str(PROJECT_ROOT / "pages" / "runs.py"), default_timeout=60).run()


def test_without_runs_the_page_points_to_the_lab():
    page = runs_page()
    assert "No runs yet" in page.info[0].value


def test_runs_are_listed_filtered_and_their_configs_compared(finished_run):
    simclr = finished_run("simclr baseline")
    byol = finished_run("<b>byol</b>", method="byol", epochs=3)
    page = runs_page()
    table = page.dataframe[0].value
    assert set(table["name"]) == {"simclr baseline", "<b>byol</b>"}
    page.selectbox[2].select("byol").run()  # the method filter
    assert list(page.dataframe[0].value["id"]) == [byol]

    page.selectbox[2].select("all").run()
    page.multiselect[0].select(simclr).select(byol).run()
    diff = page.dataframe[1].value
    # BYOL's recipe brings its own momentum and weight decay (0.05, chosen on validation); SimCLR has neither
    assert set(diff.index) == {"method", "epochs", "weight_decay", "method_params.base_momentum"}
    assert diff.loc["method_params.base_momentum"].tolist() == ["(absent)", "0.99"]
    assert diff.loc["method"].tolist() == ["simclr", "byol"]
    assert any("python -m sslcore experiment --config" in code.value and f"runs/{byol}/config.yaml" in code.value
               for code in page.code)
    assert len(page.get("plotly_chart")) == 2


def test_the_list_says_whether_each_run_beat_the_random_encoder(finished_run):
    finished_run("learned", result={"learning": {"beat_random": True}})
    finished_run("did not", result={"learning": {"beat_random": False}})
    finished_run("older run")
    column = runs_page().dataframe[0].value.set_index("name")["beat random encoder"]
    assert column["learned"] == True and column["did not"] == False  # noqa: E712 (numpy booleans)
    assert pd.isna(column["older run"])  # not measured


def test_deleting_needs_a_confirmation(finished_run):
    keep, doomed = finished_run("keep"), finished_run("doomed")
    page = runs_page()
    page.multiselect[0].select(doomed).run()
    delete = next(button for button in page.button if button.label == "Delete")
    assert delete.disabled
    page.checkbox(key="confirm_delete").check().run()
    next(button for button in page.button if button.label == "Delete").click().run()
    assert [run.id for run in RunStore().list_runs()] == [keep]
    assert list(page.dataframe[0].value["name"]) == ["keep"]
