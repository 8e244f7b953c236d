"""How long a run will take on this machine: a few real steps of each kind, timed, then scaled by a
cost model of the whole experiment.

The steps run in a separate Python process (``python -m sslcore.experiments.estimate``), never in
the process that asks (the app's server), under a time limit (:data:`TIME_LIMIT_S`), with batches
of at most :data:`TIMING_PIXELS` pixels, and only for a config that
``sslcore.experiments.config.validate_experiment`` accepts. One estimate runs at a time per process
and results are cached per configuration, so many browser sessions opening the Lab start one timing
process, not one each. A timing that does not finish in time gives an estimate with an ``error``
sentence ("could not estimate ...") and no seconds.

The cost model (:func:`cost_model`) counts what :func:`sslcore.experiments.runner.run_experiment`
does and prices each kind of work with one measurement:

- pretraining: ``steps x batch`` images at the measured rate of the one optimisation step
  (augmentation included), plus the end-of-epoch check: a forward pass over the validation split
  (and over up to 2,000 training images for the online kNN monitor), at the measured forward rate;
- frozen probes: one forward pass over the train, val and test splits per pretrained backbone, and
  per evaluation seed for the random baseline (plus its BatchNorm recalibration pass over the
  training split); each linear or kNN probe timed on random features of the backbone's width at
  the smallest and the largest labelled-set size of the sweep, interpolated linearly in between;
- fine-tuning (and training from scratch): per learning rate, the step budget at the measured
  seconds per fine-tuning step (at the run's fine-tuning batch), plus a validation pass per check,
  plus one test pass. Early stopping ends a fine-tune ``patience`` checks after its best one. Where
  every step is a check (a labelled set of a few batches) the best check tends to come early and
  the estimate counts :data:`EARLY_STOP_SHARE` of the budget; larger sets check every few steps,
  keep improving and run (nearly) their whole budget, which is what the estimate counts. The share
  was measured by counting the steps of every fine-tune of ``bench cpu-quick`` on the synthetic set
  (BENCHMARKS.md): 17 %, 52 % and 41 % of the budget at 1 %, 5 % and 10 % of the labels (every step
  checked), 96 % and 93 % at 25 % and 100 %.

The timing process tunes the allocator as every training process does
(``sslcore.training.runtime``), does not time its first steps, which allocate, and takes the median
step, so that a step slowed by another process does not move the estimate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

TIMING_BATCH = 256
TIMING_PIXELS = 256 * 32 * 32  # a timing batch holds at most this many pixels: 256 images of 32 px, 5 of 224 px
WARMUP_STEPS = 2  # the first steps allocate and warm caches; they are not timed
TIMED_STEPS = 5  # the estimate takes the median of these steps
EARLY_STOP_SHARE = 0.4  # of a fine-tune's budget, where every step is a check (see the module docstring)
TIME_LIMIT_S = 60.0
PROBE_TIMING_IMAGES = 4000  # probes are timed on at most this many labelled images, then scaled
KNN_MONITOR_IMAGES = 2000  # sslcore.training.loop.KNN_MONITOR_IMAGES

CACHED_MEASUREMENTS = 64

_lock = threading.Lock()
_measured: dict[str, dict[str, Any]] = {}  # request (JSON) -> measurement, oldest first


def format_duration(seconds: float) -> str:
    """``42`` -> ``"42 s"``, ``150`` -> ``"2.5 min"``, ``7200`` -> ``"2.0 h"``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def timing_batch(batch_size: int, image_size: int) -> int:
    """Images per timed step: the run's batch, at most :data:`TIMING_BATCH` and :data:`TIMING_PIXELS`
    pixels, at least 2 (contrastive methods compare images within a batch)."""
    return max(2, min(batch_size, TIMING_BATCH, TIMING_PIXELS // (image_size * image_size)))


# --- what the child process measures --------------------------------------------------------------

def measure(request: dict[str, Any]) -> dict[str, Any]:
    """Time a few steps of each kind of work of an experiment; run by the timing process.

    Args:
        request: ``config`` (an experiment config dict), ``channels``, ``n_classes``, ``task``,
            ``n_val``, ``n_test`` and ``probe_sizes`` (the smallest and largest labelled-set sizes).

    Returns:
        ``device``, ``pretrain_images_per_second``, ``forward_images_per_second``,
        ``finetune_step_s`` (per image, at ``finetune_batch``), ``finetune_batch``, ``feature_dim``
        and ``linear_s`` / ``knn_s`` (seconds of one probe at each of ``probe_sizes``, or None when
        the protocol is not evaluated).
    """
    import torch

    from sslcore.augment import AugmentConfig, augment, normalize
    from sslcore.evaluate.features import extract_features
    from sslcore.evaluate.probes import finetune_step, knn_probe, linear_probe
    from sslcore.experiments.config import ExperimentConfig
    from sslcore.methods import Batch
    from sslcore.training import Trainer, build_model, resolve_device, timed_steps
    from sslcore.training.devices import synchronizer

    config = ExperimentConfig.from_dict(request["config"])
    pretrain, evaluation = config.pretrain, config.evaluation
    channels, n_classes, task = request["channels"], request["n_classes"], request["task"]
    device = resolve_device(pretrain.device)
    sync = synchronizer(device)
    generator = torch.Generator().manual_seed(0)
    size = pretrain.image_size

    def images(n: int) -> torch.Tensor:
        return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=generator).to(device)

    def labels(n: int) -> torch.Tensor:
        if task == "multi-label":
            return torch.randint(0, 2, (n, n_classes), generator=generator).float()
        return torch.arange(n) % n_classes  # every class present, as in a stratified subset

    model = build_model(pretrain, channels=channels, n_classes=n_classes, task=task)
    trainer = Trainer(model, device, lr=1e-4)
    n = timing_batch(pretrain.batch_size, size)
    batch_images = images(n)
    batch = Batch(images=batch_images, labels=labels(n).to(device) if model.needs_labels else None,
                  partner_images=batch_images.flip(0) if model.needs_partner else None)
    augment_fn = trainer.views(AugmentConfig.preset(pretrain.augment, pretrain.augment_strength), generator)
    pretrain_s = timed_steps(lambda: trainer.step(batch, augment_fn, progress=0.5), WARMUP_STEPS, TIMED_STEPS,
                             sync, median=True)

    backbone = model.backbone
    forward_images = images(max(n, min(512, 4 * n)))
    forward_s = timed_steps(lambda: extract_features(backbone, forward_images, device=device), WARMUP_STEPS, 3, sync,
                            median=True)

    head = torch.nn.Linear(backbone.feature_dim, 2 if task == "binary" else n_classes)
    network = torch.nn.Sequential(backbone, head).to(device).train()
    optimizer = torch.optim.AdamW(network.parameters(), lr=1e-4)
    finetune_augment = AugmentConfig.preset(evaluation.finetune_augment)
    fb = timing_batch(evaluation.finetune_batch_size, size)
    finetune_images, finetune_labels = images(fb), labels(fb).to(device)

    def one_finetune_step() -> None:
        inputs = normalize(augment(finetune_images, finetune_augment, generator))
        finetune_step(network, optimizer, inputs, finetune_labels, task)

    finetune_s = timed_steps(one_finetune_step, WARMUP_STEPS, TIMED_STEPS, sync, median=True)

    sizes = [min(k, PROBE_TIMING_IMAGES) for k in request["probe_sizes"]]
    return {
        "device": str(device),
        "pretrain_images_per_second": n / pretrain_s,
        "forward_images_per_second": len(forward_images) / forward_s,
        "finetune_step_s": finetune_s / fb,
        "finetune_batch": fb,
        "feature_dim": backbone.feature_dim,
        "probe_sizes": sizes,
        **{f"{name}_s": [_probe_seconds(probe, k, request["n_val"], request["n_test"], backbone.feature_dim, labels,
                                        task, device, generator) for k in sizes]
           if name in evaluation.protocols else None for name, probe in (("linear", linear_probe), ("knn", knn_probe))},
    }


def _probe_seconds(probe, n_labelled: int, n_val: int, n_test: int, dim: int, labels, task: str, device,
                   generator) -> float:
    """Seconds of one ``probe`` on random features of width ``dim`` for splits of these sizes."""
    import torch

    feats = [torch.randn(k, dim, generator=generator) for k in (n_labelled, n_val, n_test)]
    started = time.perf_counter()
    probe(feats[0], labels(n_labelled), feats[1], labels(n_val), feats[2], labels(n_test), task, device=device)
    return time.perf_counter() - started


def _measure_in_child(request_json: str, time_limit: float) -> dict[str, Any]:
    """:func:`measure` in a fresh Python process, killed after ``time_limit`` seconds."""
    from sslcore.paths import PROJECT_ROOT

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])))
    try:
        done = subprocess.run([sys.executable, "-m", "sslcore.experiments.estimate"], input=request_json,
                              capture_output=True, text=True, timeout=time_limit, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"could not estimate: timing a few steps took longer than {time_limit:.0f} s here"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return {"error": f"could not estimate: the timing process failed ({last})"}
    return json.loads(done.stdout)


def _measurement(request: dict[str, Any], time_limit: float) -> dict[str, Any]:
    """The measurement of ``request``, cached (failures are not: the next look tries again); one timing
    process at a time in this process, the others waiting within their own time limit."""
    request_json = json.dumps(request, sort_keys=True)
    started = time.monotonic()
    if not _lock.acquire(timeout=time_limit):
        return {"error": "could not estimate: other estimates kept this machine busy; try again in a moment"}
    try:
        if request_json not in _measured:
            result = _measure_in_child(request_json, max(1.0, time_limit - (time.monotonic() - started)))
            if "error" in result:
                return result
            if len(_measured) >= CACHED_MEASUREMENTS:
                _measured.pop(next(iter(_measured)))
            _measured[request_json] = result
        return _measured[request_json]
    finally:
        _lock.release()


# --- the cost model ----------------------------------------------------------------------------------

def _interpolated(sizes: list[int], seconds: list[float], n: int) -> float:
    """Seconds of one probe on ``n`` labelled images, from timings at the smallest and largest size."""
    (low, high), (t_low, t_high) = sizes, seconds
    if n > high:  # timed on fewer images than the run labels: scale the larger timing
        return t_high * n / high
    if high == low:
        return t_high
    return t_low + (t_high - t_low) * (n - low) / (high - low)


def cost_model(config, shape: dict[str, Any], measured: dict[str, Any]) -> dict[str, float]:
    """Seconds of pretraining and evaluation of ``config`` (an ``ExperimentConfig``) on data of
    ``shape`` (``n_train``, ``n_val``, ``n_test``, ``n_labelled``: fraction -> labelled images, and
    ``task``) at the rates :func:`measure` returned. See the module docstring for the model."""
    from sslcore.evaluate.probes import FinetuneConfig

    pretrain, evaluation = config.pretrain, config.evaluation
    n_train, n_val, n_test = shape["n_train"], shape["n_val"], shape["n_test"]
    kept = min(pretrain.max_train_images or n_train, n_train)
    images = kept // pretrain.batch_size * pretrain.batch_size * pretrain.epochs
    forward = measured["forward_images_per_second"]
    monitor = n_val + (min(KNN_MONITOR_IMAGES, n_train) if pretrain.knn_monitor and shape["task"] != "multi-label" else 0)
    pretrain_s = evaluation.pretrain_seeds * (images / measured["pretrain_images_per_second"]
                                              + pretrain.epochs * monitor / forward)

    frozen = [protocol for protocol in ("linear", "knn") if protocol in evaluation.protocols]
    random_frozen = "random" in evaluation.baselines and frozen
    passes = (evaluation.pretrain_seeds * (n_train + n_val + n_test) if frozen else 0)
    if random_frozen:
        passes += len(evaluation.seeds) * (2 * n_train + n_val + n_test)
    evaluation_s = passes / forward
    finetune = FinetuneConfig(**evaluation.finetune_config())
    finetuned_arms = (evaluation.pretrain_seeds if "finetune" in evaluation.protocols else 0) + (
        1 if "supervised" in evaluation.baselines else 0)
    for fraction in evaluation.fractions:
        n = shape["n_labelled"][str(fraction)]
        for protocol in frozen:
            arms = evaluation.pretrain_seeds + (1 if random_frozen else 0)
            evaluation_s += len(evaluation.seeds) * arms * _interpolated(measured["probe_sizes"],
                                                                         measured[f"{protocol}_s"], n)
        check_every = finetune.check_every(n)
        steps = finetune.n_steps(n) * (EARLY_STOP_SHARE if check_every == 1 else 1.0)
        batch = min(finetune.batch_size, n)
        one_rate = steps * batch * measured["finetune_step_s"] + steps / check_every * n_val / forward
        evaluation_s += len(evaluation.seeds) * finetuned_arms * (len(finetune.lr_grid) * one_rate + n_test / forward)
    return {"pretrain_seconds": pretrain_s, "evaluation_seconds": evaluation_s, "images": images}


# Fields that only scale the work (how many steps, seeds, rates) and not what one step costs: the
# timing request leaves them at fixed values, so changing them reuses the measurement.
SCALE_ONLY = {"epochs": 1, "lr": 1e-3, "warmup_epochs": 0.0, "seed": 0, "data_seed": 0, "max_train_images": None,
              "temperature": 0.2}
SCALE_ONLY_EVALUATION = {"seeds": [0], "fractions": [1.0], "finetune_lrs": [1e-3], "finetune_epochs": 1.0,
                         "pretrain_seeds": 1, "finetune_max_steps": 3000}


def timing_fields(config) -> dict[str, Any]:
    """``config`` (an ``ExperimentConfig``) as the timing process needs it: :data:`SCALE_ONLY` fields
    fixed, so that a new number of epochs, seeds or label fractions costs no new timing."""
    values = config.to_dict()
    return {**values, **SCALE_ONLY, "evaluation": {**values["evaluation"], **SCALE_ONLY_EVALUATION}}


def data_shape(config, dataset) -> dict[str, Any]:
    """What the cost model needs to know of the data: split sizes, the task and the labelled-set size of
    each fraction of the sweep (for the first evaluation seed)."""
    from sslcore.evaluate.sweep import labelled_subset

    train = dataset.splits["train"]
    return {"n_train": len(train.labels), "n_val": len(dataset.splits["val"].labels),
            "n_test": len(dataset.splits["test"].labels), "task": dataset.task,
            "n_labelled": {str(fraction): len(labelled_subset(train.labels, fraction, config.evaluation.seeds[0],
                                                               dataset.task))
                           for fraction in config.evaluation.fractions}}


def estimate_experiment(config, dataset, *, time_limit: float = TIME_LIMIT_S) -> dict[str, Any]:
    """How long pretraining and evaluating ``config`` (an ``ExperimentConfig``) on ``dataset`` should take here.

    Returns:
        ``device``; ``images_per_second`` (pretraining, measured); ``images`` (seen over all epochs of one
        pretraining run); ``seconds`` (pretraining), ``evaluation_seconds`` and ``total_seconds``;
        and ``error``: None, or a sentence saying why there is no estimate (then the seconds, the rate
        and the device are None).

    Raises:
        ValueError: the config does not pass ``validate_experiment``: nothing is timed.
    """
    from sslcore.experiments.config import validate_experiment

    config = validate_experiment(config.to_dict(), dataset=dataset)
    shape = data_shape(config, dataset)
    sizes = sorted(shape["n_labelled"].values())
    request = {"config": timing_fields(config), "channels": dataset.channels, "n_classes": dataset.n_classes,
               "task": dataset.task, "n_val": shape["n_val"], "n_test": shape["n_test"],
               "probe_sizes": [sizes[0], sizes[-1]]}
    measured = _measurement(request, time_limit)
    kept = min(config.pretrain.max_train_images or shape["n_train"], shape["n_train"])
    images = kept // config.pretrain.batch_size * config.pretrain.batch_size * config.pretrain.epochs
    if "error" in measured:
        return {"device": None, "images_per_second": None, "images": images, "seconds": None,
                "evaluation_seconds": None, "total_seconds": None, "error": measured["error"]}
    costs = cost_model(config, shape, measured)
    return {"device": measured["device"], "images_per_second": measured["pretrain_images_per_second"],
            "images": images, "seconds": costs["pretrain_seconds"], "evaluation_seconds": costs["evaluation_seconds"],
            "total_seconds": costs["pretrain_seconds"] + costs["evaluation_seconds"], "error": None}


def estimate_pretraining(config, dataset, *, time_limit: float = TIME_LIMIT_S) -> dict[str, Any]:
    """:func:`estimate_experiment` for ``config``: an ``ExperimentConfig`` (pretraining and evaluation), or
    a ``PretrainConfig`` (evaluated with the default ``EvaluationConfig``). ``seconds`` is pretraining's
    share, as it always was; ``total_seconds`` adds the evaluation."""
    from sslcore.experiments.config import ExperimentConfig
    from sslcore.training.config import PretrainConfig

    if isinstance(config, PretrainConfig):
        config = ExperimentConfig(config)
    return estimate_experiment(config, dataset, time_limit=time_limit)


def describe_estimate(estimate: dict[str, Any]) -> str:
    """One sentence for the Lab: the estimate, or why there is none."""
    if estimate["error"]:
        return f"No time estimate: {estimate['error']}."
    return (f"Estimated time on {estimate['device']}: about {format_duration(estimate['total_seconds'])} "
            f"({format_duration(estimate['seconds'])} pretraining on {estimate['images']:,} images at "
            f"{estimate['images_per_second']:,.0f} images/s, then {format_duration(estimate['evaluation_seconds'])} "
            f"evaluation), from a few steps timed on this machine and the share of the fine-tuning budget that "
            f"early stopping usually leaves.")


if __name__ == "__main__":  # the timing process: a request on stdin, the measurement on stdout
    from sslcore.training.runtime import tune_allocator

    tune_allocator()  # as in every process that trains: the timed steps must cost what the run's will
    print(json.dumps(measure(json.loads(sys.stdin.read()))))
