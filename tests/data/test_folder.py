import numpy as np
import pytest
import torch
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from sslcore.data import load_dataset


def _png(path, size=16, value=None, colour=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(path.name)) % 2**32)
    pixels = rng.integers(0, 256, (size, size, 3) if colour else (size, size), dtype=np.uint8)
    if value is not None:
        pixels[:] = value
    Image.fromarray(pixels).save(path)
    return pixels


def _dicom(path, pixels, monochrome1=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 16, 12, 11, 0
    ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def _folder(root, n=10, size=16):
    for i in range(n):
        _png(root / "normal" / f"n{i}.png", size)
        _png(root / "pneumonia" / f"p{i}.jpg", size)
    return root


def test_reads_classes_and_splits_seeded(tmp_path):
    ds = load_dataset(str(_folder(tmp_path / "xrays")), seed=1)
    assert ds.name == "xrays" and ds.label_names == ["normal", "pneumonia"] and ds.task == "binary"
    assert ds.channels == 1 and ds.image_size == 16
    assert sum(len(s) for s in ds.splits.values()) == 20
    again = load_dataset(str(tmp_path / "xrays"), seed=1)
    assert torch.equal(ds.splits["train"].images, again.splits["train"].images)


def test_png_pixels_kept_exactly(tmp_path):
    pixels = _png(tmp_path / "d" / "a" / "x.png", value=None)
    _png(tmp_path / "d" / "b" / "y.png")
    ds = load_dataset(str(tmp_path / "d"))
    everything = torch.cat([s.images for s in ds.splits.values()])
    assert any(torch.equal(img[0], torch.from_numpy(pixels)) for img in everything)


def test_resize_and_colour(tmp_path):
    _png(tmp_path / "d" / "a" / "x.png", size=20, colour=True)
    _png(tmp_path / "d" / "b" / "y.png", size=12)
    ds = load_dataset(str(tmp_path / "d"), image_size=8)
    assert ds.channels == 3 and ds.image_size == 8


def test_mixed_sizes_without_image_size(tmp_path):
    _png(tmp_path / "d" / "a" / "x.png", size=20)
    _png(tmp_path / "d" / "b" / "y.png", size=12)
    with pytest.raises(ValueError, match="mixed sizes"):
        load_dataset(str(tmp_path / "d"))


def test_dicom_windowed_and_monochrome1_inverted(tmp_path):
    ramp = np.tile(np.arange(16) * 200, (16, 1))
    _dicom(tmp_path / "d" / "a" / "x.dcm", ramp)
    _dicom(tmp_path / "d" / "b" / "y.dcm", ramp, monochrome1=True)
    _png(tmp_path / "d" / "b" / "z.png")
    ds = load_dataset(str(tmp_path / "d"))
    images = torch.cat([s.images for s in ds.splits.values()])[:, 0]
    assert images.dtype == torch.uint8
    # The 12-bit ramp is stretched to 0..255; MONOCHROME1 (bright = air) is inverted.
    assert any(img[0, 0] == 0 and img[0, -1] == 255 for img in images)
    assert any(img[0, 0] == 255 and img[0, -1] == 0 for img in images)


def test_metadata_csv_patients_and_splits(tmp_path):
    root = _folder(tmp_path / "d", n=6)
    lines = ["file,patient_id,split"]
    for i in range(6):
        split = "train" if i < 4 else ("val" if i == 4 else "test")
        lines += [f"normal/n{i}.png,P{i},{split}", f"pneumonia/p{i}.jpg,P{i},{split}"]
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    ds = load_dataset(str(root))
    assert [len(ds.splits[s]) for s in ("train", "val", "test")] == [8, 2, 2]
    train = ds.splits["train"]
    assert train.patient_ids.unique().numel() == 4


def test_metadata_without_split_groups_patients(tmp_path):
    root = _folder(tmp_path / "d", n=10)
    lines = ["file,patient_id"] + [f"normal/n{i}.png,P{i}" for i in range(10)] + [f"pneumonia/p{i}.jpg,P{i}" for i in range(10)]
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    ds = load_dataset(str(root), seed=0)
    groups = [set(s.patient_ids.tolist()) for s in ds.splits.values()]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])


@pytest.mark.parametrize("problem,error,match", [
    ("empty_folder", ValueError, "no class sub-folders"),
    ("empty_class", ValueError, "holds no images"),
    ("corrupt", ValueError, "cannot read the image"),
    ("bad_csv", ValueError, "metadata.csv: no row"),
    ("missing", FileNotFoundError, "nowhere"),
])
def test_errors_name_the_file(tmp_path, problem, error, match):
    root = tmp_path / "d"
    root.mkdir()
    if problem == "empty_class":
        _png(root / "a" / "x.png")
        (root / "b").mkdir()
    elif problem == "corrupt":
        _png(root / "a" / "x.png")
        (root / "b").mkdir()
        (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    elif problem == "bad_csv":
        _png(root / "a" / "x.png")
        (root / "metadata.csv").write_text("file,patient_id\nother.png,1\n")
    elif problem == "missing":
        root = tmp_path / "nowhere"
    with pytest.raises(error, match=match):
        load_dataset(str(root))
