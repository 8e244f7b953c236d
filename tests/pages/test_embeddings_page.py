import io

import numpy as np
import plotly.io
from streamlit.testing.v1 import AppTest

from sslcore.paths import PROJECT_ROOT
from sslcore.runs import RunStore


def embeddings_page() -> AppTest:
    return AppTest.from_file(str(PROJECT_ROOT / "pages" / "embeddings.py"), default_timeout=60).run()


def write_embeddings(run_id, n=40):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, n)
    buffer = io.BytesIO()
    np.savez(buffer, features_before=rng.normal(size=(n, 8)), features_after=rng.normal(size=(n, 8)) + labels[:, None],
             labels=labels, label_names=np.array(["normal", "pneumonia"]), patient_ids=np.arange(n) // 2,
             split=np.array(["test"] * n), images=rng.integers(0, 255, (n, 1, 8, 8), dtype=np.uint8))
    RunStore().write_artifact(run_id, "embeddings.npz", buffer.getvalue())


def test_without_embeddings_the_page_points_to_the_lab(finished_run):
    finished_run("no embeddings yet")
    assert "No finished run has embeddings" in embeddings_page().info[0].value


def test_pca_before_and_after_pretraining_side_by_side_coloured_by_class(finished_run):
    write_embeddings(finished_run("with embeddings"))
    page = embeddings_page()
    assert not page.exception
    charts = [plotly.io.from_json(chart.proto.spec) for chart in page.get("plotly_chart")]
    assert [chart.layout.title.text for chart in charts] == [
        "PCA, before pretraining (random weights)", "PCA, after pretraining"]
    assert {trace.name for trace in charts[1].data} == {"normal", "pneumonia"}
    page.selectbox[1].select("patient").run()
    assert len(plotly.io.from_json(page.get("plotly_chart")[1].proto.spec).data) == 20  # 40 images, 2 per patient


def test_a_corrupt_embeddings_file_is_reported(finished_run):
    run_id = finished_run("broken")
    RunStore().write_artifact(run_id, "embeddings.npz", b"not an npz")
    page = embeddings_page()
    assert "cannot be shown" in page.error[0].value
    assert "could not be read" in page.text[0].value
