"""A folder of images with one sub-folder per class: PNG, JPEG or DICOM.

Layout::

    my_xrays/
        normal/001.png ...
        pneumonia/104.dcm ...
        metadata.csv        (optional) columns: file, patient_id[, split]

or, with the splits given as folders (``val`` may also be named ``valid`` or ``validation``)::

    my_xrays/
        train/normal/001.png ...    train/pneumonia/...
        val/normal/...              test/normal/...

``file`` is the image's path relative to the folder (``normal/001.png``, ``train/normal/001.png``);
``split`` is one of train / val / test. Without split folders or a split column the patients are
split 70/15/15 with the seed; with split folders a missing ``val`` or ``test`` takes 15% of the
training patients.

Each image is decoded straight to ``image_size`` (a JPEG at a reduced scale, others resized as
soon as they are decoded), so the full-resolution images are never held together; an image of
more than MAX_IMAGE_PIXELS pixels is refused from its header, before it is decoded.
"""

from __future__ import annotations

import csv
import struct
import warnings
from pathlib import Path

import numpy as np
import torch

from sslcore.data.base import (SPLIT_NAMES, ImageDataset, Split, check_path_exists, dataset_byte_limit,
                               format_bytes, limit_explained, split_by_patient)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm")
METADATA_NAME = "metadata.csv"
SPLIT_FRACTIONS = (0.7, 0.15, 0.15)
# Folder names that stand for a split, and the split they stand for.
SPLIT_FOLDERS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
# 64 megapixels: a full-field mammogram has about 20 and a chest radiograph about 9. A larger image
# is refused before it is decoded: a small PNG can declare 20000 x 20000 pixels (a decompression bomb).
MAX_IMAGE_PIXELS = 64_000_000


def _check_pixels(path: Path, width: int, height: int) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise ValueError(f"{path}: {width}x{height} pixels is over the limit of {MAX_IMAGE_PIXELS / 1e6:g} "
                         f"megapixels per image (a decompression bomb, or a scan to shrink first)")


def read_image(path: Path, size: int | None = None) -> np.ndarray:
    """One image as uint8 (H, W) or (H, W, 3), resized to ``size`` x ``size`` when given.

    Raises:
        ValueError: the file cannot be decoded, or has more than MAX_IMAGE_PIXELS pixels (the
            message names it).
    """
    if path.suffix.lower() == ".dcm":
        pixels = _read_dicom(path)
        return pixels if size is None or pixels.shape == (size, size) else _resize(pixels, size)
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ValueError(f"{path}: refused as a possible decompression bomb ({error})") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
        raise ValueError(f"{path}: cannot read the image (corrupt or truncated?): {error}") from error
    with image:
        _check_pixels(path, *image.size)
        try:
            if size is not None and image.format == "JPEG":
                image.draft(image.mode, (size, size))  # decode at 1/2, 1/4 or 1/8 scale, still >= size
            image.load()
            if image.mode in ("RGB", "RGBA", "P", "CMYK"):
                pixels = np.asarray(_resized(image.convert("RGB"), size))
                is_gray = (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
                return pixels[..., 0] if is_gray else pixels
            if image.mode in ("I", "I;16", "F"):  # 16-bit or float greyscale: stretch to 0..255
                return _to_uint8(np.asarray(_resized(image.convert("F"), size), dtype=np.float64))
            return np.asarray(_resized(image.convert("L"), size))
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
            raise ValueError(f"{path}: cannot read the image (corrupt or truncated?): {error}") from error


def _resized(image, size: int | None):
    from PIL import Image

    return image if size is None or image.size == (size, size) else image.resize((size, size), Image.BILINEAR)


def _read_dicom(path: Path) -> np.ndarray:
    import pydicom

    def unreadable(error: Exception) -> ValueError:
        return ValueError(f"{path}: cannot read the DICOM image (corrupt or truncated?): {error}")

    try:
        dataset = pydicom.dcmread(path)
        width, height = int(dataset.Columns), int(dataset.Rows) * int(getattr(dataset, "NumberOfFrames", 1) or 1)
    except Exception as error:  # pydicom raises many types for broken files
        raise unreadable(error) from error
    _check_pixels(path, width, height)
    try:
        pixels = dataset.pixel_array.astype(np.float64)
    except Exception as error:
        raise unreadable(error) from error
    if pixels.ndim != 2:
        raise ValueError(f"{path}: only single-frame greyscale DICOM is supported, got pixel shape {pixels.shape}")
    pixels = pixels * float(getattr(dataset, "RescaleSlope", 1)) + float(getattr(dataset, "RescaleIntercept", 0))
    image = _to_uint8(pixels)
    if getattr(dataset, "PhotometricInterpretation", "") == "MONOCHROME1":  # bright means air: invert
        image = 255 - image
    return image


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    low, high = float(pixels.min()), float(pixels.max())
    scaled = (pixels - low) / (high - low) * 255 if high > low else np.zeros_like(pixels)
    return scaled.round().astype(np.uint8)


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))


def _read_metadata(path: Path, files: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Patient ids (int, in the order of ``files``) and split names (or None) from the metadata CSV."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [{name: (value or "").strip() for name, value in row.items() if isinstance(name, str)}
                    for row in csv.DictReader(handle)]
    except (csv.Error, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not readable as a UTF-8 CSV ({error})") from None
    if not rows or not {"file", "patient_id"} <= set(rows[0]):
        raise ValueError(f"{path}: needs columns 'file' and 'patient_id' (and optionally 'split')")
    by_file = {row["file"].replace("\\", "/"): row for row in rows}
    missing = [f for f in files if f not in by_file]
    if missing:
        raise ValueError(f"{path}: no row for {len(missing)} image(s), e.g. {missing[0]}")
    patient_names = [by_file[f]["patient_id"] for f in files]
    _, patient_ids = np.unique(patient_names, return_inverse=True)
    if "split" not in rows[0]:
        return patient_ids, None
    splits = np.array([by_file[f]["split"].lower() for f in files])
    bad = sorted(set(splits) - set(SPLIT_NAMES))
    if bad:
        raise ValueError(f"{path}: split must be train, val or test, found {bad}")
    return patient_ids, splits


def _subfolders(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _split_folders(root: Path, children: list[Path]) -> dict[str, Path]:
    """"train" / "val" / "test" -> the folder of ``root`` holding that split; empty when ``root``
    holds class folders."""
    named = [d for d in children if d.name.lower() in SPLIT_FOLDERS]
    if not named:
        return {}
    others = [d.name for d in children if d not in named]
    if others:
        raise ValueError(f"{root}: holds split folders ({', '.join(d.name for d in named)}) beside other folders "
                         f"({', '.join(others)}); put every class folder inside train/, val/ and test/, or use "
                         f"class folders only")
    splits: dict[str, Path] = {}
    for folder in named:
        split = SPLIT_FOLDERS[folder.name.lower()]
        if split in splits:
            raise ValueError(f"{root}: {splits[split].name}/ and {folder.name}/ both stand for the {split} split")
        splits[split] = folder
    if "train" not in splits:
        raise ValueError(f"{root}: has split folders ({', '.join(d.name for d in named)}) but no train/ folder")
    return {split: splits[split] for split in SPLIT_NAMES if split in splits}


def _draw_from_train(patient_ids: np.ndarray, train: np.ndarray, missing: list[str], seed: int) -> dict:
    """Indices for the splits in ``missing`` (val, test), each SPLIT_FRACTIONS[2] of the training
    patients drawn with ``seed``, and for what stays in train."""
    patients = np.random.default_rng(seed).permutation(np.unique(patient_ids[train]))
    n = int(round(SPLIT_FRACTIONS[2] * len(patients)))
    groups = {name: patients[k * n:(k + 1) * n] for k, name in enumerate(missing)}
    groups["train"] = patients[len(missing) * n:]
    return {name: train[np.isin(patient_ids[train], group)] for name, group in groups.items()}


def _listed_images(root: Path, split_dirs: dict[str, Path]) -> tuple[list[str], list[Path], list[int], list[str]]:
    """The class names, and every image file with its class index and its split folder ("" without
    split folders), in a stable order. ValueError for no class folder or an empty one."""
    if split_dirs:
        label_names = sorted({d.name for folder in split_dirs.values() for d in _subfolders(folder)})
        groups = [(split, folder / name) for split, folder in split_dirs.items() for name in label_names
                  if (folder / name).is_dir()]
    else:
        label_names = [d.name for d in _subfolders(root)]
        groups = [("", root / name) for name in label_names]
    if not label_names:
        inside = f"{root}/train" if split_dirs else str(root)
        raise ValueError(f"{root}: no class sub-folders found (expected e.g. {inside}/normal/*.png)")
    class_index = {name: label for label, name in enumerate(label_names)}
    files: list[Path] = []
    labels: list[int] = []
    folder_splits: list[str] = []
    for split, class_dir in groups:
        images = _images_in(class_dir)
        if not images:
            raise ValueError(f"{class_dir}: class folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
        files += images
        labels += [class_index[class_dir.name]] * len(images)
        folder_splits += [split] * len(images)
    return label_names, files, labels, folder_splits


def _decoded(root: Path, files: list[Path], image_size: int | None) -> torch.Tensor:
    """The images as uint8 (N, C, H, W), decoded one at a time within the dataset memory limit;
    grey images join colour ones as three equal channels. ValueError for mixed or non-square sizes
    without ``image_size``."""
    limit, held, pixels = dataset_byte_limit(), 0, []
    for file in files:  # one image at full resolution at a time
        pixels.append(read_image(file, image_size))
        held += pixels[-1].nbytes
        if held > limit:
            raise ValueError(f"{root}: its {len(files)} images take more than {format_bytes(held)} "
                             f"{'at full size' if image_size is None else f'at {image_size} px'}; the limit is "
                             f"{limit_explained()}. Pass a smaller image_size")
    if image_size is None:
        sizes = {p.shape[:2] for p in pixels}
        if len(sizes) > 1:
            raise ValueError(f"{root}: images have mixed sizes {sorted(sizes)[:4]}; pass image_size to resize them")
        height, width = sizes.pop()
        if height != width:
            raise ValueError(f"{root}: images are {height}x{width}; pass image_size to resize them to a square")
    colour = any(p.ndim == 3 for p in pixels)
    stack = np.stack([np.repeat(p[..., None], 3, -1) if colour and p.ndim == 2 else p for p in pixels])
    del pixels
    return torch.from_numpy(stack[:, None] if stack.ndim == 3 else stack.transpose(0, 3, 1, 2).copy())


def load_folder(path: str | Path, *, image_size: int | None = None, seed: int = 0) -> ImageDataset:
    """Read a folder of class sub-folders, or of train / val / test folders of class sub-folders.

    Args:
        path: the folder.
        image_size: decode every image to this square size; when None all images must share one size.
        seed: seeds the split by patient when the folders and metadata give none.

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: no class folders, an empty class folder, an unreadable image or one over
            MAX_IMAGE_PIXELS, images over the dataset memory limit, mixed image sizes without
            ``image_size``, split folders mixed with others, or a bad metadata CSV.
    """
    root = Path(path)
    check_path_exists(root, "image folder")
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder")
    if image_size is not None and image_size < 8:
        raise ValueError(f"image_size must be at least 8, got {image_size}")
    split_dirs = _split_folders(root, _subfolders(root))
    label_names, files, labels, folder_splits = _listed_images(root, split_dirs)
    images = _decoded(root, files, image_size)

    relative = [f.relative_to(root).as_posix() for f in files]
    metadata = root / METADATA_NAME
    if metadata.exists():
        patient_ids, split_names = _read_metadata(metadata, relative)
    else:
        patient_ids, split_names = np.arange(len(files)), None
    if split_dirs:
        in_folders = np.array(folder_splits)
        if split_names is not None and (split_names != in_folders).any():
            first = int(np.flatnonzero(split_names != in_folders)[0])
            raise ValueError(f"{metadata}: {relative[first]} lies in the {in_folders[first]} folder but its split "
                             f"column says {split_names[first]}")
        index = {name: np.flatnonzero(in_folders == name) for name in SPLIT_NAMES}
        missing = [name for name in ("val", "test") if name not in split_dirs]
        if missing:
            index.update(_draw_from_train(patient_ids, index["train"], missing, seed))
        given = (f"; splits from its {', '.join(d.name + '/' for d in split_dirs.values())} folders"
                 + (f", {' and '.join(missing)} drawn from train" if missing else ""))
    elif split_names is None:
        index, given = split_by_patient(patient_ids, SPLIT_FRACTIONS, seed), ""
    else:
        index, given = {name: np.flatnonzero(split_names == name) for name in SPLIT_NAMES}, ""
    label_tensor = torch.tensor(labels, dtype=torch.int64)
    id_tensor = torch.from_numpy(patient_ids.astype(np.int64))
    splits = {name: Split(images[torch.from_numpy(i)], label_tensor[torch.from_numpy(i)], id_tensor[torch.from_numpy(i)])
              for name, i in index.items()}
    return ImageDataset(
        name=root.name, task="binary" if len(label_names) == 2 else "multi-class", label_names=label_names,
        splits=splits, licence="as given by the folder's owner",
        description=f"{len(files)} images from the folder {root} ({len(label_names)} classes{given}).",
        synthetic=False,
    )
