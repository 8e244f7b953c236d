import os

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from sslcore.evaluate import embeddings
from sslcore.evaluate.embeddings import (EMBEDDING_SELECTION, cached_embedding, compute_embedding, embedding_chart,
                                        embedding_table, fingerprint, load_embeddings, nearest_neighbours, pca,
                                        thumbnails)


def _features(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)) * np.linspace(3, 0.5, d)).astype(np.float32)


@pytest.mark.parametrize("n,d", [(5, 3), (50, 16), (300, 64)])
def test_pca_matches_sklearn_up_to_sign(n, d):
    features = _features(n, d)
    ours = pca(features)
    expected = PCA(n_components=2).fit_transform(features.astype(np.float64))
    assert ours.shape == (n, 2) and ours.dtype == np.float32
    signs = np.sign((ours * expected).sum(0))
    np.testing.assert_allclose(ours, expected * signs, atol=1e-4)


def test_pca_is_deterministic_in_sign_and_accepts_tensors():
    features = _features(40, 6)
    ours = pca(torch.from_numpy(features))
    np.testing.assert_array_equal(ours, pca(features))
    # The mirrored cloud has the same axes; the sign rule pins them, so the picture mirrors too.
    np.testing.assert_allclose(pca(-features), -ours, atol=1e-4)


def test_pca_fills_components_beyond_the_rank_with_zeros():
    features = np.repeat(np.arange(4, dtype=np.float32)[:, None], 3, axis=1)  # rank 1
    out = pca(features, n_components=2)
    assert np.allclose(out[:, 1], 0, atol=1e-6) and not np.allclose(out[:, 0], 0)
    assert pca(features[:1]).shape == (1, 2)


@pytest.mark.parametrize("bad", [np.zeros(5), np.zeros((0, 3)), np.zeros((2, 2, 2))])
def test_embeddings_reject_non_matrices(bad):
    with pytest.raises(ValueError, match="features"):
        pca(bad)


def test_compute_embedding_dispatches_and_checks_the_method():
    features = _features(20, 5)
    np.testing.assert_array_equal(compute_embedding(features, "pca"), pca(features))
    with pytest.raises(ValueError, match="tsne"):
        compute_embedding(features, "tsne")


def test_cached_embedding_computes_once_per_split_method_and_features(tmp_path, monkeypatch):
    calls = []
    real = embeddings.compute_embedding
    monkeypatch.setattr(embeddings, "compute_embedding", lambda *a, **k: calls.append(1) or real(*a, **k))
    features = _features(30, 4)
    first = cached_embedding(features, tmp_path, split="test")
    again = cached_embedding(features.copy(), tmp_path, split="test")
    np.testing.assert_array_equal(first, again)
    assert len(calls) == 1
    assert (tmp_path / f"test-pca-0-{fingerprint(features)}.npz").exists()
    cached_embedding(features, tmp_path, split="val")
    cached_embedding(features + 1e-3, tmp_path, split="test")
    assert len(calls) == 3 and len(list(tmp_path.glob("*.npz"))) == 3
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_cached_embedding_recomputes_a_damaged_entry(tmp_path):
    features = _features(10, 3)
    path = tmp_path / f"train-pca-0-{fingerprint(features)}.npz"
    path.write_bytes(b"PK not really a zip")
    np.testing.assert_allclose(cached_embedding(features, tmp_path, split="train"), pca(features))
    with np.load(path) as archive:
        assert archive["coordinates"].shape == (10, 2)


@pytest.mark.parametrize("split,method", [("../etc", "pca"), ("test", "tsne")])
def test_cached_embedding_rejects_unsafe_names(tmp_path, split, method):
    with pytest.raises(ValueError):
        cached_embedding(_features(5, 2), tmp_path, split=split, method=method)


def test_fingerprint_depends_on_values_and_shape():
    features = _features(6, 4)
    assert fingerprint(features) == fingerprint(torch.from_numpy(features.copy()))
    assert fingerprint(features) != fingerprint(features.reshape(4, 6))
    assert fingerprint(features) != fingerprint(features * 2)


@pytest.mark.parametrize("n,k", [(10, 3), (50, 8), (7, 6)])
def test_nearest_neighbours_match_a_brute_force_reference(n, k):
    features = _features(n, 5, seed=n)
    index = n // 2
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    similarity = unit @ unit[index]
    expected = [j for j in np.argsort(-similarity, kind="stable") if j != index][:k]
    got = nearest_neighbours(features, index, k)
    assert index not in got and list(got) == expected


def test_nearest_neighbours_cap_k_and_check_arguments():
    features = _features(4, 3)
    assert sorted(nearest_neighbours(features, 0, k=10)) == [1, 2, 3]
    assert len(nearest_neighbours(features[:1], 0, k=3)) == 0
    with pytest.raises(ValueError, match="index"):
        nearest_neighbours(features, 4, k=1)
    with pytest.raises(ValueError, match="k"):
        nearest_neighbours(features, 0, k=0)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("RUN_SLOW") != "1", reason="UMAP's first fit compiles for ~60 s; set RUN_SLOW=1")
def test_umap_keeps_separated_clusters_apart():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(2, 16)) * 10
    labels = np.repeat([0, 1], 60)
    features = centres[labels] + rng.normal(size=(120, 16))
    coordinates = compute_embedding(features, "umap", seed=0)
    assert coordinates.shape == (120, 2) and coordinates.dtype == np.float32
    gap = np.linalg.norm(coordinates[labels == 0].mean(0) - coordinates[labels == 1].mean(0))
    spread = max(coordinates[labels == c].std(0).max() for c in (0, 1))
    assert gap > 3 * spread


def embeddings_file(path, **arrays):
    rng = np.random.default_rng(0)
    data = {"features_before": rng.normal(size=(6, 4)), "features_after": rng.normal(size=(6, 4)),
            "labels": np.array([0, 1, 1, 0, 1, 0]), "label_names": np.array(["normal", "pneumonia"]),
            "split": np.array(["test"] * 6), "labelled": np.array([1, 0, 0, 0, 1, 0], bool)}
    data.update(arrays)
    np.savez(path, **{k: v for k, v in data.items() if v is not None})
    return path


def test_embeddings_load_into_a_table_that_names_classes_and_the_labelled_subset(tmp_path):
    data = load_embeddings(embeddings_file(tmp_path / "e.npz"))
    table = embedding_table(data)
    assert table["class"].tolist()[:3] == ["normal", "pneumonia", "pneumonia"]
    assert table["labelled"].tolist()[:2] == ["labelled", "unlabelled"]
    assert table["patient"].tolist() == [str(i) for i in range(6)]  # no patient ids: one patient per image
    images = thumbnails(np.zeros((6, 1, 8, 8), np.uint8))
    chart = embedding_chart(data["features_after"][:, :2], table, "class", "after", images).to_dict()
    rows = next(iter(chart["datasets"].values()))
    assert [row["index"] for row in rows] == list(range(6)) and rows[1]["class"] == "pneumonia"
    assert rows[0]["image"].startswith("data:image/png;base64,")
    assert chart["encoding"]["tooltip"][0]["field"] == "image"  # Vega's tooltip draws a field named image
    assert chart["params"][0]["name"] == EMBEDDING_SELECTION


def test_thumbnails_are_96_px_pngs_with_small_images_enlarged_pixel_for_pixel():
    import base64
    import io as std_io

    from PIL import Image

    def decoded(images):
        return [Image.open(std_io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) for uri in thumbnails(images)]

    large = decoded(np.stack([np.full((1, 128, 128), value, np.uint8) for value in (0, 200)]))
    assert [picture.size for picture in large] == [(96, 96), (96, 96)]
    assert [picture.getpixel((5, 5)) for picture in large] == [0, 200]
    checker = (np.indices((32, 32)).sum(0) % 2 * 255).astype(np.uint8)[None, None]  # (1, 1, 32, 32)
    [picture] = decoded(checker)
    pixels = np.asarray(picture)
    assert picture.size == (96, 96) and set(np.unique(pixels)) == {0, 255}  # nearest: no grey blur
    assert (pixels[:3, :3] == pixels[0, 0]).all() and pixels[0, 3] != pixels[0, 0]  # each pixel a 3x3 square


@pytest.mark.parametrize("arrays, message", [
    ({"features_after": None}, "lacks features_after"),
    ({"labels": np.array([0, 1])}, "do not have one row per image"),
])
def test_bad_embeddings_files_are_clear_errors(tmp_path, arrays, message):
    with pytest.raises(ValueError, match=message):
        load_embeddings(embeddings_file(tmp_path / "e.npz", **arrays))
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="could not be read"):
        load_embeddings(tmp_path / "junk.npz")
