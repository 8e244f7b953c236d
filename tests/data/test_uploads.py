import hashlib
import io
import os
import time
import zipfile

import numpy as np
import pytest

from sslcore.data.uploads import MEDMNIST_KEYS, remove_old_uploads, save_upload, uploaded_datasets, uploads_dir


def medmnist_bytes(n=2, **drop):
    buffer = io.BytesIO()
    arrays = {key: np.zeros((n, 28, 28) if "images" in key else (n, 1), np.uint8) for key in MEDMNIST_KEYS}
    np.savez(buffer, **{k: v for k, v in arrays.items() if k not in drop})
    return buffer.getvalue()


def test_save_upload_writes_a_valid_npz_into_the_cache(isolated_data_home):
    data = medmnist_bytes()
    path = save_upload("my scans!.npz", data)
    assert path == isolated_data_home / "datasets" / "uploads" / f"my_scans-{hashlib.sha256(data).hexdigest()[:12]}.npz"
    assert uploaded_datasets() == [path] and path.read_bytes() == data


def test_a_new_upload_of_the_same_name_never_overwrites_an_earlier_one():
    first, second = medmnist_bytes(), medmnist_bytes(n=3)
    used_by_a_run = save_upload("scans.npz", first)
    replacement = save_upload("scans.npz", second)
    assert replacement != used_by_a_run and used_by_a_run.read_bytes() == first and replacement.read_bytes() == second
    assert save_upload("scans.npz", first) == used_by_a_run  # the same bytes again: the same file
    assert len(uploaded_datasets()) == 2


def test_each_session_keeps_its_uploads_apart():
    alice, bob = "alice-token-0001", "bob-token-000002"
    mine = save_upload("scans.npz", medmnist_bytes(), owner=alice)
    theirs = save_upload("scans.npz", medmnist_bytes(n=3), owner=bob)
    assert uploaded_datasets(alice) == [mine] and uploaded_datasets(bob) == [theirs]
    assert uploaded_datasets() == []  # the machine user's own uploads are elsewhere
    assert mine.parent != theirs.parent and mine.read_bytes() != theirs.read_bytes()
    for bad in ("../../etc", "short", "a/b" * 5, ""):
        with pytest.raises(ValueError, match="session token"):
            save_upload("scans.npz", medmnist_bytes(), owner=bad)


def test_old_uploads_are_removed_unless_a_run_still_needs_them():
    owner = "session-token-01"
    old, needed, fresh = (save_upload(f"{name}.npz", medmnist_bytes(n=n), owner=owner)
                          for n, name in ((2, "old"), (3, "needed"), (4, "fresh")))
    local = save_upload("local.npz", medmnist_bytes(n=5))
    day = 24 * 3600
    for path in (old, needed, local):
        os.utime(path, (time.time() - 8 * day, time.time() - 8 * day))
    removed = remove_old_uploads(7 * day, keep=[str(needed)])
    assert sorted(removed) == sorted([old, local])
    assert uploaded_datasets(owner) == sorted([needed, fresh])
    os.utime(fresh, (0, 0))
    os.utime(needed, (0, 0))
    assert len(remove_old_uploads(7 * day)) == 2
    assert not (uploads_dir() / owner).exists()  # the emptied session folder goes too
    with pytest.raises(ValueError, match="positive"):
        remove_old_uploads(0)


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
