"""An experiment's configuration: what to pretrain (:class:`PretrainConfig`) and how to judge it.

Stored flat, as a run's ``config.yaml``: the pretraining keys plus an ``evaluation`` mapping, so
that ``python -m sslcore experiment --config config.yaml`` replays any run.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from sslcore.augment import PRESETS as AUGMENT_PRESETS
from sslcore.evaluate.vocabulary import BASELINES, FRACTIONS, PROTOCOLS, SEEDS
from sslcore.training.config import PretrainConfig


@dataclass
class EvaluationConfig:
    """How the pretrained backbone is judged.

    Attributes:
        protocols: protocols applied to the pretrained backbone (``linear``, ``knn``, ``finetune``).
        fractions: fractions of the training labels to use, each drawn stratified per seed.
        seeds: one labelled subset, one initialisation of each baseline and one fine-tune per seed
            and fraction.
        baselines: ``supervised`` (the same network trained from scratch on the same subsets, with
            the same fine-tuning budget, learning-rate grid and augmentation as SSL fine-tuning) and
            ``random`` (a frozen randomly initialised backbone, linear and kNN).
        finetune_epochs: fine-tuning budget in passes over the labelled images (early stopping on
            validation AUC ends it sooner).
        finetune_lrs: the learning rates fine-tuning (and training from scratch) tries, choosing on
            validation.
        finetune_augment: the augmentation preset of fine-tuning and of training from scratch alike.
        finetune_batch_size: images per fine-tuning step.
        finetune_max_steps: a safety cap on the steps of one fine-tune (not the budget).
        pretrain_seeds: pretraining runs (model seeds ``seed``, ``seed + 1`` ...), pooled in the
            paired intervals.
    """

    protocols: tuple[str, ...] = ("linear", "knn")
    fractions: tuple[float, ...] = FRACTIONS
    seeds: tuple[int, ...] = SEEDS
    baselines: tuple[str, ...] = BASELINES
    finetune_epochs: float = 30.0
    finetune_lrs: tuple[float, ...] = (3e-4, 1e-3, 3e-3)
    finetune_augment: str = "light"
    finetune_max_steps: int = 3000
    finetune_batch_size: int = 64
    pretrain_seeds: int = 1

    def __post_init__(self) -> None:
        self.protocols, self.fractions = tuple(self.protocols), tuple(float(f) for f in self.fractions)
        self.seeds, self.baselines = tuple(int(s) for s in self.seeds), tuple(self.baselines)
        self.finetune_lrs = tuple(float(lr) for lr in self.finetune_lrs)
        problems = []
        if not self.protocols or set(self.protocols) - set(PROTOCOLS):
            problems.append(f"protocols must be a non-empty subset of {PROTOCOLS}, got {self.protocols}")
        if set(self.baselines) - set(BASELINES):
            problems.append(f"baselines must be a subset of {BASELINES}, got {self.baselines}")
        if not self.fractions or not all(0 < f <= 1 for f in self.fractions):
            problems.append(f"fractions must lie in (0, 1], got {self.fractions}")
        if not self.seeds:
            problems.append("at least one seed is needed")
        if self.finetune_batch_size < 2:
            problems.append(f"finetune_batch_size must be at least 2, got {self.finetune_batch_size}")
        if self.finetune_max_steps < 1:
            problems.append(f"finetune_max_steps must be at least 1, got {self.finetune_max_steps}")
        if not self.finetune_epochs > 0 or not self.finetune_lrs or min(self.finetune_lrs) <= 0:
            problems.append(f"finetune_epochs and every finetune_lrs must be positive, got {self.finetune_epochs} "
                            f"and {self.finetune_lrs}")
        if self.finetune_augment not in AUGMENT_PRESETS:
            problems.append(f"finetune_augment must be one of {AUGMENT_PRESETS}, got {self.finetune_augment!r}")
        if not 1 <= self.pretrain_seeds <= 10:
            problems.append(f"pretrain_seeds must be between 1 and 10, got {self.pretrain_seeds}")
        if problems:
            raise ValueError("invalid evaluation config: " + "; ".join(problems))

    def finetune_config(self) -> dict[str, Any]:
        """The ``FinetuneConfig`` fields this evaluation sets."""
        return {"epochs": self.finetune_epochs, "lr_grid": self.finetune_lrs, "max_steps": self.finetune_max_steps,
                "batch_size": self.finetune_batch_size}

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


@dataclass
class ExperimentConfig:
    """A pretraining config plus how to evaluate it; stored flat (pretraining keys + ``evaluation``)."""

    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)

    def to_dict(self) -> dict[str, Any]:
        return {**self.pretrain.to_dict(), "evaluation": self.evaluation.to_dict()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ExperimentConfig":
        values = dict(values)
        evaluation = values.pop("evaluation", {}) or {}
        known = {f.name for f in dataclasses.fields(EvaluationConfig)}
        unknown = sorted(set(evaluation) - known)
        if unknown:
            raise ValueError(f"unknown evaluation keys: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(PretrainConfig.from_dict(values), EvaluationConfig(**evaluation))


# --- validation at the boundary --------------------------------------------------------------------
#
# Every way a config enters (the CLI's pretrain / experiment / experiment --queue, RunStore.create_run
# for experiments, the Lab) goes through validate_experiment (or validate_pretrain), which checks
# types, ranges and cross-field rules at once and names every problem in one sentence each. The upper
# bounds are what one machine can run in a day and what the Lab's widgets offer; a larger value is
# far more likely a typo (``epochs: 10**9``) than a wish, and would hold the queue for ever.

MAX_IMAGE_SIZE = 512  # px: the Lab's largest; 224 px is the largest MedMNIST file
MAX_EPOCHS = 1000
MAX_BATCH_SIZE = 4096
MAX_LR = 1.0
MAX_WEIGHT_DECAY = 1.0
MAX_TEMPERATURE = 10.0
MAX_SEED = 2**31 - 1
MAX_TRAIN_IMAGES = 10_000_000
MAX_SYNTHETIC_IMAGES = 100_000  # 1.6 GB of 128 px images, drawn in about 90 s
MAX_FRACTIONS = 10
MAX_SEEDS = 10
MAX_FINETUNE_EPOCHS = 1000.0
MAX_FINETUNE_LRS = 5
MAX_FINETUNE_STEPS = 100_000
MAX_METHOD_INT = 65_536  # widths, queue length, depth ... of a method's heads
MAX_METHOD_FLOAT = 10.0


class ConfigError(ValueError):
    """A config that cannot run; ``problems`` holds one sentence per problem, the message all of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(" ".join(self.problems))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Checker:
    """Collects one sentence per problem while reading raw values (YAML, JSON, form fields)."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, sentence: str) -> None:
        self.problems.append(sentence)

    def integer(self, name: str, value: Any, low: int, high: int) -> int | None:
        whole = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and math.isfinite(value) and value.is_integer())
        if not whole or not low <= value <= high:
            self.fail(f"{name} must be a whole number from {low:,} to {high:,}, got {_shown(value)}.")
            return None
        return int(value)

    def number(self, name: str, value: Any, low: float, high: float, *, low_open: bool = False) -> float | None:
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not is_number or value > high or value < low or (low_open and value == low):
            bound = f"greater than {low:g} and at most {high:g}" if low_open else f"from {low:g} to {high:g}"
            self.fail(f"{name} must be a number {bound}, got {_shown(value)}.")
            return None
        return float(value)

    def choice(self, name: str, value: Any, choices) -> str | None:
        if not isinstance(value, str) or value not in choices:
            self.fail(f"{name} must be one of {', '.join(choices)}, got {_shown(value)}.")
            return None
        return value

    def flag(self, name: str, value: Any) -> bool | None:
        if not isinstance(value, bool):
            self.fail(f"{name} must be true or false, got {_shown(value)}.")
            return None
        return value

    def sequence(self, name: str, value: Any, most: int) -> list | None:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not 1 <= len(value) <= most:
            self.fail(f"{name} must be a list of 1 to {most} values, got {_shown(value)}.")
            return None
        return list(value)

    def mapping(self, name: str, value: Any) -> dict | None:
        if not isinstance(value, Mapping):
            self.fail(f"{name} must be a mapping of names to values, got {_shown(value)}.")
            return None
        return dict(value)


def _check_pretrain(check: _Checker, values: Mapping[str, Any], dataset=None) -> dict[str, Any]:
    """The pretraining settings with defaults filled in and whole numbers as ``int``; problems go to ``check``."""
    from sslcore.augment import PRESETS as augment_presets
    from sslcore.methods import METHODS
    from sslcore.models import BACKBONES
    from sslcore.training.config import DEVICES

    known = {f.name for f in dataclasses.fields(PretrainConfig)}
    unknown = sorted(str(key) for key in set(values) - known)
    if unknown:
        check.fail(f"Unknown setting(s) {', '.join(unknown)}; the settings are {', '.join(sorted(known))}.")
    v = {**PretrainConfig().to_dict(), **{key: value for key, value in values.items() if key in known}}
    image_size = v["image_size"] = check.integer("image_size", v["image_size"], 8, MAX_IMAGE_SIZE)
    epochs = v["epochs"] = check.integer("epochs", v["epochs"], 1, MAX_EPOCHS)
    batch_size = v["batch_size"] = check.integer("batch_size", v["batch_size"], 2, MAX_BATCH_SIZE)
    check.number("lr", v["lr"], 0, MAX_LR, low_open=True)
    check.number("weight_decay", v["weight_decay"], 0, MAX_WEIGHT_DECAY)
    warmup = check.number("warmup_epochs", v["warmup_epochs"], 0, MAX_EPOCHS)
    check.number("temperature", v["temperature"], 0, MAX_TEMPERATURE, low_open=True)
    check.number("augment_strength", v["augment_strength"], 0, 2)
    v["seed"] = check.integer("seed", v["seed"], 0, MAX_SEED)
    v["data_seed"] = check.integer("data_seed", v["data_seed"], 0, MAX_SEED)
    check.choice("augment", v["augment"], augment_presets)
    check.choice("device", v["device"], DEVICES)
    check.flag("knn_monitor", v["knn_monitor"])
    method = check.choice("method", v["method"], list(METHODS))
    backbone = check.choice("backbone", v["backbone"], list(BACKBONES))
    max_images = v["max_train_images"]
    if max_images is not None:
        max_images = v["max_train_images"] = check.integer("max_train_images", max_images, 2, MAX_TRAIN_IMAGES)
        if max_images is not None and batch_size is not None and max_images < batch_size:
            check.fail(f"max_train_images ({max_images:,}) must be at least batch_size ({batch_size:,}).")
    if warmup is not None and epochs is not None and warmup > epochs:
        check.fail(f"warmup_epochs ({warmup:g}) must not exceed epochs ({epochs}).")
    if method is not None and backbone is not None and backbone not in METHODS[method].backbones:
        check.fail(f"{METHODS[method].title} needs the {' or '.join(METHODS[method].backbones)} backbone, "
                   f"not {backbone}.")
    if backbone is not None and image_size is not None:
        _check_backbone_size(check, backbone, image_size, BACKBONES[backbone].min_image_size)
    params = check.mapping("method_params", v["method_params"])
    if params is not None and method is not None:
        _check_method_params(check, method, params, METHODS[method].hparams)
    options = check.mapping("dataset_options", v["dataset_options"])
    spec = v["dataset"]
    if not isinstance(spec, str) or not spec.strip():
        check.fail(f"dataset must name a dataset (synthetic, a MedMNIST flag, an .npz file or a folder), "
                   f"got {_shown(spec)}.")
    elif options is not None:
        _check_dataset(check, spec.strip(), options, image_size, method, dataset)
    return v


def _check_backbone_size(check: _Checker, backbone: str, image_size: int, smallest: int) -> None:
    if image_size < smallest:
        check.fail(f"The {backbone} backbone needs images of at least {smallest} px, got {image_size}.")
    elif backbone == "vit_tiny":
        from sslcore.models.vit import vit_patch_size

        patch = vit_patch_size(image_size)
        if image_size % patch:
            check.fail(f"vit_tiny cuts {image_size} px images into {patch} px patches, so image_size must be a "
                       f"multiple of {patch} (try {image_size // patch * patch} or {(image_size // patch + 1) * patch}).")


def _check_method_params(check: _Checker, method: str, params: dict, accepted: dict[str, Any]) -> None:
    for name, value in params.items():
        if name not in accepted:
            check.fail(f"{method} has no hyper-parameter {name!r}; it accepts {', '.join(accepted) or 'none'}.")
        elif isinstance(accepted[name], bool):
            check.flag(f"method_params.{name}", value)
        elif isinstance(accepted[name], int):
            check.integer(f"method_params.{name}", value, 1, MAX_METHOD_INT)
        else:
            check.number(f"method_params.{name}", value, 0, MAX_METHOD_FLOAT)


def _check_dataset(check: _Checker, spec: str, options: dict, image_size: int | None, method: str | None,
                   dataset) -> None:
    """The dataset a spec names against the config: its image sizes, options and patients (MICLe)."""
    from sslcore.data.npz import MEDMNIST, SIZES
    from sslcore.data.registry import SYNTHETIC
    from sslcore.data.synthetic_cxr import IMAGE_SIZES
    from sslcore.methods import METHODS

    has_patients = None  # unknown until loaded
    if spec == SYNTHETIC:
        unknown = sorted(set(options) - {"n_images"})
        if unknown:
            check.fail(f"The synthetic dataset takes only the option n_images, not {', '.join(map(str, unknown))}.")
        if "n_images" in options:
            check.integer("dataset_options.n_images", options["n_images"], 20, MAX_SYNTHETIC_IMAGES)
        if image_size is not None and image_size not in IMAGE_SIZES:
            check.fail(f"The synthetic dataset is drawn at {', '.join(map(str, IMAGE_SIZES))} px, not {image_size}.")
        has_patients = True
    else:
        if options:
            check.fail(f"Only the synthetic dataset takes dataset_options, not {spec!r}.")
        path = Path(spec).expanduser()
        if spec.lower() in MEDMNIST:
            if image_size is not None and image_size not in SIZES:
                check.fail(f"MedMNIST files come at {', '.join(map(str, SIZES))} px, not {image_size}.")
            has_patients = False
        elif path.suffix.lower() == ".npz":
            if not path.is_file():
                check.fail(f"The dataset file {spec} does not exist.")
            else:
                size = _npz_image_size(path)
                if size is not None and image_size is not None and size != image_size:
                    check.fail(f"{path.name} holds {size} px images, so image_size must be {size}, not {image_size}.")
                has_patients = False
        elif not path.is_dir():
            check.fail(f"Unknown dataset {spec!r}: expected synthetic, a MedMNIST flag ({', '.join(MEDMNIST)}), "
                       f"an .npz file or an image folder.")
    if dataset is not None:
        has_patients = dataset.has_multi_image_patients()
    if method is not None and METHODS[method].needs_partner and has_patients is False:
        check.fail(f"{METHODS[method].title} learns from two images of the same patient, but this dataset has no "
                   f"patient with several images; use SimCLR, which makes both views from one image.")


def _npz_image_size(path: Path) -> int | None:
    """The side of the training images an ``.npz`` declares (read from the array header only), or
    None when the file cannot tell (the loader then gives the reason)."""
    import zipfile

    from numpy.lib import format as npy_format

    try:
        with zipfile.ZipFile(path) as archive, archive.open("train_images.npy") as stream:
            version = npy_format.read_magic(stream)
            read = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            shape = read(stream)[0]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    if len(shape) == 3 or (len(shape) == 4 and shape[-1] in (1, 3) and shape[1] not in (1, 3)):
        return int(shape[1])
    return int(shape[2]) if len(shape) == 4 else None


def _check_evaluation(check: _Checker, values: Any) -> dict[str, Any]:
    """The evaluation settings with defaults filled in and whole numbers as ``int``; problems go to ``check``."""
    evaluation = check.mapping("evaluation", {} if values is None else values)
    if evaluation is None:
        return {}
    known = {f.name for f in dataclasses.fields(EvaluationConfig)}
    unknown = sorted(str(key) for key in set(evaluation) - known)
    if unknown:
        check.fail(f"Unknown evaluation setting(s) {', '.join(unknown)}; they are {', '.join(sorted(known))}.")
    v = {**EvaluationConfig().to_dict(), **{key: value for key, value in evaluation.items() if key in known}}
    protocols = check.sequence("evaluation.protocols", v["protocols"], len(PROTOCOLS))
    if protocols is not None:
        for protocol in protocols:
            check.choice("every evaluation protocol", protocol, PROTOCOLS)
    baselines = v["baselines"]
    if isinstance(baselines, (str, bytes)) or not isinstance(baselines, (list, tuple)):
        check.fail(f"evaluation.baselines must be a list (possibly empty), got {_shown(baselines)}.")
    else:
        for baseline in baselines:
            check.choice("every evaluation baseline", baseline, BASELINES)
    fractions = check.sequence("evaluation.fractions", v["fractions"], MAX_FRACTIONS)
    if fractions is not None:
        for fraction in fractions:
            check.number("every label fraction", fraction, 0, 1, low_open=True)
    seeds = check.sequence("evaluation.seeds", v["seeds"], MAX_SEEDS)
    if seeds is not None:
        whole = v["seeds"] = [check.integer("every evaluation seed", seed, 0, MAX_SEED) for seed in seeds]
        if None not in whole and len(set(whole)) < len(whole):
            check.fail(f"evaluation.seeds must differ from each other, got {_shown(seeds)}.")
    check.number("evaluation.finetune_epochs", v["finetune_epochs"], 0, MAX_FINETUNE_EPOCHS, low_open=True)
    lrs = check.sequence("evaluation.finetune_lrs", v["finetune_lrs"], MAX_FINETUNE_LRS)
    if lrs is not None:
        for lr in lrs:
            check.number("every fine-tuning learning rate", lr, 0, MAX_LR, low_open=True)
    check.choice("evaluation.finetune_augment", v["finetune_augment"], AUGMENT_PRESETS)
    v["finetune_max_steps"] = check.integer("evaluation.finetune_max_steps", v["finetune_max_steps"], 1,
                                            MAX_FINETUNE_STEPS)
    v["pretrain_seeds"] = check.integer("evaluation.pretrain_seeds", v["pretrain_seeds"], 1, 10)
    return v


def validate_pretrain(values: Mapping[str, Any], *, dataset=None) -> PretrainConfig:
    """Check raw pretraining settings (a YAML/JSON mapping, form fields) and build the config.

    Checks every field's type and range (the bounds are this module's ``MAX_*``) and the rules
    between fields: the method's backbones, the backbone's image sizes, the dataset's image sizes
    (synthetic, MedMNIST, the size an ``.npz`` holds), dataset options, and MICLe's need for patients
    with several images (known from the spec, or from ``dataset`` when given).

    Raises:
        ConfigError: a ``ValueError`` naming every problem, one sentence each.
    """
    check = _Checker()
    if not isinstance(values, Mapping):
        raise ConfigError([f"A config must be a mapping of settings, got {type(values).__name__}."])
    clean = _check_pretrain(check, values, dataset)
    if check.problems:
        raise ConfigError(check.problems)
    return PretrainConfig.from_dict(clean)


def validate_experiment(values: Mapping[str, Any], *, dataset=None) -> ExperimentConfig:
    """Check a raw experiment config (pretraining keys plus ``evaluation``, as a run's config.yaml) and
    build it: :func:`validate_pretrain`'s checks plus the evaluation's (protocols, baselines, at most
    ``MAX_FRACTIONS`` fractions in (0, 1], at most ``MAX_SEEDS`` distinct seeds, fine-tuning budget).

    Raises:
        ConfigError: a ``ValueError`` naming every problem, one sentence each.
    """
    if not isinstance(values, Mapping):
        raise ConfigError([f"A config must be a mapping of settings, got {type(values).__name__}."])
    check = _Checker()
    pretrain = {key: value for key, value in values.items() if key != "evaluation"}
    clean = _check_pretrain(check, pretrain, dataset)
    evaluation = _check_evaluation(check, values.get("evaluation"))
    if check.problems:
        raise ConfigError(check.problems)
    return ExperimentConfig.from_dict({**clean, "evaluation": evaluation})


def checked_experiment_dict(values: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`validate_experiment`, as the complete dict a run stores (``RunStore.create_run``'s check)."""
    return validate_experiment(values).to_dict()
