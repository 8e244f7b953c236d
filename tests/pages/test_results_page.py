import base64

import numpy as np
import plotly.io
import pytest
from streamlit.testing.v1 import AppTest

from sslcore.paths import PROJECT_ROOT
from sslcore.runs import RunStore


def results_page() -> AppTest:
    return AppTest.from_file(str(PROJECT_ROOT / "pages" / "results.py"), default_timeout=60).run()


def values(array):
    """A trace's array, whether plotly wrote it as a list or base64 ``bdata``."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def traces(page, index=0):
    figure = plotly.io.from_json(page.get("plotly_chart")[index].proto.spec)
    return {trace.name: trace for trace in figure.data}


def test_without_evaluated_runs_the_page_points_to_the_lab():
    RunStore().create_run("experiment", {"dataset": "synthetic", "method": "simclr"})  # queued: no points yet
    assert "No run has evaluation points" in results_page().info[0].value


def test_the_curve_shows_the_mean_over_seeds_with_dashed_baselines_and_switches_metric(finished_run):
    finished_run("quick", aucs=(0.7, 0.8))
    page = results_page()
    assert not page.exception
    lines = traces(page)
    assert values(lines["simclr (linear)"].y) == pytest.approx([0.751, 0.76, 0.85])  # mean of .7/.8 + fraction / 10
    assert lines["supervised (finetune)"].line.dash == "dash"
    page.selectbox[0].select("acc").run()
    assert values(traces(page)["simclr (linear)"].y) == pytest.approx([0.75, 0.75, 0.75])


def test_downloads_offer_the_artifacts_the_run_wrote(finished_run):
    run_id = finished_run("quick")
    RunStore().write_artifact(run_id, "curve.csv", "method,fraction,auc\n")
    page = results_page()
    assert [button.label for button in page.get("download_button")] == ["curve.csv"]
    assert any("checkpoint.pt: not written" in caption.value for caption in page.caption)


def test_a_medmnist_run_shows_the_published_numbers_for_its_dataset_protocol_and_size(finished_run):
    finished_run("pneumonia", dataset="/data/pneumoniamnist.npz")
    page = results_page()
    page.selectbox[2].select("finetune").run()
    stars = traces(page)["published"]
    from sslcore.catalogue.published import published_for

    expected = published_for("pneumoniamnist", protocol="finetune", metric="auc", image_size=28)
    assert sorted(values(stars.y)) == pytest.approx(sorted(value.value for value in expected))
    assert any("Stars:" in caption.value for caption in page.caption)


def test_a_synthetic_run_has_no_published_stars(finished_run):
    finished_run("quick")
    assert "published" not in traces(results_page())
