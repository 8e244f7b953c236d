import pytest
from streamlit.testing.v1 import AppTest

from sslcore.paths import PROJECT_ROOT
from sslcore.runs import RunStore


@pytest.fixture
def worker_starts(monkeypatch):
    """Record ensure_worker calls instead of starting a worker that would train in the background."""
    calls = []
    monkeypatch.setattr("sslcore.runs.ensure_worker", lambda *args, **kwargs: calls.append(args) or 0)
    return calls


def lab_page() -> AppTest:
    return AppTest.from_file(str(PROJECT_ROOT / "pages" / "lab.py"), default_timeout=120).run()


def test_the_synthetic_dataset_is_shown_with_samples_balance_method_diagram_views_and_an_estimate():
    page = lab_page()
    assert not page.exception, page.exception
    balance = page.dataframe[0].value
    assert list(balance.columns) == ["train", "val", "test"] and balance.to_numpy().sum() > 0
    assert len(page.get("image")) >= balance.shape[0] + 1  # one grid per class, then the augmented views
    assert page.get("graphviz_chart")
    assert any("Estimated time on cpu" in markdown.value and "evaluation" in markdown.value
               for markdown in page.markdown)


def test_choosing_a_method_preselects_its_recipe_and_the_preset_text_follows_it():
    page = lab_page()
    page.selectbox[1].select("byol").run()  # the method
    assert any("BYOL" in caption.value and "40 epochs" in caption.value for caption in page.caption)
    assert page.number_input(key="cpu-quick-byol-epochs").value == 40
    assert any("With these settings, BYOL takes about" in caption.value for caption in page.caption)


def test_start_queues_the_configured_experiment_and_the_live_view_can_cancel_it(worker_starts):
    page = lab_page()
    page.number_input(key="cpu-quick-simclr-epochs").set_value(1).run()
    next(button for button in page.button if button.label == "Start").click().run()
    [run] = RunStore().list_runs()
    assert run.status == "queued" and run.config["epochs"] == 1 and run.config["method"] == "simclr"
    assert worker_starts and "simclr on synthetic" in run.name
    assert any("queued" in text.value for text in page.text)
    start = next(button for button in page.button if button.label == "Start")
    assert start.disabled  # one run at a time per session
    next(button for button in page.button if button.label == "Cancel").click().run()
    assert RunStore().get(run.id).status == "cancelled"
    page.run()
    assert not next(button for button in page.button if button.label == "Start").disabled


def test_compare_queues_one_run_per_method_as_one_comparison(worker_starts):
    from sslcore.runs.comparisons import list_comparisons

    page = lab_page()
    page.multiselect(key="compare_methods").set_value(["simclr", "byol"]).run()
    next(button for button in page.button if button.label == "Queue the comparison").click().run()
    [comparison] = list_comparisons(RunStore())
    assert [run.arm for run in comparison.runs] == ["simclr", "byol"]
    assert {run.config["data_seed"] for run in comparison.runs} == {0}
    assert [run.config["epochs"] for run in comparison.runs] == [50, 40]  # each method's own recipe
    assert any("Comparison #" in success.value for success in page.success)


def test_the_remedis_recipe_shows_the_imagenet_arms_it_cannot_run_offline(worker_starts, monkeypatch):
    from sslcore.runs.comparisons import list_comparisons

    monkeypatch.setattr("sslcore.training.initialisation.imagenet_available", lambda backbone: False)
    monkeypatch.setattr("sslcore.training.initialisation.imagenet_downloadable", lambda backbone: False)
    page = lab_page()
    next(button for button in page.button if button.label == "Queue the REMEDIS recipe").click().run()
    [comparison] = list_comparisons(RunStore())
    assert [run.arm for run in comparison.runs] == ["micle (resnet18)"]
    assert set(comparison.config["unavailable"]) == {"imagenet init (resnet18)", "micle from imagenet (resnet18)"}


def test_invalid_settings_are_explained_instead_of_started():
    page = lab_page()
    page.multiselect(key="cpu-quick-simclr-protocols").set_value([]).run()
    assert "cannot run" in page.error[0].value
    assert "protocols" in page.text[-1].value
    assert not [button for button in page.button if button.label == "Start"]
