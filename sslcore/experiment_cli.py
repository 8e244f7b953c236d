"""``python -m sslcore experiment`` and ``python -m sslcore evaluate``: experiments from the shell.

``experiment`` pretrains and evaluates (what a Lab run does), in this process or queued for the
worker so that the run appears in the app; ``evaluate`` runs the label-efficiency sweep on a
backbone pretrained earlier (a ``pretrain --out`` folder, a checkpoint or a run of the store).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sslcore.experiment import BASELINES, PROTOCOLS


def register(subparsers) -> None:
    experiment = subparsers.add_parser(
        "experiment",
        help="pretrain and evaluate (a Lab run) from a config file or a preset",
        description="Pretrain, then sweep label fractions x seeds with the baselines. --config takes the "
                    "config.yaml of any run (replaying it); --preset starts from cpu-quick or gpu-standard. "
                    "Without --queue the run happens here and writes OUT/config.yaml, checkpoint.pt, "
                    "points.json and curve.csv; with --queue it joins the app's run store for the worker.",
    )
    source = experiment.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="YAML or JSON experiment config (a run's config.yaml)")
    source.add_argument("--preset", choices=("cpu-quick", "gpu-standard"))
    experiment.add_argument("--dataset", help="with --preset: synthetic, a MedMNIST flag, an .npz or a folder")
    experiment.add_argument("--method", help="with --preset: the SSL method (default simclr)")
    experiment.add_argument("--out", type=Path, default=Path("experiment_out"),
                            help="folder for the artifacts (default ./experiment_out)")
    experiment.add_argument("--queue", action="store_true",
                            help="add the run to the run store instead; `python -m sslcore worker` runs it")
    experiment.add_argument("--db", type=Path, help="with --queue: run store (default $MEDSSL_RUNS_DB or the "
                                                    "data folder's runs.sqlite)")
    experiment.add_argument("--name", help="with --queue: the run's name")
    experiment.set_defaults(func=run_experiment_command)

    evaluate = subparsers.add_parser(
        "evaluate",
        help="label-efficiency sweep of a pretrained backbone",
        description="Evaluate a backbone pretrained earlier with linear / kNN / fine-tune protocols over label "
                    "fractions x seeds, with the supervised and random baselines on the same labelled subsets. "
                    "RUN is a checkpoint.pt, a folder holding one (`pretrain --out`) or a run id of the store.",
    )
    evaluate.add_argument("run", help="checkpoint.pt, its folder, or a run id")
    evaluate.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=["linear", "knn"])
    evaluate.add_argument("--fractions", nargs="+", type=float, default=[0.01, 0.05, 0.1, 0.25, 1.0])
    evaluate.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    evaluate.add_argument("--baselines", nargs="*", choices=BASELINES, default=list(BASELINES))
    evaluate.add_argument("--finetune-max-steps", type=int, default=300)
    evaluate.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    evaluate.add_argument("--db", type=Path, help="run store, when RUN is a run id")
    evaluate.add_argument("--out", type=Path, help="write the points and their summary as JSON to this file")
    evaluate.set_defaults(func=run_evaluate_command)


def run_experiment_command(args: argparse.Namespace) -> int:
    from sslcore.experiment import ExperimentConfig
    from sslcore.presets import preset

    if args.config:
        if args.dataset or args.method:
            raise ValueError("--dataset and --method go with --preset; edit the config file instead")
        config = ExperimentConfig.from_dict(_read_config(args.config))
    else:
        overrides = {"method": args.method} if args.method else {}
        config = preset(args.preset, args.dataset or "synthetic", **overrides)
    if args.queue:
        from sslcore.runs import RunStore

        store = RunStore(args.db)
        name = args.name or f"{config.pretrain.method} on {Path(config.pretrain.dataset).name}"
        run_id = store.create_run("experiment", config.to_dict(), name=name)
        print(f"queued run #{run_id} in {store.path}; `python -m sslcore worker` runs it (the app starts one)")
        return 0
    return _run_here(config, args.out)


def _read_config(path: Path) -> dict:
    import yaml

    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))  # YAML is a superset of JSON
    except yaml.YAMLError as error:
        raise ValueError(f"{path} is not valid YAML or JSON: {error}") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold a mapping of config keys, got {type(values).__name__}")
    return values


def _run_here(config, out: Path) -> int:
    import yaml

    from sslcore.evaluate import summarise
    from sslcore.experiment import run_experiment
    from sslcore.io import atomic_write_json, atomic_write_text
    from sslcore.runs.jobs import points_csv
    from sslcore.train import TrainingError

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))

    def show_progress(progress) -> None:
        if progress.knn_accuracy is not None:
            print(f"epoch {progress.epoch}/{progress.epochs}  loss {progress.loss:.4f}  "
                  f"{progress.images_per_second:,.0f} img/s  knn-acc {progress.knn_accuracy:.3f}", flush=True)

    def show_point(point) -> None:
        print(f"{point['method']:>12} {point['protocol']:>8}  {point['fraction']:>6.0%} "
              f"({point['n_labelled']:>5} labels) seed {point['seed']}  AUC {point['auc']:.3f}", flush=True)

    try:
        result = run_experiment(config, on_progress=show_progress, on_point=show_point,
                                checkpoint_path=out / "checkpoint.pt")
    except TrainingError as error:
        print(f"training stopped: {error}", file=sys.stderr)
        return 1
    atomic_write_json(out / "points.json", {"points": result.points, "summary": summarise(result.points),
                                            "timings": result.timings, "device": result.pretrain.device})
    atomic_write_text(out / "curve.csv", points_csv(result.points))
    print(json.dumps({"device": result.pretrain.device, **{k: round(v, 1) for k, v in result.timings.items()},
                      "out": str(out)}))
    return 0


def _checkpoint_of(run: str, db: Path | None) -> Path:
    if run.isdigit():
        from sslcore.runs import RunStore

        return RunStore(db).artifact_path(int(run), "checkpoint.pt")
    path = Path(run)
    return path / "checkpoint.pt" if path.is_dir() else path


def run_evaluate_command(args: argparse.Namespace) -> int:
    from sslcore.evaluate import summarise
    from sslcore.experiment import EvaluationConfig, ExperimentConfig, evaluate_backbone
    from sslcore.io import atomic_write_json
    from sslcore.train import load_for_config, load_pretrained, resolve_device

    checkpoint = _checkpoint_of(args.run, args.db)
    if not checkpoint.exists():
        raise FileNotFoundError(f"no checkpoint at {checkpoint}")
    device = resolve_device(args.device)
    pretrained = load_pretrained(checkpoint, map_location=device)
    evaluation = EvaluationConfig(protocols=args.protocols, fractions=args.fractions, seeds=args.seeds,
                                  baselines=args.baselines, finetune_max_steps=args.finetune_max_steps)
    config = ExperimentConfig(pretrained.config, evaluation)
    points = evaluate_backbone(pretrained.backbone, config, load_for_config(pretrained.config), device=device)
    summary = summarise(points)
    for row in summary:
        print(f"{row['method']:>12} {row['protocol']:>8}  {row['fraction']:>6.0%}  "
              f"AUC {row['auc_mean']:.3f} ± {row['auc_std']:.3f}  (n={row['count']})")
    if args.out:
        atomic_write_json(args.out, {"checkpoint": str(checkpoint), "device": str(device),
                                     "config": config.to_dict(), "points": points, "summary": summary})
    return 0
