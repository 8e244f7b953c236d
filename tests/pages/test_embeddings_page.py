import io
import json

import numpy as np
from streamlit.testing.v1 import AppTest

from sslcore.paths import PROJECT_ROOT
from sslcore.runs import RunStore


def embeddings_page() -> AppTest:
    return AppTest.from_file(str(PROJECT_ROOT / "pages" / "embeddings.py"), default_timeout=60).run()


def charts(page) -> list[dict]:
    """The page's Vega-Lite charts, each spec with its data rows under ``rows``."""
    import pyarrow as pa

    found = []
    for chart in page.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        table = pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_all()  # Streamlit ships data as Arrow
        spec["rows"] = table.to_pylist()
        found.append(spec)
    return found


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
    before, after = charts(page)
    assert [before["title"], after["title"]] == ["PCA, before pretraining (random weights)", "PCA, after pretraining"]
    assert after["encoding"]["color"]["field"] == "class"
    assert {row["class"] for row in after["rows"]} == {"normal", "pneumonia"} and len(after["rows"]) == 40
    assert all(row["image"].startswith("data:image/png") for row in after["rows"])  # shown on hover
    page.selectbox[1].select("patient").run()
    after = charts(page)[1]
    assert after["encoding"]["color"]["field"] == "patient"
    assert len({row["patient"] for row in after["rows"]}) == 20  # 40 images, 2 per patient


def test_a_corrupt_embeddings_file_is_reported(finished_run):
    run_id = finished_run("broken")
    RunStore().write_artifact(run_id, "embeddings.npz", b"not an npz")
    page = embeddings_page()
    assert "cannot be shown" in page.error[0].value
    assert "could not be read" in page.text[0].value


def test_the_class_separation_before_and_after_is_one_sentence(finished_run):
    write_embeddings(finished_run("separated", result={"separation": {"before": 0.02, "after": 0.21}}))
    page = embeddings_page()
    assert any("separate better than before it: silhouette 0.21 against 0.02" in info.value for info in page.info)
