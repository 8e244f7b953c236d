import io
import zipfile

import numpy as np
import pytest

from sslcore.data.uploads import MEDMNIST_KEYS, save_upload, uploaded_datasets


def medmnist_bytes(**drop):
    buffer = io.BytesIO()
    arrays = {key: np.zeros((2, 28, 28) if "images" in key else (2, 1), np.uint8) for key in MEDMNIST_KEYS}
    np.savez(buffer, **{k: v for k, v in arrays.items() if k not in drop})
    return buffer.getvalue()


def test_save_upload_writes_a_valid_npz_into_the_cache(isolated_data_home):
    path = save_upload("my scans!.npz", medmnist_bytes())
    assert path == isolated_data_home / "datasets" / "uploads" / "my_scans.npz"
    assert uploaded_datasets() == [path]


@pytest.mark.parametrize("name, data, message", [
    ("scans.csv", b"a,b", "not an .npz"),
    ("scans.npz", b"not a zip", "could not be read"),
    ("scans.npz", medmnist_bytes(test_labels=1), "lacks the MedMNIST arrays test_labels"),
])
def test_save_upload_rejects_bad_files_with_a_clear_message(name, data, message):
    with pytest.raises(ValueError, match=message):
        save_upload(name, data)
    assert uploaded_datasets() == []


def test_save_upload_enforces_the_size_limit():
    with pytest.raises(ValueError, match="over the 0 MB limit"):
        save_upload("big.npz", medmnist_bytes(), limit_mb=0)


def test_a_truncated_zip_is_a_clear_error():
    data = medmnist_bytes()
    assert zipfile.is_zipfile(io.BytesIO(data))
    with pytest.raises(ValueError, match="could not be read"):
        save_upload("cut.npz", data[: len(data) // 2])
