import io
from dataclasses import replace
import zipfile
import numpy as np
import pytest
import torch

from sslcore import lab
from sslcore.published import published_for


def point(method, fraction, seed, auc, protocol="linear", n_labelled=None):
    return {"method": method, "protocol": protocol, "fraction": fraction, "seed": seed, "auc": auc,
            "acc": auc - 0.1, "balanced_acc": auc - 0.2, "n_labelled": n_labelled or int(fraction * 1000)}


POINTS = [point("simclr", 0.01, s, auc) for s, auc in enumerate([0.70, 0.80, 0.75])] + [
    point("simclr", 1.0, s, auc) for s, auc in enumerate([0.90, 0.92, 0.94])] + [
    point("supervised", 0.01, s, auc, protocol="finetune") for s, auc in enumerate([0.55, 0.60, 0.65])]


def test_curve_summary_averages_seeds_with_a_std_or_min_max_band():
    summary = lab.curve_summary(POINTS, "auc", band="std").set_index(["method", "fraction"])
    row = summary.loc[("simclr", 0.01)]
    assert row["mean"] == pytest.approx(0.75)
    assert row["low"] == pytest.approx(0.70) and row["high"] == pytest.approx(0.80)  # std of 0.7, .8, .75 is .05
    assert row["n_seeds"] == 3 and row["n_labelled"] == 10
    wide = lab.curve_summary(POINTS + [point("simclr", 0.01, 3, 0.95)], "auc", band="min-max")
    row = wide.set_index(["method", "fraction"]).loc[("simclr", 0.01)]
    assert (row["low"], row["high"]) == (pytest.approx(0.70), pytest.approx(0.95))


def test_curve_summary_of_one_seed_has_no_band_and_rejects_unknown_metrics():
    summary = lab.curve_summary([point("byol", 0.1, 0, 0.8)], "acc")
    assert summary.loc[0, ["mean", "low", "high"]].tolist() == pytest.approx([0.7, 0.7, 0.7])
    assert lab.curve_summary([], "auc").empty
    with pytest.raises(ValueError, match="metric"):
        lab.curve_summary(POINTS, "f1")


def test_curve_figure_draws_baselines_dashed_on_a_log_axis_with_published_markers():
    summary = lab.curve_summary(POINTS)
    published = published_for("pneumoniamnist", protocol="finetune", metric="auc", image_size=28)
    assert published and all(value.fraction is not None for value in published)
    figure = lab.curve_figure({"run 1": summary}, "auc", published=[*published, replace(published[0], fraction=None)])
    lines = {trace.name: trace for trace in figure.data if trace.name}
    assert lines["supervised (finetune)"].line.dash == "dash"
    assert lines["simclr (linear)"].line.dash == "solid"
    assert list(lines["simclr (linear)"].y) == pytest.approx([0.75, 0.92])
    stars = lines["published"]
    assert len(stars.x) == len(published)  # a number without a label fraction has no place on the x axis
    assert list(stars.y) == [value.value for value in published]
    assert any("MedMNIST" in source for _, source, _, _ in stars.customdata)
    assert figure.layout.xaxis.type == "log"


def test_config_diff_keeps_only_differing_keys_including_nested_ones():
    first = {"method": "simclr", "epochs": 5, "evaluation": {"seeds": [0, 1]}}
    second = {"method": "byol", "epochs": 5, "evaluation": {"seeds": [0]}}
    table = lab.config_diff({"a": first, "b": second})
    assert list(table.index) == ["evaluation.seeds", "method"]
    assert table.loc["method"].tolist() == ["simclr", "byol"]
    assert len(lab.config_diff({"a": first, "b": second}, only_different=False)) == 3


def test_replay_command_quotes_the_path():
    assert lab.replay_command("/tmp/my runs/1/config.yaml") == \
        "python -m sslcore experiment --config '/tmp/my runs/1/config.yaml'"


def test_samples_per_class_draws_only_members_of_each_class():
    labels = torch.tensor([0, 1, 1, 0, 1, 2])
    chosen = lab.samples_per_class(labels, per_class=2, seed=1)
    assert set(chosen) == {0, 1, 2}
    for class_index, indices in chosen.items():
        assert len(indices) == min(2, int((labels == class_index).sum()))
        assert all(labels[i] == class_index for i in indices)


def test_displayable_converts_grey_and_colour_images():
    grey = lab.displayable(torch.full((2, 1, 4, 4), 0.5))
    assert grey.shape == (2, 4, 4) and grey.dtype == np.uint8 and grey[0, 0, 0] == 128
    assert lab.displayable(torch.zeros(1, 3, 4, 4, dtype=torch.uint8)).shape == (1, 4, 4, 3)


def medmnist_bytes(**drop):
    buffer = io.BytesIO()
    arrays = {key: np.zeros((2, 28, 28) if "images" in key else (2, 1), np.uint8) for key in lab.MEDMNIST_KEYS}
    np.savez(buffer, **{k: v for k, v in arrays.items() if k not in drop})
    return buffer.getvalue()


def test_save_upload_writes_a_valid_npz_into_the_cache(isolated_data_home):
    path = lab.save_upload("my scans!.npz", medmnist_bytes())
    assert path == isolated_data_home / "datasets" / "uploads" / "my_scans.npz"
    assert lab.uploaded_datasets() == [path]


@pytest.mark.parametrize("name, data, message", [
    ("scans.csv", b"a,b", "not an .npz"),
    ("scans.npz", b"not a zip", "could not be read"),
    ("scans.npz", medmnist_bytes(test_labels=1), "lacks the MedMNIST arrays test_labels"),
])
def test_save_upload_rejects_bad_files_with_a_clear_message(name, data, message):
    with pytest.raises(ValueError, match=message):
        lab.save_upload(name, data)
    assert lab.uploaded_datasets() == []


def test_save_upload_enforces_the_size_limit():
    with pytest.raises(ValueError, match="over the 0 MB limit"):
        lab.save_upload("big.npz", medmnist_bytes(), limit_mb=0)


def test_a_truncated_zip_is_a_clear_error():
    data = medmnist_bytes()
    assert zipfile.is_zipfile(io.BytesIO(data))
    with pytest.raises(ValueError, match="could not be read"):
        lab.save_upload("cut.npz", data[: len(data) // 2])


def test_live_progress_takes_the_latest_values_and_the_loss_curve():
    rows = [{"step": step, "epoch": 1, "name": name, "value": value, "time": 0.0}
            for step, name, value in [(1, "loss", 4.0), (1, "progress", 0.1), (1, "eta_seconds", 90.0),
                                      (2, "loss", 3.5), (2, "progress", 0.2), (2, "eta_seconds", 80.0),
                                      (2, "knn_accuracy", 0.61), (2, "collapse_score", None)]]
    progress = lab.live_progress(rows)
    assert (progress["fraction"], progress["eta_seconds"], progress["knn_accuracy"]) == (0.2, 80.0, 0.61)
    assert progress["curve"].to_dict("list") == {"step": [1, 2], "loss": [4.0, 3.5]}
    empty = lab.live_progress([])
    assert empty["fraction"] == 0.0 and empty["loss"] is None and empty["curve"].empty


def embeddings_file(path, **arrays):
    rng = np.random.default_rng(0)
    data = {"features_before": rng.normal(size=(6, 4)), "features_after": rng.normal(size=(6, 4)),
            "labels": np.array([0, 1, 1, 0, 1, 0]), "label_names": np.array(["normal", "pneumonia"]),
            "split": np.array(["test"] * 6), "labelled": np.array([1, 0, 0, 0, 1, 0], bool)}
    data.update(arrays)
    np.savez(path, **{k: v for k, v in data.items() if v is not None})
    return path


def test_embeddings_load_into_a_table_that_names_classes_and_the_labelled_subset(tmp_path):
    data = lab.load_embeddings(embeddings_file(tmp_path / "e.npz"))
    table = lab.embedding_table(data)
    assert table["class"].tolist()[:3] == ["normal", "pneumonia", "pneumonia"]
    assert table["labelled"].tolist()[:2] == ["labelled", "unlabelled"]
    assert table["patient"].tolist() == [str(i) for i in range(6)]  # no patient ids: one patient per image
    images = lab.thumbnails(np.zeros((6, 1, 8, 8), np.uint8))
    chart = lab.embedding_chart(data["features_after"][:, :2], table, "class", "after", images).to_dict()
    rows = next(iter(chart["datasets"].values()))
    assert [row["index"] for row in rows] == list(range(6)) and rows[1]["class"] == "pneumonia"
    assert rows[0]["image"].startswith("data:image/png;base64,")
    assert chart["encoding"]["tooltip"][0]["field"] == "image"  # Vega's tooltip draws a field named image
    assert chart["params"][0]["name"] == lab.EMBEDDING_SELECTION


def test_thumbnails_are_small_pngs_of_the_images():
    import base64
    import io as std_io

    from PIL import Image

    images = np.stack([np.full((1, 128, 128), value, np.uint8) for value in (0, 200)])
    pictures = [Image.open(std_io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) for uri in lab.thumbnails(images)]
    assert [picture.size for picture in pictures] == [(48, 48), (48, 48)]
    assert [picture.getpixel((5, 5)) for picture in pictures] == [0, 200]


@pytest.mark.parametrize("arrays, message", [
    ({"features_after": None}, "lacks features_after"),
    ({"labels": np.array([0, 1])}, "do not have one row per image"),
])
def test_bad_embeddings_files_are_clear_errors(tmp_path, arrays, message):
    with pytest.raises(ValueError, match=message):
        lab.load_embeddings(embeddings_file(tmp_path / "e.npz", **arrays))
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="could not be read"):
        lab.load_embeddings(tmp_path / "junk.npz")


@pytest.mark.parametrize("strategy, expected", [
    ("contrastive", "push other images away"), ("non-contrastive", "no negatives"),
    ("generative", "hidden patches"), ("innate-relationship", "which transform")])
def test_each_strategy_has_a_diagram_that_says_what_the_loss_asks(strategy, expected):
    dot = lab.method_diagram(strategy)
    assert dot.startswith("digraph {") and dot.endswith("}") and expected in dot
    assert "same patient" in lab.method_diagram(strategy, same_patient=True) or strategy != "contrastive"
    with pytest.raises(ValueError, match="no diagram"):
        lab.method_diagram("telepathic")


def test_format_duration_picks_a_readable_unit():
    assert [lab.format_duration(s) for s in (42, 150, 7200)] == ["42 s", "2.5 min", "2.0 h"]


def test_curve_figure_escapes_html_in_published_sources():
    [value] = published_for("pneumoniamnist", protocol="finetune", metric="auc", image_size=28)[:1]
    figure = lab.curve_figure({}, "auc", published=[replace(value, paper="<b>bold</b> & co")])
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in figure.data[0].customdata[0][1]


@pytest.mark.parametrize("spec, expected", [("pneumoniamnist", "pneumoniamnist"), ("PneumoniaMNIST", "pneumoniamnist"),
                                            ("/data/pneumoniamnist_64.npz", "pneumoniamnist"),
                                            ("synthetic", "synthetic"), ("/data/my_scans.npz", "/data/my_scans.npz")])
def test_reference_dataset_id_finds_the_medmnist_flag(spec, expected):
    assert lab.reference_dataset_id(spec) == expected
