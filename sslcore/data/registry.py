"""``load_dataset``: one entry point for every kind of dataset, and the list of what is available."""

from __future__ import annotations

from pathlib import Path

from sslcore.data.base import ImageDataset

SYNTHETIC = "synthetic"


def load_dataset(spec: str, *, image_size: int | None = None, seed: int = 0, **options) -> ImageDataset:
    """Load a dataset.

    Args:
        spec: "synthetic", a MedMNIST flag ("pneumoniamnist", read from the cache), a path to a
            ``.npz`` in MedMNIST layout, or a path to a folder of class sub-folders.
        image_size: pixels per side. Synthetic: 28, 32, 64 or 128 (default 32). MedMNIST: picks the
            28 / 64 / 128 / 224 file (default 28). Folder: resizes every image (default: keep).
        seed: seeds generation (synthetic) and the split by patient (folder).
        **options: synthetic only: ``n_images``.

    Raises:
        ValueError: unknown spec or option, or a bad file (see the loaders).
        FileNotFoundError: a path or a MedMNIST file that is not there.
    """
    from sslcore.data.npz import MEDMNIST, load_medmnist, load_npz

    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"dataset spec must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    if spec == SYNTHETIC:
        unknown = set(options) - {"n_images"}
        if unknown:
            raise ValueError(f"unknown option(s) for the synthetic dataset: {', '.join(sorted(unknown))}")
        from sslcore.data.synthetic_cxr import DEFAULT_IMAGE_SIZE, make_synthetic_cxr

        return make_synthetic_cxr(image_size=image_size or DEFAULT_IMAGE_SIZE, seed=seed, **options)
    if options:
        raise ValueError(f"dataset {spec!r} takes no options, got {', '.join(sorted(options))}")
    if spec.lower() in MEDMNIST:
        return load_medmnist(spec.lower(), image_size=image_size)
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".npz":
        return load_npz(path, image_size=image_size)
    if path.is_dir():
        from sslcore.data.folder import load_folder

        return load_folder(path, image_size=image_size, seed=seed)
    raise (FileNotFoundError if not path.exists() else ValueError)(
        f"unknown dataset {spec!r}: expected 'synthetic', a MedMNIST flag ({', '.join(MEDMNIST)}), "
        f"a .npz file or an image folder"
    )


def list_datasets() -> list[dict]:
    """What can be loaded: the synthetic set, each MedMNIST flag (with the sizes in the cache)."""
    from sslcore.data.npz import MEDMNIST, cached_files

    cached: dict[str, list[int]] = {}
    for flag, size, _ in cached_files():
        cached.setdefault(flag, []).append(size)
    rows = [{"name": SYNTHETIC, "kind": "built-in", "task": "multi-class", "classes": 5,
             "licence": "CC0 (synthetic)", "cached_sizes": [28, 32, 64, 128],
             "description": "synthetic chest radiographs, generated on the fly"}]
    for flag, info in MEDMNIST.items():
        rows.append({"name": flag, "kind": "MedMNIST", "task": info.task, "classes": len(info.label_names),
                     "licence": info.licence, "cached_sizes": cached.get(flag, []),
                     "description": f"{info.title}: {info.modality}"})
    return rows


def dataset_choices() -> dict[str, str]:
    """What the Lab can load without a download, spec -> label: the synthetic set, MedMNIST files in the
    cache (one entry per size), and the ``.npz`` files of a developer's ``../shared/data``."""
    from sslcore.data.npz import MEDMNIST, cached_files
    from sslcore.paths import SHARED_DIR

    choices = {SYNTHETIC: "synthetic chest radiographs (built in)"}
    for flag, size, path in cached_files():
        choices[str(path)] = f"{MEDMNIST[flag].title} ({size} px, downloaded)"
    for path in sorted((SHARED_DIR / "data").glob("*.npz")):
        choices[str(path)] = f"{path.name} (shared data folder)"
    return choices
