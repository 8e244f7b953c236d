"""A folder of images with one sub-folder per class: PNG, JPEG or DICOM.

Layout::

    my_xrays/
        normal/001.png ...
        pneumonia/104.dcm ...
        metadata.csv        (optional) columns: file, patient_id[, split]

``file`` is the image's path relative to the folder (``normal/001.png``); ``split`` is one of
train / val / test. Without a split column the patients are split 70/15/15 with the seed.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from sslcore.data.base import SPLIT_NAMES, ImageDataset, Split, check_path_exists, split_by_patient

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm")
METADATA_NAME = "metadata.csv"
SPLIT_FRACTIONS = (0.7, 0.15, 0.15)


def read_image(path: Path) -> np.ndarray:
    """One image as uint8 (H, W) or (H, W, 3).

    Raises:
        ValueError: the file cannot be decoded (the message names it).
    """
    if path.suffix.lower() == ".dcm":
        return _read_dicom(path)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("RGB", "RGBA", "P", "CMYK"):
                pixels = np.asarray(image.convert("RGB"))
                is_gray = (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
                return pixels[..., 0] if is_gray else pixels
            if image.mode in ("I", "I;16", "F"):  # 16-bit or float greyscale: stretch to 0..255
                return _to_uint8(np.asarray(image, dtype=np.float64))
            return np.asarray(image.convert("L"))
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"{path}: cannot read the image (corrupt or truncated?): {error}") from error


def _read_dicom(path: Path) -> np.ndarray:
    import pydicom

    try:
        dataset = pydicom.dcmread(path)
        pixels = dataset.pixel_array.astype(np.float64)
    except Exception as error:  # pydicom raises many types for broken files
        raise ValueError(f"{path}: cannot read the DICOM image (corrupt or truncated?): {error}") from error
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
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"file", "patient_id"} <= set(rows[0]):
        raise ValueError(f"{path}: needs columns 'file' and 'patient_id' (and optionally 'split')")
    by_file = {row["file"].strip().replace("\\", "/"): row for row in rows}
    missing = [f for f in files if f not in by_file]
    if missing:
        raise ValueError(f"{path}: no row for {len(missing)} image(s), e.g. {missing[0]}")
    patient_names = [by_file[f]["patient_id"].strip() for f in files]
    _, patient_ids = np.unique(patient_names, return_inverse=True)
    if "split" not in rows[0]:
        return patient_ids, None
    splits = np.array([by_file[f]["split"].strip().lower() for f in files])
    bad = sorted(set(splits) - set(SPLIT_NAMES))
    if bad:
        raise ValueError(f"{path}: split must be train, val or test, found {bad}")
    return patient_ids, splits


def load_folder(path: str | Path, *, image_size: int | None = None, seed: int = 0) -> ImageDataset:
    """Read a folder of class sub-folders.

    Args:
        path: the folder.
        image_size: resize every image to this square size; when None all images must share one size.
        seed: seeds the split by patient when the metadata gives none.

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: no class folders, an empty class folder, an unreadable image, mixed image sizes
            without ``image_size``, or a bad metadata CSV.
    """
    root = Path(path)
    check_path_exists(root, "image folder")
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder")
    if image_size is not None and image_size < 8:
        raise ValueError(f"image_size must be at least 8, got {image_size}")
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise ValueError(f"{root}: no class sub-folders found (expected e.g. {root}/normal/*.png)")
    files: list[Path] = []
    labels: list[int] = []
    for label, class_dir in enumerate(class_dirs):
        images = sorted(p for p in class_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise ValueError(f"{class_dir}: class folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
        files += images
        labels += [label] * len(images)

    pixels = [read_image(f) for f in files]
    if image_size is None:
        sizes = {p.shape[:2] for p in pixels}
        if len(sizes) > 1:
            raise ValueError(f"{root}: images have mixed sizes {sorted(sizes)[:4]}; pass image_size to resize them")
        height, width = sizes.pop()
        if height != width:
            raise ValueError(f"{root}: images are {height}x{width}; pass image_size to resize them to a square")
    else:
        pixels = [p if p.shape[:2] == (image_size, image_size) else _resize(p, image_size) for p in pixels]
    colour = any(p.ndim == 3 for p in pixels)
    stack = np.stack([np.repeat(p[..., None], 3, -1) if colour and p.ndim == 2 else p for p in pixels])
    images = torch.from_numpy(stack[:, None] if stack.ndim == 3 else stack.transpose(0, 3, 1, 2).copy())

    relative = [f.relative_to(root).as_posix() for f in files]
    metadata = root / METADATA_NAME
    if metadata.exists():
        patient_ids, split_names = _read_metadata(metadata, relative)
    else:
        patient_ids, split_names = np.arange(len(files)), None
    if split_names is None:
        index = split_by_patient(patient_ids, SPLIT_FRACTIONS, seed)
    else:
        index = {name: np.flatnonzero(split_names == name) for name in SPLIT_NAMES}
    label_tensor = torch.tensor(labels, dtype=torch.int64)
    id_tensor = torch.from_numpy(patient_ids.astype(np.int64))
    splits = {name: Split(images[torch.from_numpy(i)], label_tensor[torch.from_numpy(i)], id_tensor[torch.from_numpy(i)])
              for name, i in index.items()}
    label_names = [d.name for d in class_dirs]
    return ImageDataset(
        name=root.name, task="binary" if len(label_names) == 2 else "multi-class", label_names=label_names,
        splits=splits, licence="as given by the folder's owner",
        description=f"{len(files)} images from the folder {root} ({len(label_names)} classes).", synthetic=False,
    )
