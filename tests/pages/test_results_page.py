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


def test_the_curve_shows_the_mean_over_seeds_with_grey_baselines_and_switches_metric(finished_run):
    finished_run("quick", aucs=(0.7, 0.8))
    page = results_page()
    assert not page.exception
    lines = traces(page)
    assert values(lines["SimCLR, linear"].y) == pytest.approx([0.751, 0.76, 0.85])  # mean of .7/.8 + fraction / 10
    assert lines["SimCLR, linear"].line.dash == "dash"  # a linear probe
    assert lines["from scratch (supervised)"].line.color == "#333333"  # a baseline: grey, fine-tuned: solid
    assert lines["from scratch (supervised)"].line.dash == "solid"
    page.selectbox[0].select("acc").run()
    assert values(traces(page)["SimCLR, linear"].y) == pytest.approx([0.75, 0.75, 0.75])


def test_runs_on_the_same_test_set_share_one_chart_with_each_baseline_drawn_once(finished_run):
    first, _ = finished_run("a"), finished_run("b", method="byol")
    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "results.py"), default_timeout=60).run()
    page.multiselect[0].select(first).run()  # the newest run is chosen already
    names = [trace.name for trace in plotly.io.from_json(page.get("plotly_chart")[0].proto.spec).data if trace.name]
    assert sorted(names) == ["BYOL, linear", "SimCLR, linear", "from scratch (supervised)"]
    assert not page.warning


def test_runs_on_different_test_sets_are_not_drawn_as_comparable(finished_run):
    first, _ = finished_run("a"), finished_run("b", method="byol", test_sha256="b" * 64)
    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "results.py"), default_timeout=60).run()
    page.multiselect[0].select(first).run()  # the newest run is chosen already
    assert "not scored on the same test set" in page.warning[0].value
    assert len(page.get("plotly_chart")) == 2  # one chart per run


def test_the_difference_table_says_what_the_interval_says(finished_run):
    comparisons = [
        {"method": "simclr", "protocol": "finetune", "baseline": "supervised", "baseline_protocol": "finetune",
         "fraction": 0.01, "n_labelled": 30, "mean_difference": 0.012, "ci_low": -0.02, "ci_high": 0.05,
         "verdict": "no detectable difference", "n_seeds": 3, "metric": "auc"},
        {"method": "simclr", "protocol": "linear", "baseline": "random", "baseline_protocol": "linear",
         "fraction": 0.01, "n_labelled": 30, "mean_difference": 0.08, "ci_low": 0.03, "ci_high": 0.12,
         "verdict": "better", "n_seeds": 3, "metric": "auc"}]
    finished_run("quick", comparisons=comparisons)
    page = results_page()
    assert not page.exception
    assert ("SimCLR, fine-tuned showed no detectable difference from training from scratch (supervised)"
            in page.info[0].value)
    table = page.dataframe[0].value
    assert list(table["verdict"]) == ["no detectable difference", "better"]
    assert list(table["compared with"]) == ["from scratch (supervised)", "random encoder, linear"]
    assert list(table["95% interval"]) == ["-0.020 to +0.050", "+0.030 to +0.120"]


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
    page = results_page()
    assert "published" not in traces(page)
    assert len(page.selectbox) == 2  # no "published numbers" control where none exist


def test_a_run_that_did_not_beat_the_random_encoder_on_validation_is_told_so_with_causes(finished_run):
    run_id = finished_run("learned nothing", comparisons=[])
    store = RunStore()
    store.add_points(run_id, [{"method": method, "protocol": "linear", "fraction": 0.1, "seed": seed, "auc": 0.6,
                               "n_labelled": 300,
                               "val_auc": val_auc} for method, val_auc in (("simclr", 0.55), ("random", 0.6))
                              for seed in (0, 1)])
    page = results_page()
    [warning] = [w.value for w in page.warning if "did not beat a random encoder" in w.value]
    assert "linear probe reached AUC 0.550 against 0.600" in warning and "Likely causes" in warning
