"""2-D maps of features (PCA, UMAP), an on-disk cache of them, and nearest neighbours by cosine."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

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
