"""MedMNIST ``.npz`` files: reading, metadata and download.

MedMNIST v2 / MedMNIST+ (Yang et al., 2023, "MedMNIST v2 - A large-scale lightweight benchmark for
2D and 3D biomedical image classification", https://doi.org/10.1038/s41597-022-01721-8) stores each
dataset as one ``.npz`` with ``{train,val,test}_{images,labels}`` arrays; images (N, H, W) or
(N, H, W, 3) uint8, labels (N, 1) or (N, L). The metadata below is copied from the ``medmnist``
package (``medmnist/info.py``, v3.0.2).
"""

from __future__ import annotations

import hashlib
import math
import re
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from sslcore.data.base import (SPLIT_NAMES, ImageDataset, check_path_exists, dataset_byte_limit, format_bytes,
                               limit_explained, make_split)
from sslcore.io import atomic_write_bytes
from sslcore.paths import data_home

SIZES = (28, 64, 128, 224)
_ZENODO = "https://zenodo.org/records/10519652/files"
# A compressed .npz of a few MB can declare gigabytes of zeros: the sizes its .npy headers declare
# are checked against ``dataset_byte_limit()`` before anything is inflated.
# More classes than this is not a labelled image dataset but a corrupt or crafted label array.
MAX_CLASSES = 1000
ARRAY_NAMES = tuple(f"{split}_{kind}" for split in SPLIT_NAMES for kind in ("images", "labels"))
_ORGAN_LABELS = ["bladder", "femur-left", "femur-right", "heart", "kidney-left", "kidney-right", "liver",
                 "lung-left", "lung-right", "pancreas", "spleen"]


@dataclass(frozen=True)
class MedMNISTInfo:
    """Facts about one 2D MedMNIST dataset, from ``medmnist/info.py``.

    ``task`` is ours: "binary", "multi-class" or "multi-label" (ordinal RetinaMNIST is multi-class).
    ``md5`` holds the checksums of the 28, 64, 128 and 224 px files.
    """

    flag: str
    title: str
    modality: str
    task: str
    label_names: tuple[str, ...]
    channels: int
    licence: str
    md5: tuple[str, str, str, str]

    def file_name(self, size: int) -> str:
        return f"{self.flag}.npz" if size == 28 else f"{self.flag}_{size}.npz"

    def url(self, size: int) -> str:
        return f"{_ZENODO}/{self.file_name(size)}?download=1"


MEDMNIST: dict[str, MedMNISTInfo] = {info.flag: info for info in [
    MedMNISTInfo("pathmnist", "PathMNIST", "colon pathology", "multi-class",
                 ("adipose", "background", "debris", "lymphocytes", "mucus", "smooth muscle", "normal colon mucosa",
                  "cancer-associated stroma", "colorectal adenocarcinoma epithelium"), 3, "CC BY 4.0",
                 ("a8b06965200029087d5bd730944a56c1", "55aa9c1e0525abe5a6b9d8343a507616",
                  "ac42d08fb904d92c244187169d1fd1d9", "2c51a510bcdc9cf8ddb2af93af1eadec")),
    MedMNISTInfo("chestmnist", "ChestMNIST", "chest X-ray", "multi-label",
                 ("atelectasis", "cardiomegaly", "effusion", "infiltration", "mass", "nodule", "pneumonia",
                  "pneumothorax", "consolidation", "edema", "emphysema", "fibrosis", "pleural", "hernia"), 1, "CC BY 4.0",
                 ("02c8a6516a18b556561a56cbdd36c4a8", "9de6cd0b934ebb5b7426cfba5efbae16",
                  "db107e5590b27930b62dbaf558aebee3", "45bd33e6f06c3e8cdb481c74a89152aa")),
    MedMNISTInfo("dermamnist", "DermaMNIST", "dermatoscope", "multi-class",
                 ("actinic keratoses and intraepithelial carcinoma", "basal cell carcinoma",
                  "benign keratosis-like lesions", "dermatofibroma", "melanoma", "melanocytic nevi",
                  "vascular lesions"), 3, "CC BY-NC 4.0",
                 ("0744692d530f8e62ec473284d019b0c7", "b70a2f5635c6199aeaa28c31d7202e1f",
                  "2defd784463fa5243564e855ed717de1", "8974907d8e169bef5f5b96bc506ae45d")),
    MedMNISTInfo("octmnist", "OCTMNIST", "retinal OCT", "multi-class",
                 ("choroidal neovascularization", "diabetic macular edema", "drusen", "normal"), 1, "CC BY 4.0",
                 ("c68d92d5b585d8d81f7112f81e2d0842", "e229e9440236b774d9f0dfef9d07bdaf",
                  "0a97e76651ace45c5d943ee3f65b63ae", "abc493b6d529d5de7569faaef2773ba3")),
    MedMNISTInfo("pneumoniamnist", "PneumoniaMNIST", "chest X-ray", "binary", ("normal", "pneumonia"), 1, "CC BY 4.0",
                 ("28209eda62fecd6e6a2d98b1501bb15f", "8f4eceb4ccffa70c672198ea285246c6",
                  "05b46931834c231683c68f40c47b2971", "d6a3c71de1b945ea11211b03746c1fe1")),
    MedMNISTInfo("retinamnist", "RetinaMNIST", "fundus camera", "multi-class", ("0", "1", "2", "3", "4"), 3, "CC BY 4.0",
                 ("bd4c0672f1bba3e3a89f0e4e876791e4", "afda852cc34dcda56f86ad2b2457dbcc",
                  "e48e916a24454daf90583d4e6efb1a18", "eae7e3b6f3fcbda4ae613ebdcbe35348")),
    MedMNISTInfo("breastmnist", "BreastMNIST", "breast ultrasound", "binary", ("malignant", "normal, benign"), 1,
                 "CC BY 4.0",
                 ("750601b1f35ba3300ea97c75c52ff8f6", "742edef2a1fd1524b2efff4bd7ba9364",
                  "363e4b3f8d712e9b5de15470a2aaadf1", "b56378a6eefa9fed602bb16d192d4c8b")),
    MedMNISTInfo("bloodmnist", "BloodMNIST", "blood cell microscope", "multi-class",
                 ("basophil", "eosinophil", "erythroblast",
                  "immature granulocytes(myelocytes, metamyelocytes and promyelocytes)", "lymphocyte", "monocyte",
                  "neutrophil", "platelet"), 3, "CC BY 4.0",
                 ("7053d0359d879ad8a5505303e11de1dc", "2b94928a2ae4916078ca51e05b6b800b",
                  "adace1e0ed228fccda1f39692059dd4c", "b718ff6835fcbdb22ba9eacccd7b2601")),
    MedMNISTInfo("tissuemnist", "TissueMNIST", "kidney cortex microscope", "multi-class",
                 ("Collecting Duct, Connecting Tubule", "Distal Convoluted Tubule", "Glomerular endothelial cells",
                  "Interstitial endothelial cells", "Leukocytes", "Podocytes", "Proximal Tubule Segments",
                  "Thick Ascending Limb"), 1, "CC BY 4.0",
                 ("ebe78ee8b05294063de985d821c1c34b", "123ece2eba09d0aa5d698fda57103344",
                  "61b955355d7425a89687b06cca3ce0c2", "b077128c4a949f0a4eb01517f9037b9c")),
    MedMNISTInfo("organamnist", "OrganAMNIST", "abdominal CT (axial)", "multi-class", tuple(_ORGAN_LABELS), 1,
                 "CC BY 4.0",
                 ("68e3f8846a6bd62f0c9bf841c0d9eacc", "2dcccc29b88e6da5a01161ef20cda288",
                  "eeae80d0a227a8d099027e1b3cfd3b60", "50747347e05c87dd3aaf92c49f9f3170")),
    MedMNISTInfo("organcmnist", "OrganCMNIST", "abdominal CT (coronal)", "multi-class", tuple(_ORGAN_LABELS), 1,
                 "CC BY 4.0",
                 ("b9ceb9546e10131b32923c5bbeaea2b1", "3ce34a8724ea6f548e6db4744d03b6a9",
                  "773c1f009daa3fe5d9a2a201b2a7ed94", "050f5e875dc056f6768abf94ec9995d1")),
    MedMNISTInfo("organsmnist", "OrganSMNIST", "abdominal CT (sagittal)", "multi-class", tuple(_ORGAN_LABELS), 1,
                 "CC BY 4.0",
                 ("9ab87b696fb54e2a387ebe992d6ed5f1", "53a6d115339d874c25e309a994ff46d3",
                  "ded0c5fa01a95dc4978b956f613e9b8e", "b354719e553fbbb2513d5533f52a4cb1")),
]}


def cache_dir() -> Path:
    """Where downloaded MedMNIST files live: ``data_home()/datasets/medmnist``."""
    return data_home() / "datasets" / "medmnist"


def _check_size(size: int) -> None:
    if size not in SIZES:
        raise ValueError(f"MedMNIST image size must be one of {SIZES}, got {size!r}")


def _info(flag: str) -> MedMNISTInfo:
    if flag not in MEDMNIST:
        raise ValueError(f"unknown MedMNIST flag {flag!r}; known: {', '.join(MEDMNIST)}")
    return MEDMNIST[flag]


def cached_path(flag: str, size: int = 28) -> Path:
    """The cache path of a MedMNIST file (which may not exist yet)."""
    _check_size(size)
    return cache_dir() / _info(flag).file_name(size)


def cached_files() -> list[tuple[str, int, Path]]:
    """(flag, size, path) of each MedMNIST file present in the cache."""
    found = []
    for flag, info in MEDMNIST.items():
        for size in SIZES:
            path = cache_dir() / info.file_name(size)
            if path.exists():
                found.append((flag, size, path))
    return found


def flag_from_path(path: Path) -> str | None:
    """The MedMNIST flag a file name stands for ("pneumoniamnist_64.npz" -> "pneumoniamnist"), or None."""
    match = re.fullmatch(r"([a-z]+mnist)(?:_\d+)?", path.stem.lower())
    return match.group(1) if match and match.group(1) in MEDMNIST else None


@dataclass(frozen=True)
class _Declared:
    """What the ``.npy`` header of one array of the archive declares."""

    member: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype
    header_bytes: int

    @property
    def n_bytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def describe(self) -> str:
        return f"shape {self.shape} {self.dtype}, {format_bytes(self.n_bytes)}"


def _read_header(archive: zipfile.ZipFile, member: zipfile.ZipInfo, what: str) -> _Declared:
    with archive.open(member) as stream:
        try:
            version = npy_format.read_magic(stream)
        except ValueError:
            raise ValueError(f"{what} is not a .npy array") from None
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"{what} is in .npy format {version[0]}.{version[1]}; only 1.0 and 2.0 are read")
        read = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        try:
            shape, _, dtype = read(stream)
        except ValueError as error:
            raise ValueError(f"{what} has an unreadable .npy header: {error}") from None
        if any(n < 0 for n in shape):
            raise ValueError(f"{what} declares the impossible shape {shape}")
        return _Declared(member, tuple(shape), dtype, stream.tell())


def _chw(shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """(C, H, W) of an images array laid out as ``make_split`` accepts, else None."""
    if len(shape) == 3:
        return (1, *shape[1:])
    if len(shape) == 4 and shape[-1] in (1, 3) and shape[1] not in (1, 3):
        return (shape[-1], *shape[1:3])
    if len(shape) == 4 and shape[1] in (1, 3):
        return shape[1:]
    return None


def _check_declared(path: Path, declared: dict[str, _Declared]) -> None:
    """Refuse, from the headers alone, arrays too large for memory or of the wrong kind or shape."""
    limit = dataset_byte_limit()
    name, biggest = max(declared.items(), key=lambda item: item[1].n_bytes)
    if biggest.n_bytes > limit:
        raise ValueError(f"{path}: array {name} declares {biggest.describe()}; the limit is {limit_explained()}")
    total = sum(d.n_bytes for d in declared.values())
    if total > limit:
        raise ValueError(f"{path}: its arrays declare {format_bytes(total)} together (the largest, {name}, "
                         f"{biggest.describe()}); the limit is {limit_explained()}")
    for name, d in declared.items():
        if d.dtype.hasobject or d.dtype.fields is not None or d.dtype.kind not in "biuf":
            raise ValueError(f"{path}: array {name} holds {d.dtype} values; images and labels must be numbers")
        if d.n_bytes > d.member.file_size - d.header_bytes:
            raise ValueError(f"{path}: array {name} declares {d.describe()} but holds only "
                             f"{format_bytes(max(d.member.file_size - d.header_bytes, 0))} (truncated?)")
    image_shapes, label_shapes = {}, {}
    for split in SPLIT_NAMES:
        images, labels = declared[f"{split}_images"].shape, declared[f"{split}_labels"].shape
        chw = _chw(images)
        if chw is None:
            raise ValueError(f"{path}: {split}_images must be (N, H, W) or (N, H, W, 1|3), got shape {images}")
        if chw[1] != chw[2] or chw[1] == 0:
            raise ValueError(f"{path}: {split}_images are {chw[1]}x{chw[2]} px; images must be square")
        if len(labels) not in (1, 2) or (len(labels) == 2 and not 1 <= labels[1] <= MAX_CLASSES):
            raise ValueError(f"{path}: {split}_labels must be (N,), (N, 1) or (N, L) with L at most "
                             f"{MAX_CLASSES}, got shape {labels}")
        if images[0] != labels[0]:
            raise ValueError(f"{path} [{split}]: {images[0]} images but {labels[0]} labels")
        if images[0] == 0:
            raise ValueError(f"{path}: the {split} split has no images")
        image_shapes[split] = chw
        label_shapes[split] = labels[1:] if labels[1:] != (1,) else ()
    if len(set(image_shapes.values())) > 1:
        raise ValueError(f"{path}: splits have images of different shapes {image_shapes}")
    if len(set(label_shapes.values())) > 1:
        raise ValueError(f"{path}: splits have labels of different shapes {label_shapes}")


def _check_labels(path: Path, labels: dict[str, np.ndarray]) -> int:
    """The number of classes (labels per image for multi-label) the label arrays hold; ValueError
    for negative, fractional or too large class indices and for multi-label values other than 0/1."""
    multi_label = labels["train"].ndim == 2 and labels["train"].shape[1] > 1
    for split, values in labels.items():
        if values.dtype.kind == "f" and not np.array_equal(values, np.floor(values)):
            raise ValueError(f"{path}: {split}_labels hold fractional values; labels must be whole numbers")
        if multi_label and not np.isin(values, (0, 1)).all():
            raise ValueError(f"{path}: {split}_labels of a multi-label dataset must be 0 or 1")
        if values.min() < 0:
            raise ValueError(f"{path}: {split}_labels hold {values.min():g}; class indices start at 0")
        if not multi_label and values.max() >= MAX_CLASSES:
            raise ValueError(f"{path}: {split}_labels reach {values.max():,.0f}; at most {MAX_CLASSES:,} classes "
                             f"are supported (class indices 0..{MAX_CLASSES - 1})")
    if multi_label:
        return labels["train"].shape[1]
    return max(int(values.max()) for values in labels.values()) + 1


def load_npz(path: str | Path, *, image_size: int | None = None) -> ImageDataset:
    """Read a MedMNIST-layout ``.npz`` file.

    The ``.npy`` headers are read first: arrays declaring more than ``dataset_byte_limit()`` bytes
    together, or of the wrong dtype or shape, are refused before anything is inflated; the labels
    are read and checked (at most MAX_CLASSES classes) before the images.

    Args:
        path: the file; metadata (task, label names, licence) comes from the MedMNIST table when the
            file name starts with a known flag, otherwise it is inferred from the labels.
        image_size: if given, must match the file's image size.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable ``.npz``, lacks an array, declares too much data,
            holds arrays of the wrong kind or shape, or arrays disagree.
    """
    path = Path(path)
    check_path_exists(path, "MedMNIST file")
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename[:-len(".npy")]: info for info in archive.infolist()
                       if info.filename.endswith(".npy")}
            missing = [name for name in ARRAY_NAMES if name not in members]
            if missing:
                raise ValueError(f"{path}: missing array(s) {', '.join(missing)}; found "
                                 f"{', '.join(sorted(members)) or 'no .npy arrays'}")
            declared = {name: _read_header(archive, members[name], f"{path}: array {name}") for name in ARRAY_NAMES}
            _check_declared(path, declared)

            def read(name: str) -> np.ndarray:
                with archive.open(members[name]) as stream:
                    try:
                        return npy_format.read_array(stream, allow_pickle=False)
                    except ValueError as error:
                        raise ValueError(f"{path}: array {name} could not be read (corrupt or truncated?): "
                                         f"{error}") from None

            labels = {split: read(f"{split}_labels") for split in SPLIT_NAMES}
            n_found = _check_labels(path, labels)
            splits = {split: make_split(read(f"{split}_images"), labels[split], None, f"{path} [{split}]")
                      for split in SPLIT_NAMES}
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as error:
        # RuntimeError: an encrypted member; NotImplementedError: an unknown compression method
        raise ValueError(f"{path}: not a readable .npz file (corrupt or truncated?): {error}") from error
    size = splits["train"].images.shape[-1]
    if image_size is not None and image_size != size:
        raise ValueError(f"{path} holds {size} px images, not {image_size} px; "
                         f"download the {image_size} px file or leave image_size unset")

    flag = flag_from_path(path)
    multi_label = splits["train"].labels.ndim == 2
    if flag is not None:
        info = MEDMNIST[flag]
        task, label_names, licence = info.task, list(info.label_names), info.licence
        description = (f"{info.title} ({info.modality}) from MedMNIST v2 (Yang et al., 2023), {size} px, "
                       f"read from {path}.")
        if (multi_label and n_found != len(label_names)) or n_found > len(label_names):
            raise ValueError(f"{path}: labels have {n_found} classes but {info.title} has {len(label_names)}")
    else:
        task = "multi-label" if multi_label else ("binary" if n_found == 2 else "multi-class")
        label_names = [f"class {i}" for i in range(n_found)]
        licence = "unknown (not a MedMNIST file name)"
        description = f"Images in MedMNIST .npz layout read from {path}, {size} px."
    return ImageDataset(name=flag or path.stem, task=task, label_names=label_names, splits=splits,
                        licence=licence, description=description, synthetic=False)


def download(flag: str, size: int = 28, *, timeout: float = 60.0) -> Path:
    """Download a MedMNIST file from Zenodo into the cache, check its MD5 and write it atomically.

    Returns the cached path (at once if already there).

    Raises:
        OSError: offline or the download failed; the message names the file and where to put it.
        ValueError: the downloaded file's checksum is wrong.
    """
    info = _info(flag)
    path = cached_path(flag, size)
    if path.exists():
        return path
    url = info.url(size)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise OSError(f"could not download {info.file_name(size)} from {url} ({error}). "
                      f"Download it by hand and put it at {path}") from error
    digest = hashlib.md5(data).hexdigest()
    expected = info.md5[SIZES.index(size)]
    if digest != expected:
        raise ValueError(f"downloaded {info.file_name(size)} has MD5 {digest}, expected {expected}; not saved")
    return atomic_write_bytes(path, data)


def load_medmnist(flag: str, *, image_size: int | None = None) -> ImageDataset:
    """Load a MedMNIST dataset by flag from the cache.

    Raises:
        FileNotFoundError: the file is not cached; the message says how to get it.
    """
    size = image_size or 28
    path = cached_path(flag, size)
    if not path.exists():
        raise FileNotFoundError(
            f"{_info(flag).file_name(size)} is not in the dataset cache. Run "
            f"`python -m sslcore datasets download {flag} --size {size}` or put the file at {path}")
    return load_npz(path, image_size=size)
