"""Image folders: images decoded straight to the requested size, decompression bombs refused from their
header, a memory limit for the whole folder, and train/ val/ test/ folders read as the splits."""

import struct
import zlib

import numpy as np
import pydicom
import pytest
import torch
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from sslcore.data import base, folder, load_dataset


def _png(path, size=16, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), value, np.uint8)).save(path)


def _png_declaring(path, width, height):
    """A PNG whose header declares width x height pixels, with one tiny IDAT chunk."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


def test_jpeg_is_decoded_at_a_reduced_scale(tmp_path, monkeypatch):
    path = tmp_path / "big.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (2048, 2048, 3), dtype=np.uint8)).save(path)
    decoded, convert = [], Image.Image.convert

    def convert_and_record(self, *args, **kwargs):
        decoded.append(self.size)
        return convert(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "convert", convert_and_record)
    pixels = folder.read_image(path, 64)
    assert pixels.shape == (64, 64, 3) and decoded == [(256, 256)]  # 1/8 scale, never 2048 x 2048
    assert folder.read_image(path).shape == (2048, 2048, 3)


@pytest.mark.parametrize("side, match", [
    (9_000, r"bomb\.png: 9000x9000 pixels is over the limit of 64 megapixels per image"),
    (20_000, r"bomb\.png: refused as a possible decompression bomb \(Image size \(400000000 pixels\)"),  # PIL's
])
def test_pixel_limit_refuses_a_bomb_from_its_header(tmp_path, side, match):
    _png_declaring(tmp_path / "d" / "a" / "bomb.png", side, side)
    _png(tmp_path / "d" / "b" / "fine.png")
    with pytest.raises(ValueError, match=match):
        load_dataset(str(tmp_path / "d"), image_size=16)


@pytest.mark.parametrize("size", [12, 16])  # over PIL's limit (a warning), over twice it (an error)
def test_pil_decompression_bomb_checks_become_a_sentence(tmp_path, monkeypatch, size):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    _png(tmp_path / "x.png", size)
    with pytest.raises(ValueError, match="x.png: refused as a possible decompression bomb"):
        folder.read_image(tmp_path / "x.png")


def test_dicom_declaring_too_many_pixels_is_refused_before_decoding(tmp_path):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(tmp_path / "x.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.Rows, ds.Columns = 30_000, 30_000
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 16, 12, 11, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = b"\0" * 512
    ds.save_as(tmp_path / "x.dcm", enforce_file_format=True)
    with pytest.raises(ValueError, match=r"x\.dcm: 30000x30000 pixels is over the limit"):
        folder.read_image(tmp_path / "x.dcm")
    assert pydicom.dcmread(tmp_path / "x.dcm").Rows == 30_000


def test_folder_over_the_memory_limit_says_to_shrink(tmp_path, monkeypatch):
    for i in range(4):
        _png(tmp_path / "d" / "a" / f"{i}.png", 64)
        _png(tmp_path / "d" / "b" / f"{i}.png", 64)
    monkeypatch.setattr(base, "MAX_DATASET_BYTES", 20_000)  # 8 images: 32 kB at 64 px, 2 kB at 16 px
    with pytest.raises(ValueError, match=r"images take more than 20\.5 kB at full size; the limit is 20\.0 kB"):
        load_dataset(str(tmp_path / "d"))
    assert load_dataset(str(tmp_path / "d"), image_size=16).image_size == 16


def _split_folder(root, val_name="val", splits=("train", "val", "test")):
    """Class folders normal/ and pneumonia/ inside each split; every image's value says its split."""
    counts = {"train": 6, "val": 2, "test": 3}
    values = {"train": 10, "val": 20, "test": 30}
    for split in splits:
        name = val_name if split == "val" else split
        for cls in ("normal", "pneumonia"):
            for i in range(counts[split]):
                _png(root / name / cls / f"{i}.png", value=values[split])
    return root


@pytest.mark.parametrize("val_name", ["val", "valid", "validation", "Val"])
def test_split_folders_are_the_splits(tmp_path, val_name):
    ds = load_dataset(str(_split_folder(tmp_path / "xrays", val_name)))
    assert ds.label_names == ["normal", "pneumonia"] and ds.task == "binary"
    assert {name: len(split) for name, split in ds.splits.items()} == {"train": 12, "val": 4, "test": 6}
    for name, value in (("train", 10), ("val", 20), ("test", 30)):
        assert (ds.splits[name].images == value).all()  # no test image is trained on
        assert ds.splits[name].labels.tolist() == [0] * (len(ds.splits[name]) // 2) + [1] * (len(ds.splits[name]) // 2)
    assert "splits from its train/, " in ds.description


def test_missing_val_folder_is_drawn_from_train_patients(tmp_path):
    root = _split_folder(tmp_path / "xrays", splits=("train", "test"))
    ds = load_dataset(str(root), seed=3)
    assert len(ds.splits["test"]) == 6 and (ds.splits["test"].images == 30).all()
    assert len(ds.splits["val"]) == 2 and len(ds.splits["train"]) == 10  # 15% of 12 training images
    assert (ds.splits["val"].images == 10).all() and "val drawn from train" in ds.description
    again = load_dataset(str(root), seed=3)
    assert torch.equal(ds.splits["val"].patient_ids, again.splits["val"].patient_ids)


def test_class_missing_from_a_split_still_gets_its_label(tmp_path):
    root = _split_folder(tmp_path / "xrays")
    _png(root / "test" / "covid" / "0.png", value=30)
    ds = load_dataset(str(root))
    assert ds.label_names == ["covid", "normal", "pneumonia"]
    assert ds.splits["test"].labels.tolist().count(0) == 1 and 0 not in ds.splits["train"].labels.tolist()


def test_metadata_split_column_must_agree_with_the_folders(tmp_path):
    root = _split_folder(tmp_path / "xrays")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    rows = [f"{f},{i},{f.split('/')[0]}" for i, f in enumerate(files)]
    (root / "metadata.csv").write_text("file,patient_id,split\n" + "\n".join(rows) + "\n")
    assert len(load_dataset(str(root)).splits["test"]) == 6
    rows[0] = rows[0].rsplit(",", 1)[0] + ",train"
    (root / "metadata.csv").write_text("file,patient_id,split\n" + "\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=f"{files[0]} lies in the test folder but its split column says train"):
        load_dataset(str(root))


@pytest.mark.parametrize("extra, match", [
    ("notes", r"holds split folders \(test, train, val\) beside other folders \(notes\)"),
    ("validation", "val/ and validation/ both stand for the val split"),
])
def test_ambiguous_split_layouts_are_refused(tmp_path, extra, match):
    root = _split_folder(tmp_path / "xrays")
    _png(root / extra / "normal" / "0.png")
    with pytest.raises(ValueError, match=match):
        load_dataset(str(root))


def test_split_folders_without_train_are_refused(tmp_path):
    root = _split_folder(tmp_path / "xrays", splits=("val", "test"))
    with pytest.raises(ValueError, match=r"has split folders \(test, val\) but no train/ folder"):
        load_dataset(str(root))
