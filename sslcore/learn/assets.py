"""The Learn page's models and curve: trained once by ``python -m sslcore learn build-assets``
(:func:`build_assets`), shipped in float16 in ``sslcore/assets/learn/`` with a manifest of how they
were made, and loaded by the page (:func:`load_assets`)."""

from __future__ import annotations

import datetime
import json
import io
import platform
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from sslcore.experiments.config import ExperimentConfig
from sslcore.learn.mae_demo import MAERecipe, MAEArchitecture, reconstruct, train_mae
from sslcore.learn.rotation_demo import guess_rotations
from sslcore.methods.mae import MAE
from sslcore.training.config import PretrainConfig

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets" / "learn"
MANIFEST_FILE = "manifest.json"
CURVE_FILE = "curve_points.json"
SIMCLR_FILE = "simclr_small_cnn.pt"
ROTATION_FILE = "rotation_small_cnn.pt"
MAE_FILE = "mae_small_vit.pt"
BUILD_COMMAND = "python -m sslcore learn build-assets"


def default_experiment() -> ExperimentConfig:
    """The experiment whose curve and SimCLR encoder ship: the ``cpu-quick`` preset on the synthetic set."""
    from sslcore.experiments.presets import preset

    return preset("cpu-quick", "synthetic")


def default_rotation() -> PretrainConfig:
    """The shipped rotation model: a small CNN on 64 px synthetic radiographs."""
    return PretrainConfig(method="rotation", backbone="small_cnn", image_size=64, epochs=4, batch_size=128,
                          lr=2e-3, augment="light", knn_monitor=False, device="cpu",
                          dataset_options={"n_images": 4000})


@dataclass(frozen=True)
class AssetRecipe:
    """What ``build-assets`` trains. The defaults are what ships; tests pass tiny ones.

    Attributes:
        experiment: SimCLR pretraining + label-efficiency sweep (the curve and the similarity encoder).
        rotation: the rotation model; its ``dataset``, ``image_size``, ``seed`` and ``dataset_options``
            also give the images the masked autoencoder trains on.
        mae: the masked autoencoder (its architecture's image size must equal the rotation model's).
    """

    experiment: ExperimentConfig = field(default_factory=default_experiment)
    rotation: PretrainConfig = field(default_factory=default_rotation)
    mae: MAERecipe = field(default_factory=MAERecipe)

    def __post_init__(self) -> None:
        if self.mae.architecture.image_size != self.rotation.image_size:
            raise ValueError(f"the masked autoencoder ({self.mae.architecture.image_size} px) and the rotation "
                             f"model ({self.rotation.image_size} px) train on the same images: use one size")


def _half(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating-point tensors as float16 (half the bytes; loading casts them back)."""
    return {key: value.half() if value.is_floating_point() else value for key, value in state.items()}


def _save(path: Path, state: dict[str, Any]) -> int:
    from sslcore.io import atomic_write_bytes

    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return len(buffer.getvalue())


def _pretrained_state(result, dataset) -> dict[str, Any]:
    """A checkpoint ``sslcore.training.load_pretrained`` reads, in float16 and without optimiser state."""
    return {"model": _half(result.method.state_dict()), "config": result.config.to_dict(),
            "history": result.history,
            "dataset": {"channels": dataset.channels, "n_classes": dataset.n_classes, "task": dataset.task,
                        "label_names": list(dataset.label_names), "name": dataset.name}}


def build_assets(out_dir: str | Path | None = None, recipe: AssetRecipe | None = None,
                 on_message: Callable[[str], None] = print) -> dict[str, Any]:
    """Train and save what the Learn page shows; the manifest says how each file was made.

    Writes :data:`CURVE_FILE` (every evaluation point of the SimCLR experiment),
    :data:`SIMCLR_FILE` and :data:`ROTATION_FILE` (float16 checkpoints ``load_pretrained`` reads),
    :data:`MAE_FILE` (float16 weights of the teaching masked autoencoder) and :data:`MANIFEST_FILE`,
    replacing the folder's previous content as a whole once everything is built. Only an empty or
    new folder, or one a previous build wrote (its manifest names :data:`BUILD_COMMAND`), is
    replaced: files a user keeps elsewhere are never deleted.

    Args:
        out_dir: where to write (:data:`ASSETS_DIR`, what ships, when None).
        recipe: what to train; :class:`AssetRecipe` defaults when None.
        on_message: receives progress lines.

    Returns:
        The manifest.

    Raises:
        ValueError: ``out_dir`` is a file, or a non-empty folder that no previous build wrote.
    """
    recipe = recipe or AssetRecipe()
    target = Path(out_dir or ASSETS_DIR)
    _check_replaceable(target)
    # Everything is written to a staging folder that replaces the target at the end, so a build that
    # fails half-way (or is interrupted) leaves the previous set whole rather than mixed with new files.
    # An unwritable destination fails here, not after minutes of training.
    target.parent.mkdir(parents=True, exist_ok=True)
    out_dir = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    try:
        manifest = _build_into(out_dir, recipe, on_message)
        _replace_folder(out_dir, target)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    on_message(f"wrote {len(manifest['bytes']) + 1} files ({sum(manifest['bytes'].values()) / 2 ** 20:.1f} MB) to "
               f"{target} in {manifest['timings']['total_s'] / 60:.1f} min")
    return manifest


def is_asset_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a set :func:`build_assets` wrote: a manifest naming its command."""
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("command") == BUILD_COMMAND


def _check_replaceable(target: Path) -> None:
    """Refuse to replace a file, or a folder with content that no previous build wrote."""
    if target.exists() and not target.is_dir():
        raise ValueError(f"{target} is a file; give build-assets a folder to write")
    if target.is_dir() and any(target.iterdir()) and not is_asset_folder(target):
        raise ValueError(f"{target} is not empty and holds no Learn assets (no {MANIFEST_FILE} written by "
                         f"`{BUILD_COMMAND}`); nothing was changed. Choose an empty or new folder")


def _replace_folder(new: Path, target: Path) -> None:
    """Put folder ``new`` in the place of ``target`` (a reader finds the old set, the new one or none)."""
    old = target.with_name(f".{target.name}.old-{secrets.token_hex(6)}")  # a new name: nothing else is removed
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _build_into(out_dir: Path, recipe: AssetRecipe, on_message: Callable[[str], None]) -> dict[str, Any]:
    """:func:`build_assets`'s training and writing, into ``out_dir``."""
    from sslcore.data import load_dataset
    from sslcore.experiments.runner import run_experiment
    from sslcore.io import atomic_write_json
    from sslcore.training import pretrain

    started = time.perf_counter()
    timings: dict[str, float] = {}
    files: dict[str, int] = {}

    experiment = recipe.experiment
    on_message(f"1/3 {experiment.pretrain.method} on {experiment.pretrain.dataset} with the label-efficiency sweep")
    result = run_experiment(experiment, on_progress=_epoch_printer(on_message, "simclr"))
    timings.update({f"experiment_{key}": value for key, value in result.timings.items()})
    files[CURVE_FILE] = atomic_write_json(out_dir / CURVE_FILE, result.points).stat().st_size
    files[SIMCLR_FILE] = _save(out_dir / SIMCLR_FILE, _pretrained_state(result.pretrain, result.dataset))

    rotation_config = recipe.rotation
    on_message(f"2/3 rotation prediction, {rotation_config.backbone}, {rotation_config.image_size} px")
    tick = time.perf_counter()
    images = load_dataset(rotation_config.dataset, image_size=rotation_config.image_size, seed=rotation_config.seed,
                          **rotation_config.dataset_options)
    timings["teaching_data_s"] = time.perf_counter() - tick
    tick = time.perf_counter()
    rotation = pretrain(rotation_config, dataset=images, on_progress=_epoch_printer(on_message, "rotation"))
    timings["rotation_s"] = time.perf_counter() - tick
    files[ROTATION_FILE] = _save(out_dir / ROTATION_FILE, _pretrained_state(rotation, images))
    test_images = images.splits["test"].images
    rotation_accuracy = guess_rotations(rotation.method.cpu(), test_images).accuracy

    on_message(f"3/3 masked autoencoder, {recipe.mae.architecture.image_size} px")
    tick = time.perf_counter()
    mae, mae_history = train_mae(recipe.mae, images.splits["train"].images,
                                 on_epoch=lambda epoch, loss: on_message(f"  mae epoch {epoch}/{recipe.mae.epochs}"
                                                                         f"  loss {loss:.4f}"))
    timings["mae_s"] = time.perf_counter() - tick
    files[MAE_FILE] = _save(out_dir / MAE_FILE, {"model": _half(mae.state_dict()), "recipe": recipe.mae.to_dict()})
    reconstruction = reconstruct(mae, test_images, seed=0)
    timings["total_s"] = time.perf_counter() - started

    manifest = {
        "command": BUILD_COMMAND,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__, "python": platform.python_version(),
        "device": result.pretrain.device, "timings": timings, "bytes": files,
        "experiment": {"config": experiment.to_dict(), "file": CURVE_FILE, "encoder": SIMCLR_FILE,
                       "n_points": len(result.points), "final_loss": _last_loss(result.pretrain.history),
                       "knn_accuracy": _last_knn(result.pretrain.history), "comparisons": result.comparisons},
        "rotation": {"config": rotation_config.to_dict(), "file": ROTATION_FILE,
                     "final_loss": _last_loss(rotation.history), "test_accuracy": rotation_accuracy,
                     "test_images": len(test_images)},
        "mae": {"recipe": recipe.mae.to_dict(), "file": MAE_FILE, "final_loss": mae_history[-1]["loss"],
                "test_error": float(reconstruction.error.mean()),
                "test_baseline_error": float(reconstruction.baseline_error.mean()),
                "test_images": len(test_images)},
        "model_images": {"dataset": rotation_config.dataset, "image_size": rotation_config.image_size,
                         "seed": rotation_config.seed, "n_images": sum(map(len, images.splits.values()))},
    }
    atomic_write_json(out_dir / MANIFEST_FILE, manifest)
    return manifest


def _epoch_printer(on_message: Callable[[str], None], name: str) -> Callable:
    """A ``pretrain`` progress callback that reports each epoch's end (the report carrying its collapse score)."""
    def report(progress) -> None:
        if progress.collapse_score is not None and progress.epoch == 0:
            on_message(f"  {name} before pretraining: kNN accuracy {progress.knn_accuracy:.3f}")
        elif progress.collapse_score is not None:
            knn = f"  kNN accuracy {progress.knn_accuracy:.3f}" if progress.knn_accuracy is not None else ""
            on_message(f"  {name} epoch {progress.epoch}/{progress.epochs}  loss {progress.loss:.4f}{knn}")
    return report


def _last_loss(history: list[dict[str, Any]]) -> float | None:
    return next((row["loss"] for row in reversed(history) if "loss" in row), None)


def _last_knn(history: list[dict[str, Any]]) -> float | None:
    return next((row["knn_accuracy"] for row in reversed(history) if row.get("knn_accuracy") is not None), None)


@dataclass
class LearnAssets:
    """The shipped models and points, loaded.

    Attributes:
        manifest: how they were made (:func:`build_assets`'s manifest).
        points: every evaluation point of the SimCLR experiment.
        simclr: the pretrained SimCLR method (``sslcore.training.PretrainResult``), eval mode.
        rotation: the pretrained rotation model (``PretrainResult``), eval mode.
        mae_state: the masked autoencoder's (float16) weights, for :meth:`mae`.
        mae_recipe: how it was built and trained.
    """

    manifest: dict[str, Any]
    points: list[dict[str, Any]]
    simclr: Any
    rotation: Any
    mae_state: dict[str, torch.Tensor]
    mae_recipe: MAERecipe

    def mae(self, mask_ratio: float | None = None) -> MAE:
        """The trained masked autoencoder hiding ``mask_ratio`` of the patches (its training ratio when None).

        The weights do not depend on the ratio, so one trained model shows any ratio.
        """
        model = self.mae_recipe.architecture.build(self.mae_recipe.mask_ratio if mask_ratio is None else mask_ratio)
        model.load_state_dict(self.mae_state)
        return model.eval()


def load_manifest(directory: str | Path | None = None) -> dict[str, Any]:
    """The assets' manifest (in :data:`ASSETS_DIR` when ``directory`` is None).

    Raises:
        FileNotFoundError: not built yet (the message gives the command that builds them).
        ValueError: unreadable.
    """
    path = Path(directory or ASSETS_DIR) / MANIFEST_FILE
    if not path.exists():
        raise FileNotFoundError(f"the Learn page's assets are not built ({path} is missing); run `{BUILD_COMMAND}`")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); rebuild with `{BUILD_COMMAND}`") from None


def load_assets(directory: str | Path | None = None) -> LearnAssets:
    """Load everything :func:`build_assets` wrote in ``directory`` (:data:`ASSETS_DIR` when None).

    Raises:
        FileNotFoundError: a file is missing (the message gives the command that builds them).
        ValueError: a file is unreadable.
    """
    from sslcore.training import load_checkpoint, load_pretrained

    directory = Path(directory or ASSETS_DIR)
    manifest = load_manifest(directory)
    missing = [name for name in (CURVE_FILE, SIMCLR_FILE, ROTATION_FILE, MAE_FILE) if not (directory / name).exists()]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} missing from {directory}; run `{BUILD_COMMAND}`")
    points = json.loads((directory / CURVE_FILE).read_text(encoding="utf-8"))
    mae = load_checkpoint(directory / MAE_FILE)
    recipe = mae["recipe"]
    mae_recipe = MAERecipe(**{**recipe, "architecture": MAEArchitecture(**recipe["architecture"])})
    return LearnAssets(manifest=manifest, points=points, simclr=load_pretrained(directory / SIMCLR_FILE),
                       rotation=load_pretrained(directory / ROTATION_FILE),
                       mae_state=mae["model"], mae_recipe=mae_recipe)


def provenance(manifest: dict[str, Any]) -> dict[str, str]:
    """Where each picture's numbers come from, one sentence per asset (``curve``, ``rotation``, ``mae``)."""
    from sslcore.experiments.estimate import format_duration

    made = (f"computed by the project with `{manifest['command']}` on {manifest['created'][:10]} "
            f"(torch {manifest['torch']}, {manifest['device']})")
    timings = manifest["timings"]
    experiment = manifest["experiment"]["config"]
    evaluation = experiment["evaluation"]
    n_images = f"{experiment['max_train_images']:,}" if experiment.get("max_train_images") else "all"
    rotation = manifest["rotation"]["config"]
    mae = manifest["mae"]["recipe"]
    architecture = mae["architecture"]
    data = manifest["model_images"]
    images = f"{data['n_images']:,} synthetic {data['image_size']} px radiographs (seed {data['seed']})"
    return {
        "curve": (f"{made}: {experiment['method']} pretraining of a {experiment['backbone']} for "
                  f"{experiment['epochs']} epochs on {n_images} synthetic {experiment['image_size']} px training "
                  f"images, then {' and '.join(evaluation['protocols'])} probes at "
                  f"{len(evaluation['fractions'])} label fractions x {len(evaluation['seeds'])} seeds against the "
                  f"{' and '.join(evaluation['baselines'])} baselines "
                  f"({format_duration(timings['experiment_total_s'])})."),
        "rotation": (f"{made}: rotation prediction with a {rotation['backbone']} trained for {rotation['epochs']} "
                     f"epochs on the training split of {images} ({format_duration(timings['rotation_s'])})."),
        "mae": (f"{made}: a masked autoencoder (a Vision Transformer of {architecture['depth']} layers, "
                f"{architecture['embed_dim']}-wide tokens, predicting raw pixels) trained for {mae['epochs']} epochs "
                f"hiding {mae['mask_ratio']:.0%} of the tiles, on the training split of {images} "
                f"({format_duration(timings['mae_s'])})."),
    }
