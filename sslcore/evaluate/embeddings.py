"""2-D maps of features (PCA, UMAP), an on-disk cache of them, nearest neighbours by cosine, and a
run's ``embeddings.npz`` (features before and after pretraining) drawn as hoverable charts."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

EMBEDDING_METHODS = ("pca", "umap")


def _as_matrix(features) -> np.ndarray:
    """float32 (N, D) numpy array from a tensor or array; the boundary check of this module."""
    if hasattr(features, "detach"):
        features = features.detach().cpu().numpy()
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or len(features) == 0:
        raise ValueError(f"features must be a non-empty (N, D) array, got shape {features.shape}")
    return features


def pca(features, n_components: int = 2) -> np.ndarray:
    """Projection on the leading principal components (Pearson, 1901), computed by SVD.

    Each component's sign is fixed so that its largest loading is positive: the same features give
    the same picture every time.

    Returns:
        float32 (N, n_components); components beyond the rank of the features are zero.
    """
    x = _as_matrix(features).astype(np.float64)
    if n_components < 1:
        raise ValueError(f"n_components must be at least 1, got {n_components}")
    centred = x - x.mean(0)  # (N, D)
    _, _, components = np.linalg.svd(centred, full_matrices=False)  # (r, D), r = min(N, D)
    components = components[:n_components]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(1)])
    projected = centred @ (components * signs[:, None]).T  # (N, min(r, n_components))
    out = np.zeros((len(x), n_components), dtype=np.float32)
    out[:, :projected.shape[1]] = projected
    return out


def umap(features, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1) -> np.ndarray:
    """UMAP (McInnes, Healy & Melville, arXiv:1802.03426, 2018) to 2-D with cosine distances.

    Its first fit in a process compiles numba code for about a minute; later fits take seconds.

    Returns:
        float32 (N, 2).
    """
    from umap import UMAP

    x = _as_matrix(features)
    if len(x) < 4:
        raise ValueError(f"UMAP needs at least 4 points, got {len(x)}")
    reducer = UMAP(n_components=2, n_neighbors=min(n_neighbors, len(x) - 1), min_dist=min_dist,
                   metric="cosine", random_state=seed, n_jobs=1)  # seeded UMAP runs on one thread anyway
    return reducer.fit_transform(x).astype(np.float32)


def compute_embedding(features, method: str = "pca", seed: int = 0) -> np.ndarray:
    """2-D map of ``features`` (N, D) by ``pca`` or ``umap``; float32 (N, 2)."""
    if method not in EMBEDDING_METHODS:
        raise ValueError(f"method must be one of {EMBEDDING_METHODS}, got {method!r}")
    return pca(features) if method == "pca" else umap(features, seed=seed)


def fingerprint(features) -> str:
    """A short hash of the features' shape and values: the cache key of their embeddings."""
    x = np.ascontiguousarray(_as_matrix(features))
    digest = hashlib.sha256(repr(x.shape).encode())
    digest.update(x.tobytes())
    return digest.hexdigest()[:20]


def cached_embedding(features, cache_dir: str | Path, *, split: str, method: str = "pca", seed: int = 0) -> np.ndarray:
    """:func:`compute_embedding`, stored in ``cache_dir`` as ``<split>-<method>-<seed>-<fingerprint>.npz``.

    A cached file that cannot be read, or holds the wrong shape, is recomputed and overwritten.
    """
    from sslcore.io import atomic_write_bytes

    if not re.fullmatch(r"[A-Za-z0-9_.-]+", split):
        raise ValueError(f"split must be a plain name (letters, digits, '_', '.', '-'), got {split!r}")
    if method not in EMBEDDING_METHODS:
        raise ValueError(f"method must be one of {EMBEDDING_METHODS}, got {method!r}")
    x = _as_matrix(features)
    path = Path(cache_dir) / f"{split}-{method}-{seed}-{fingerprint(x)}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as archive:
                coordinates = archive["coordinates"]
            if coordinates.shape == (len(x), 2):
                return coordinates
        except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile):
            pass  # an unreadable cache entry is recomputed below
    coordinates = compute_embedding(x, method=method, seed=seed)
    buffer = io.BytesIO()
    np.savez(buffer, coordinates=coordinates)
    atomic_write_bytes(path, buffer.getvalue())
    return coordinates


def nearest_neighbours(features, index: int, k: int) -> np.ndarray:
    """Indices of the ``k`` images most cosine-similar to image ``index``, most similar first.

    The query itself is excluded; ``k`` is capped at N - 1.
    """
    x = _as_matrix(features)
    if not 0 <= index < len(x):
        raise ValueError(f"index must lie in 0..{len(x) - 1}, got {index}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)  # (N, D)
    similarity = unit @ unit[index]  # (N,)
    similarity[index] = -np.inf
    k = min(k, len(x) - 1)
    nearest = np.argpartition(-similarity, k - 1)[:k] if k else np.empty(0, dtype=np.int64)
    return nearest[np.argsort(-similarity[nearest], kind="stable")]


EMBEDDING_KEYS = ("features_before", "features_after", "labels")


def load_embeddings(path: str | Path) -> dict[str, Any]:
    """A run's ``embeddings.npz`` as numpy arrays, checked.

    Required: ``features_before`` and ``features_after`` (N, D) and ``labels`` (N,) or (N, L).
    Optional, each (N,) unless said: ``patient_ids``, ``split`` (names), ``labelled`` (bool: in
    the smallest labelled subset), ``images`` (uint8 (N, C, H, W) thumbnails) and ``label_names`` (L,).

    Raises:
        ValueError: unreadable, or a required array missing, or lengths that disagree.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            data = {key: archive[key] for key in archive.files}
    except Exception as error:  # zipfile, numpy and OS errors all mean an unusable file
        raise ValueError(f"{path} could not be read as an .npz ({error})") from None
    missing = [key for key in EMBEDDING_KEYS if key not in data]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}")
    n = len(data["labels"])
    wrong = [key for key, value in data.items() if key != "label_names" and len(value) != n]
    if wrong:
        raise ValueError(f"{path}: {', '.join(wrong)} do not have one row per image ({n})")
    return data


def embedding_table(data: dict[str, Any]):
    """One row per image: ``index``, ``class``, ``split``, ``patient``, ``labelled`` (what colours a plot)."""
    import pandas as pd

    labels = data["labels"]
    names = [str(name) for name in data.get("label_names", [])]
    if labels.ndim == 2:  # multi-label: the set of positive labels
        classes = [", ".join(names[j] if j < len(names) else f"label {j}" for j in np.flatnonzero(row)) or "none"
                   for row in labels]
    else:
        classes = [names[label] if label < len(names) else f"class {label}" for label in labels.astype(int)]
    n = len(labels)
    return pd.DataFrame({
        "index": np.arange(n), "class": classes,
        "split": data["split"].astype(str) if "split" in data else "test",
        "patient": data["patient_ids"].astype(str) if "patient_ids" in data else np.arange(n).astype(str),
        "labelled": np.where(data["labelled"], "labelled", "unlabelled") if "labelled" in data else "unknown",
    })


def thumbnails(images, size: int = 96) -> list[str]:
    """Each image (uint8 (N, C, H, W)) as a ``size`` x ``size`` PNG data URI for hover tooltips: small
    images are enlarged with nearest-neighbour sampling (their pixels stay sharp squares), large ones
    reduced smoothly."""
    import base64

    from PIL import Image

    from sslcore.data.samples import displayable

    uris = []
    for pixels in displayable(images):
        picture = Image.fromarray(pixels)
        if picture.width != size:
            sampling = Image.Resampling.NEAREST if picture.width < size else Image.Resampling.BILINEAR
            picture = picture.resize((size, size), sampling)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        uris.append("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"))
    return uris


EMBEDDING_SELECTION = "picked"


def embedding_chart(coordinates, table, colour_by: str, title: str, images: list[str] | None = None):
    """An Altair scatter of 2-D ``coordinates`` (N, 2) coloured by a column of :func:`embedding_table`.

    Hovering a dot shows its image (``images``: data URIs from :func:`thumbnails`; Vega's tooltip
    draws the field named ``image``), class and split; clicking selects it (selection
    ``EMBEDDING_SELECTION`` over the ``index`` field).
    """
    import altair as alt

    frame = table.assign(x=coordinates[:, 0], y=coordinates[:, 1])
    tooltip = ["index", "class", "split"]
    if images is not None:
        frame["image"] = images
        tooltip.insert(0, "image")
    picked = alt.selection_point(fields=["index"], name=EMBEDDING_SELECTION, on="click")
    # labelLimit 0: a legend label is never cut ("pleural effusion", not "pleural effusio...").
    legend = None if colour_by == "patient" else alt.Legend(title=colour_by, orient="bottom", labelLimit=0,
                                                            columns=3)
    return (alt.Chart(frame, title=title, height=420)
            .mark_circle(size=28)
            .encode(x=alt.X("x", axis=None), y=alt.Y("y", axis=None),
                    color=alt.Color(colour_by, legend=legend),
                    opacity=alt.condition(picked, alt.value(0.9), alt.value(0.25)), tooltip=tooltip)
            .add_params(picked))


def class_separation(features, labels) -> float | None:
    """How well classes separate in feature space: the mean silhouette of the images by class under
    cosine distance (Rousseeuw, 1987, J. Comput. Appl. Math. 20:53-65), from -1 (mixed) through 0
    (overlapping) to 1 (tight, distant classes). None for multi-label data or fewer than two classes."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels)
    if labels.ndim != 1 or len(np.unique(labels)) < 2 or len(labels) < 3:
        return None
    return float(silhouette_score(_as_matrix(features), labels, metric="cosine"))


def separation_sentence(before: float | None, after: float | None) -> str | None:
    """One plain sentence about :func:`class_separation` before and after pretraining."""
    if before is None or after is None:
        return None
    change = after - before
    if abs(change) < 0.01:
        verdict = "about as well as"
    else:
        verdict = "better than" if change > 0 else "worse than"
    return (f"After pretraining the findings separate {verdict} before it: silhouette {after:.2f} against "
            f"{before:.2f} (1 = tight, distant groups; 0 = overlapping; measured on the test images among the dots).")
