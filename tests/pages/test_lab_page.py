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
    assert any("Estimated pretraining time on **cpu**" in markdown.value for markdown in page.markdown)


def test_start_queues_the_configured_experiment_and_the_live_view_can_cancel_it(worker_starts):
    page = lab_page()
    page.number_input(key="cpu-quick-simclr-epochs").set_value(1).run()
    next(button for button in page.button if button.label == "Start").click().run()
    [run] = RunStore().list_runs()
    assert run.status == "queued" and run.config["epochs"] == 1 and run.config["method"] == "simclr"
    assert worker_starts and "simclr on synthetic" in run.name
    assert any("queued" in text.value for text in page.text)
    next(button for button in page.button if button.label == "Cancel").click().run()
    assert RunStore().get(run.id).status == "cancelled"


def test_invalid_settings_are_explained_instead_of_started():
    page = lab_page()
    page.multiselect(key="cpu-quick-simclr-protocols").set_value([]).run()
    assert "cannot run" in page.error[0].value
    assert "protocols" in page.text[-1].value
    assert not [button for button in page.button if button.label == "Start"]
