"""Comparative experiments as one object: several arms (methods, backbones, initialisations) on the
same data, with the same data seed, labelled subsets, evaluation seeds and test images, each method
with its own recipe; then a leaderboard of paired differences.

The REMEDIS recipe (Azizi et al., 2021, "Big Self-Supervised Models Advance Medical Image
Classification", ICCV; Azizi et al., 2023, "Robust and data-efficient generalization of
self-supervised machine learning for diagnostic imaging", Nature Biomedical Engineering) is a preset
comparison of four arms: from scratch; ImageNet-initialised, fine-tuned; SSL from random weights,
fine-tuned; ImageNet initialisation then in-domain SSL (MICLe where patients have several images,
SimCLR otherwise), fine-tuned.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sslcore.experiments.config import EvaluationConfig, ExperimentConfig

SCRATCH = "from scratch"  # the arm every run already holds: its supervised baseline


@dataclass(frozen=True)
class Arm:
    """One way of getting a classifier in a comparison.

    Attributes:
        method: the SSL method (its recipe applies), or None for no pretraining (the initialisation
            fine-tuned as it is).
        init: where the backbone starts (``random``, ``imagenet``, ``file:PATH``, ``run:ID``).
        backbone: a backbone other than the preset's (None: the preset's, or the method recipe's).
    """

    method: str | None
    init: str = "random"
    backbone: str | None = None

    @property
    def name(self) -> str:
        start = self.init.split(":")[0]
        core = f"{self.method}" if self.method else f"{start} init"
        if self.method and self.init != "random":
            core = f"{self.method} from {start}"
        return core + (f" ({self.backbone})" if self.backbone else "")


@dataclass
class ComparisonConfig:
    """What a comparison runs.

    Attributes:
        dataset: the one dataset every arm uses.
        arms: the arms (a run each; the from-scratch arm comes with every run).
        preset: the preset whose scale and recipes apply.
        seed, data_seed: the model seed and the data seed, the same for every arm.
        evaluation: ``EvaluationConfig`` fields replacing the preset's (the same for every arm).
        overrides: pretraining fields replacing every arm's (tests use tiny ones).
        name: a label for lists.
    """

    dataset: str
    arms: list[Arm]
    preset: str = "cpu-quick"
    seed: int = 0
    data_seed: int = 0
    evaluation: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        self.arms = [arm if isinstance(arm, Arm) else Arm(**arm) for arm in self.arms]
        if not self.arms:
            raise ValueError("a comparison needs at least one arm")
        names = [arm.name for arm in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"two arms would have the same name: {names}")
        self.name = self.name or f"{', '.join(names)} on {self.dataset}"

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "arms": [dataclasses.asdict(arm) for arm in self.arms]}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ComparisonConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown comparison keys: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**values)

    def experiment(self, arm: Arm) -> ExperimentConfig:
        """The experiment of one arm: the preset with the arm's method recipe, the shared seeds and
        evaluation, and the arm's initialisation (``epochs = 0`` when nothing is pretrained)."""
        from sslcore.experiments.presets import PRESETS, preset

        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose from {', '.join(PRESETS)}")
        fields = {"seed": self.seed, "data_seed": self.data_seed, "init": arm.init, **self.overrides}
        if arm.backbone:
            fields["backbone"] = arm.backbone
        method = arm.method or PRESETS[self.preset].pretrain["method"]
        config = preset(self.preset, self.dataset, method=method, **fields)
        if arm.method is None:
            config.pretrain = dataclasses.replace(config.pretrain, epochs=0)
        if self.evaluation:
            config.evaluation = EvaluationConfig(**{**config.evaluation.to_dict(), **self.evaluation})
        return config


def remedis(dataset: str, *, backbone: str = "resnet18", has_patients: bool = True, **options) -> ComparisonConfig:
    """The REMEDIS recipe as a comparison (see the module docstring): ImageNet only, SSL from random
    weights, ImageNet then in-domain SSL; the from-scratch arm comes with every run. The SSL is MICLe
    where the data has patients with several images, SimCLR otherwise."""
    ssl = "micle" if has_patients else "simclr"
    arms = [Arm(None, "imagenet", backbone), Arm(ssl, "random", backbone), Arm(ssl, "imagenet", backbone)]
    return ComparisonConfig(dataset=dataset, arms=arms, name=f"REMEDIS recipe on {dataset}", **options)


def unavailable_arms(config: ComparisonConfig) -> dict[str, str]:
    """Arm name -> why it cannot run here (ImageNet weights that cannot be had); shown, not dropped."""
    from sslcore.experiments.presets import preset
    from sslcore.training.initialisation import IMAGENET_BACKBONES, imagenet_available, imagenet_downloadable

    reasons = {}
    for arm in config.arms:
        if arm.init != "imagenet":
            continue
        backbone = arm.backbone or preset(config.preset, config.dataset, method=arm.method or "simclr").pretrain.backbone
        if backbone not in IMAGENET_BACKBONES:
            reasons[arm.name] = f"ImageNet weights exist for {', '.join(IMAGENET_BACKBONES)} only, not {backbone}"
        elif not imagenet_available(backbone) and not imagenet_downloadable(backbone):
            reasons[arm.name] = (f"ImageNet weights for {backbone} are not in torchvision's cache and cannot be "
                                 f"downloaded now: connect to the internet once, or start the arm from a weights "
                                 f"file (init file:PATH)")
    return reasons


def run_comparison(config: ComparisonConfig, *, on_message=print, on_point=None):
    """Run every arm here, one after the other, on one loaded dataset; their :class:`ArmResult` s
    (unavailable arms included, with their reason)."""
    from sslcore.evaluate.report import learning_check
    from sslcore.experiments.leaderboard import ArmResult
    from sslcore.experiments.runner import arm_name, run_experiment
    from sslcore.training import load_for_config

    unavailable = unavailable_arms(config)
    results, dataset = [], None
    for arm in config.arms:
        if arm.name in unavailable:
            on_message(f"{arm.name}: not available ({unavailable[arm.name]})")
            results.append(ArmResult(name=arm.name, unavailable=unavailable[arm.name]))
            continue
        experiment = config.experiment(arm)
        dataset = dataset or load_for_config(experiment.pretrain)
        on_message(f"{arm.name}: {experiment.pretrain.epochs} epochs of {experiment.pretrain.method} "
                   f"({experiment.pretrain.backbone}, init {experiment.pretrain.init})")
        result = run_experiment(experiment, dataset=dataset, on_point=on_point)
        pretrain = experiment.pretrain
        results.append(ArmResult(
            name=arm.name, key=arm_name(pretrain.method, pretrain.init, pretrain.epochs), points=result.points,
            scores=result.scores, labels=dataset.splits["test"].labels.cpu(), task=dataset.task,
            fingerprint=result.test_fingerprint, pretrain_s=round(result.timings["pretrain_s"], 1),
            images_per_second=round(result.pretrain.images_per_second, 1), learning=learning_check(result.points)))
    return results
