"""Crafted .npz files: arrays declaring more memory than the machine has, compressed zeros, absurd
labels and arrays of the wrong kind are refused with one sentence, before anything is inflated."""

import tracemalloc
import zipfile

import numpy as np
import pytest
from numpy.lib import format as npy_format

from sslcore.data import base, npz

SIZES = {"train": 12, "val": 4, "test": 5}


def _arrays(**overrides):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in SIZES.items():
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2)[:, None].astype(np.uint8)
    arrays.update(overrides)
    return arrays


def _write_members(path, members):
    """An .npz whose members are (shape, dtype, data): ``data`` is an array, None (a header and no
    data) or an int (that many zero bytes, streamed and compressed)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (shape, dtype, data) in members.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as stream:
                npy_format.write_array_header_1_0(stream, {"descr": npy_format.dtype_to_descr(np.dtype(dtype)),
                                                           "fortran_order": False, "shape": shape})
                if isinstance(data, np.ndarray):
                    stream.write(data.tobytes())
                elif isinstance(data, int):
                    chunk = bytes(2**20)
                    for start in range(0, data, len(chunk)):
                        stream.write(chunk[:data - start])
    return path


def _members(**overrides):
    return {name: (a.shape, a.dtype, a) for name, a in _arrays().items()} | overrides


def _peak_mb_while_refused(path, match):
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match) as error:
            npz.load_npz(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(error.value)
    return peak / 1e6


def test_header_declaring_a_terabyte_is_refused_without_allocating(tmp_path):
    path = _write_members(tmp_path / "huge.npz", _members(train_images=((2**20, 1024, 1024), np.uint8, None)))
    match = r"array train_images declares shape \(1048576, 1024, 1024\) uint8, 1,099\.5 GB; the limit is"
    assert _peak_mb_while_refused(path, match) < 5


def test_compressed_zeros_are_refused_before_inflating(tmp_path, monkeypatch):
    monkeypatch.setattr(base, "MAX_DATASET_BYTES", 50 * 10**6)
    path = _write_members(tmp_path / "zeros.npz",
                          _members(train_images=((12, 3000, 3000), np.uint8, 12 * 3000 * 3000)))
    assert path.stat().st_size < 10**6  # 108 MB of zeros compress to a few hundred kB
    assert _peak_mb_while_refused(path, r"train_images declares .* 108\.0 MB; the limit is 50\.0 MB") < 5


def test_arrays_too_large_together_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(base, "MAX_DATASET_BYTES", 15_000)
    path = _write_members(tmp_path / "together.npz", _members())
    with pytest.raises(ValueError, match=r"its arrays declare 16\.5 kB together .* the limit is 15\.0 kB"):
        npz.load_npz(path)


def test_two_billion_as_a_label_builds_nothing(tmp_path):
    labels = np.zeros((12, 1), np.int64)
    labels[3] = 2_000_000_000
    path = tmp_path / "labels.npz"
    np.savez_compressed(path, **_arrays(train_labels=labels))
    match = r"train_labels reach 2,000,000,000; at most 1,000 classes are supported"
    assert _peak_mb_while_refused(path, match) < 5


@pytest.mark.parametrize("overrides, match", [
    ({"val_labels": -np.ones((4, 1), np.int8)}, "val_labels hold -1; class indices start at 0"),
    ({"test_labels": np.full((5, 1), 0.5)}, "test_labels hold fractional values"),
    ({"train_labels": np.full((12, 3), 2), "val_labels": np.ones((4, 3)), "test_labels": np.ones((5, 3))},
     "multi-label dataset must be 0 or 1"),
    ({"train_labels": np.array(["a"] * 12)}, "train_labels holds <U1 values; images and labels must be numbers"),
    ({"train_images": np.zeros((12, 28, 28), np.complex64)}, "holds complex64 values"),
    ({"train_images": np.zeros((12, 28, 28, 2), np.uint8)}, r"must be \(N, H, W\) or \(N, H, W, 1\|3\)"),
    ({"val_images": np.zeros((4, 28, 30), np.uint8)}, "val_images are 28x30 px; images must be square"),
    ({"test_images": np.zeros((0, 28, 28), np.uint8), "test_labels": np.zeros((0, 1), np.uint8)},
     "the test split has no images"),
    ({"train_labels": np.zeros((12, 1001), np.uint8)}, r"with L at most 1000, got shape \(12, 1001\)"),
])
def test_wrong_kinds_and_shapes_get_one_sentence(tmp_path, overrides, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **_arrays(**overrides))
    with pytest.raises(ValueError, match=match) as error:
        npz.load_npz(path)
    assert str(path) in str(error.value)


def test_object_arrays_are_refused_from_the_header(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, **_arrays(train_labels=np.array([{"x": 1}] * 12, dtype=object)))
    with pytest.raises(ValueError, match="train_labels holds object values"):
        npz.load_npz(path)


def test_truncated_and_corrupt_members(tmp_path):
    short = _write_members(tmp_path / "short.npz", _members(train_images=((12, 28, 28), np.uint8, 100)))
    with pytest.raises(ValueError, match=r"train_images declares shape \(12, 28, 28\) uint8, 9\.4 kB but holds only"):
        npz.load_npz(short)
    path = tmp_path / "corrupt.npz"
    np.savez_compressed(path, **_arrays())
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo("train_images.npy")
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[middle:middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt or truncated"):
        npz.load_npz(path)
