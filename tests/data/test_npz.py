import numpy as np
import pytest
import torch

from sslcore.data import load_dataset
from sslcore.data import npz
from sslcore.paths import SHARED_DIR

SIZES = {"train": 12, "val": 4, "test": 5}


def _write(path, channels=1, size=28, labels="binary", drop=None, **overrides):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in SIZES.items():
        shape = (n, size, size) if channels == 1 else (n, size, size, 3)
        arrays[f"{split}_images"] = rng.integers(0, 256, shape, dtype=np.uint8)
        if labels == "multi-label":
            arrays[f"{split}_labels"] = rng.integers(0, 2, (n, 14), dtype=np.uint8)
        else:
            arrays[f"{split}_labels"] = (np.arange(n) % (2 if labels == "binary" else 5))[:, None].astype(np.uint8)
    arrays.update(overrides)
    if drop:
        del arrays[drop]
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("size", [28, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_read_any_size_and_channels(tmp_path, size, channels):
    ds = load_dataset(str(_write(tmp_path / f"pathmnist_{size}.npz", channels, size, labels="multi-class")))
    assert ds.name == "pathmnist" and ds.task == "multi-class" and ds.licence == "CC BY 4.0"
    assert ds.channels == channels and ds.image_size == size
    assert {k: len(v) for k, v in ds.splits.items()} == SIZES
    train = ds.splits["train"]
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64 and train.labels.shape == (12,)
    assert torch.equal(train.patient_ids, torch.arange(12))


def test_multi_label_chestmnist(tmp_path):
    ds = load_dataset(str(_write(tmp_path / "chestmnist.npz", labels="multi-label")))
    assert ds.task == "multi-label" and ds.n_classes == 14
    assert ds.splits["val"].labels.dtype == torch.float32 and ds.splits["val"].labels.shape == (4, 14)


def test_unknown_file_name_gets_generic_metadata(tmp_path):
    ds = load_dataset(str(_write(tmp_path / "my_scans.npz", labels="multi-class")))
    assert ds.label_names == [f"class {i}" for i in range(5)] and ds.task == "multi-class"


def test_flag_loads_from_cache_and_missing_file_says_how(tmp_path, isolated_data_home):
    with pytest.raises(FileNotFoundError, match="datasets download breastmnist"):
        load_dataset("breastmnist")
    _write(npz.cache_dir() / "breastmnist.npz")
    ds = load_dataset("breastmnist")
    assert ds.label_names == ["malignant", "normal, benign"] and ds.task == "binary"
    assert npz.cached_files() == [("breastmnist", 28, npz.cache_dir() / "breastmnist.npz")]
    with pytest.raises(ValueError, match="28 px images, not 64"):
        npz.load_npz(npz.cache_dir() / "breastmnist.npz", image_size=64)


@pytest.mark.parametrize("problem,match", [
    ("truncated", "not a readable .npz"),
    ("missing", "missing array.*val_labels"),
    ("count", "5 images but 4 labels"),
    ("mixed", "different shapes"),
    ("too_many_classes", "labels have 3 classes"),
])
def test_bad_files_name_the_file(tmp_path, problem, match):
    path = tmp_path / "breastmnist.npz"
    if problem == "truncated":
        _write(path)
        path.write_bytes(path.read_bytes()[:300])
    elif problem == "missing":
        _write(path, drop="val_labels")
    elif problem == "count":
        _write(path, test_labels=np.zeros((4, 1), np.uint8))
    elif problem == "mixed":
        _write(path, val_images=np.zeros((4, 32, 32), np.uint8))
    else:
        _write(path, train_labels=(np.arange(12) % 3)[:, None])
    with pytest.raises(ValueError, match=match) as error:
        load_dataset(str(path))
    assert str(path) in str(error.value)


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.npz"):
        load_dataset(str(tmp_path / "nothere.npz"))


def test_download_offline_names_file_and_destination(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(npz.urllib.request, "urlopen", offline)
    with pytest.raises(OSError, match=r"dermamnist_64\.npz.*put it at .*medmnist"):
        npz.download("dermamnist", 64)
    assert not npz.cached_path("dermamnist", 64).exists()


def test_download_checks_md5_and_writes(monkeypatch, tmp_path):
    payload = _write(tmp_path / "x.npz").read_bytes()

    class Response:
        def __init__(self, data):
            self.data = data

        def read(self):
            return self.data

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(npz.urllib.request, "urlopen", lambda url, timeout: Response(payload))
    with pytest.raises(ValueError, match="MD5"):
        npz.download("breastmnist")
    import hashlib

    info = npz.MEDMNIST["breastmnist"]
    patched = npz.MedMNISTInfo(**{**info.__dict__, "md5": (hashlib.md5(payload).hexdigest(),) + info.md5[1:]})
    monkeypatch.setitem(npz.MEDMNIST, "breastmnist", patched)
    path = npz.download("breastmnist")
    assert path.read_bytes() == payload and load_dataset("breastmnist").n_classes == 2


def test_metadata_table_matches_reference_csv():
    import csv

    reference = SHARED_DIR / "reference" / "medmnist.csv"
    if not reference.exists():
        pytest.skip(f"{reference} not present")
    rows = {r["dataset"].lower(): r for r in csv.DictReader(reference.open())}
    for flag, info in npz.MEDMNIST.items():
        assert rows[flag]["licence"] == info.licence
        assert int(rows[flag]["n_channels"]) == info.channels
        assert int(rows[flag]["n_classes"]) == len(info.label_names)


def test_shared_pneumoniamnist():
    path = SHARED_DIR / "data" / "pneumoniamnist.npz"
    if not path.exists():
        pytest.skip(f"{path} not present")
    ds = load_dataset(str(path))
    assert ds.task == "binary" and ds.label_names == ["normal", "pneumonia"]
    assert ds.splits["train"].images.shape == (3882, 1, 28, 28)
    assert set(ds.splits["test"].labels.unique().tolist()) == {0, 1}
