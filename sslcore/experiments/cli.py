"""``python -m sslcore pretrain | experiment | evaluate | bench``: training and experiments from the shell.

``pretrain`` trains a backbone; ``experiment`` pretrains and evaluates (what a Lab run does), in
this process or queued for the worker so that the run appears in the app; ``evaluate`` runs the
label-efficiency sweep on a backbone pretrained earlier; ``bench`` runs the measurements recorded
in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from sslcore.evaluate.vocabulary import BASELINES, FRACTIONS, PROTOCOLS, SEEDS
from sslcore.training.config import DEVICES, PretrainConfig

DEFAULTS = PretrainConfig()
BENCHMARKS = ("throughput", "synthetic", "catalogue", "select", "methods")


def _preset_names() -> tuple[str, ...]:
    from sslcore.experiments.presets import PRESETS

    return tuple(PRESETS)


def register(subparsers) -> None:
    _register_pretrain(subparsers)
    _register_experiment(subparsers)
    _register_evaluate(subparsers)
    _register_compare(subparsers)
    _register_bench(subparsers)


def _register_pretrain(subparsers) -> None:
    parser = subparsers.add_parser(
        "pretrain", help="pretrain a backbone with an SSL method",
        description="Pretrain a backbone with a self-supervised method. Flags override the values of "
                    "--config; the full config is saved beside the checkpoint so the run can be replayed "
                    "with --config OUT/config.yaml. Under torchrun, every process trains on its shard.")
    parser.add_argument("--config", type=Path, help="YAML or JSON config file (see config.yaml of any run)")
    parser.add_argument("--dataset", help=f"synthetic, a MedMNIST flag, an .npz or an image folder (default {DEFAULTS.dataset})")
    parser.add_argument("--method", help=f"SSL method (default {DEFAULTS.method}); see `python -m sslcore methods`")
    parser.add_argument("--backbone", help=f"small_cnn, resnet18, resnet50, vit_tiny (default {DEFAULTS.backbone})")
    parser.add_argument("--image-size", type=int, help=f"image side in pixels (default {DEFAULTS.image_size})")
    parser.add_argument("--epochs", type=int, help=f"default {DEFAULTS.epochs}")
    parser.add_argument("--batch-size", type=int, help=f"per process (default {DEFAULTS.batch_size})")
    parser.add_argument("--lr", type=float, help=f"peak learning rate (default {DEFAULTS.lr})")
    parser.add_argument("--weight-decay", type=float, help=f"default {DEFAULTS.weight_decay}")
    parser.add_argument("--warmup-epochs", type=float, help=f"default {DEFAULTS.warmup_epochs}")
    parser.add_argument("--temperature", type=float, help=f"contrastive methods (default {DEFAULTS.temperature})")
    parser.add_argument("--augment", help=f"radiograph, light or none (default {DEFAULTS.augment})")
    parser.add_argument("--augment-strength", type=float, help=f"0 to 2 (default {DEFAULTS.augment_strength})")
    parser.add_argument("--seed", type=int, help=f"default {DEFAULTS.seed}")
    parser.add_argument("--device", choices=DEVICES, help="default auto: cuda, then mps, then cpu")
    parser.add_argument("--max-train-images", type=int, help="use at most this many training images")
    parser.add_argument("--no-knn-monitor", dest="knn_monitor", action="store_false", default=None,
                        help="skip the online kNN accuracy after each epoch")
    parser.add_argument("--out", type=Path, default=Path("pretrain_out"),
                        help="folder for checkpoint.pt, config.yaml and history.json (default ./pretrain_out)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.set_defaults(func=run_pretrain)


def _register_experiment(subparsers) -> None:
    parser = subparsers.add_parser(
        "experiment", help="pretrain and evaluate (a Lab run) from a config file or a preset",
        description="Pretrain, then sweep label fractions x seeds with the baselines. --config takes the "
                    "config.yaml of any run (replaying it); --preset starts from a named preset. "
                    "Without --queue the run happens here and writes OUT/config.yaml, checkpoint.pt, "
                    "points.json and curve.csv; with --queue it joins the app's run store for the worker.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="YAML or JSON experiment config (a run's config.yaml)")
    source.add_argument("--preset", choices=_preset_names())
    parser.add_argument("--dataset", help="with --preset: synthetic, a MedMNIST flag, an .npz or a folder")
    parser.add_argument("--method", help="with --preset: the SSL method (default simclr)")
    parser.add_argument("--out", type=Path, default=Path("experiment_out"),
                        help="folder for the artifacts (default ./experiment_out)")
    parser.add_argument("--queue", action="store_true",
                        help="add the run to the run store instead; `python -m sslcore worker` runs it")
    parser.add_argument("--db", type=Path, help="with --queue: run store (default $MEDSSL_RUNS_DB or the "
                                                "data folder's runs.sqlite)")
    parser.add_argument("--name", help="with --queue: the run's name")
    parser.set_defaults(func=run_experiment_command)


def _register_evaluate(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="label-efficiency sweep of a pretrained backbone",
        description="Evaluate a backbone pretrained earlier with linear / kNN / fine-tune protocols over label "
                    "fractions x seeds, with the supervised and random baselines on the same labelled subsets. "
                    "RUN is a checkpoint.pt, a folder holding one (`pretrain --out`) or a run id of the store.")
    parser.add_argument("run", help="checkpoint.pt, its folder, or a run id")
    parser.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=["linear", "knn"])
    parser.add_argument("--fractions", nargs="+", type=float, default=list(FRACTIONS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--baselines", nargs="*", choices=BASELINES, default=list(BASELINES))
    parser.add_argument("--finetune-max-steps", type=int, default=3000,
                        help="a safety cap on the steps of one fine-tune (default 3000; the budget is in epochs)")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--db", type=Path, help="run store, when RUN is a run id")
    parser.add_argument("--out", type=Path, help="write the points and their summary as JSON to this file")
    parser.set_defaults(func=run_evaluate_command)


def _register_compare(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare", help="several methods or initialisations on one dataset, with a leaderboard",
        description="One run per arm with the same data seed, labelled subsets, evaluation seeds and test images, "
                    "each method with its own recipe; then the leaderboard: each arm's AUC per label fraction "
                    "with its interval and its paired difference against training from scratch and against the "
                    "best arm. --remedis runs the REMEDIS recipe (ImageNet only, SSL, ImageNet then SSL). "
                    "With --queue the arms join the app's run store as one comparison.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--methods", nargs="+", help="SSL methods, one arm each")
    source.add_argument("--remedis", action="store_true", help="the REMEDIS recipe's arms")
    source.add_argument("--config", type=Path, help="a comparison config file (YAML or JSON, see --out)")
    parser.add_argument("--dataset", default="synthetic", help="synthetic, a MedMNIST flag, an .npz or a folder")
    parser.add_argument("--preset", default="cpu-quick", choices=_preset_names())
    parser.add_argument("--init", default="random",
                        help="where every method arm's backbone starts: random, imagenet, file:PATH or run:ID")
    parser.add_argument("--backbone", help="a backbone for every arm (default: the preset's or the recipe's)")
    parser.add_argument("--seed", type=int, default=0, help="the model seed of every arm (default 0)")
    parser.add_argument("--data-seed", type=int, default=0, help="the data seed of every arm (default 0)")
    parser.add_argument("--out", type=Path, help="write the config and the leaderboard (arms, comparisons) as JSON")
    parser.add_argument("--queue", action="store_true", help="queue the arms in the run store as one comparison")
    parser.add_argument("--db", type=Path, help="with --queue: run store")
    parser.set_defaults(func=run_compare)


def _register_bench(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="run a benchmark (experiment presets, pretraining throughput, catalogue search)",
        description="A preset (cpu-quick, gpu-standard): pretrain and sweep label fractions x seeds with the "
                    "baselines, then print a markdown table with the paired differences (and write JSON with "
                    "--out). select: choose a method's recipe under --preset on the validation split only "
                    "(--write records it in recipes.yaml). methods: every SSL method with its recipe against the "
                    "random encoder. throughput: pretraining images/s end to end against the model alone. "
                    "synthetic: seconds to draw 10,000 synthetic radiographs. catalogue: search + facet counts "
                    "over 5,000 studies.")
    parser.add_argument("benchmark", choices=(*_preset_names(), *BENCHMARKS), metavar="BENCHMARK",
                        help=f"{', '.join((*_preset_names(), *BENCHMARKS))}")
    parser.add_argument("--dataset", default="synthetic",
                        help="presets: synthetic, a MedMNIST flag or a path to an .npz (default synthetic)")
    parser.add_argument("--out", type=Path, help="write the full result as JSON to this file")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--image-size", type=int, nargs="+", default=[28],
                        help="throughput, synthetic: image sizes (e.g. 28 64 128)")
    parser.add_argument("--backbone", default="small_cnn", help="throughput: backbone (default small_cnn)")
    parser.add_argument("--batch-size", type=int, default=256, help="throughput: batch size")
    parser.add_argument("--steps", type=int, default=10, help="throughput: timed steps per round (default 10)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="throughput: rounds, the variants timed in turn in each; medians are reported (default 3)")
    parser.add_argument("--lightly", action="store_true",
                        help="throughput: also time lightly's per-image pipeline in a DataLoader with worker "
                             "processes (needs `pip install lightly`)")
    parser.add_argument("--preset", dest="under", default="cpu-quick", choices=_preset_names(),
                        help="select, methods: the preset whose recipes to choose or run (default cpu-quick)")
    parser.add_argument("--method", help="select: the method whose recipe to choose; methods: run only this "
                                         "method (beside its random encoder)")
    parser.add_argument("--write", action="store_true", help="select: record the choice in recipes.yaml")
    parser.add_argument("--budget-s", type=float, default=180.0,
                        help="select: candidates must pretrain within this many seconds here (0: no limit)")
    parser.set_defaults(func=run_bench)


def _show_epoch(progress) -> None:
    if progress.epoch == 0 and progress.knn_accuracy is not None:
        print(f"before pretraining (random weights): knn-acc {progress.knn_accuracy:.3f}", flush=True)
    elif progress.knn_accuracy is not None:
        print(f"epoch {progress.epoch}/{progress.epochs}  loss {progress.loss:.4f}  "
              f"{progress.images_per_second:,.0f} img/s  knn-acc {progress.knn_accuracy:.3f}", flush=True)


def pretrain_config_from_args(args: argparse.Namespace) -> PretrainConfig:
    """``--config`` (if any) with the flags given on the command line on top, validated as a whole
    (``sslcore.experiments.config.validate_pretrain``)."""
    from sslcore.experiments.config import validate_pretrain

    values = _read_config(args.config) if args.config else {}
    for field in dataclasses.fields(PretrainConfig):
        value = getattr(args, field.name, None)
        if value is not None:
            values[field.name] = value
    return validate_pretrain(values)


def run_pretrain(args: argparse.Namespace) -> int:
    config = pretrain_config_from_args(args)
    from sslcore import distributed
    from sslcore.io import atomic_write_json
    from sslcore.training import TrainingError, pretrain

    distributed.init_from_env()
    is_main = distributed.rank() == 0
    out: Path = args.out
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        config.save(out / "config.yaml")

    def show(progress) -> None:
        if progress.epoch == 0:
            _show_epoch(progress)
        elif progress.knn_accuracy is not None or progress.step == progress.total_steps or progress.step % 20 == 0:
            knn = f"  knn-acc {progress.knn_accuracy:.3f}" if progress.knn_accuracy is not None else ""
            print(f"epoch {progress.epoch}/{progress.epochs}  step {progress.step}/{progress.total_steps}  "
                  f"loss {progress.loss:.4f}  {progress.images_per_second:,.0f} img/s  "
                  f"eta {progress.eta_seconds:.0f}s{knn}", flush=True)

    try:
        result = pretrain(config, on_progress=show, checkpoint_path=out / "checkpoint.pt", resume=args.resume)
    except TrainingError as error:
        print(f"training stopped: {error}", file=sys.stderr)
        return 1
    finally:
        distributed.shutdown()
    if is_main:
        atomic_write_json(out / "history.json", result.history)
        print(json.dumps({"device": result.device, "seconds": round(result.seconds, 1),
                          "images_per_second": round(result.images_per_second, 1),
                          "checkpoint": str(out / "checkpoint.pt")}))
    return 0


def run_experiment_command(args: argparse.Namespace) -> int:
    from sslcore.experiments.config import validate_experiment
    from sslcore.experiments.presets import preset

    if args.config:
        if args.dataset or args.method:
            raise ValueError("--dataset and --method go with --preset; edit the config file instead")
        config = validate_experiment(_read_config(args.config))
    else:
        overrides = {"method": args.method} if args.method else {}
        config = validate_experiment(preset(args.preset, args.dataset or "synthetic", **overrides).to_dict())
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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"config file not found: {path}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text file; a config is YAML or JSON") from None
    try:
        values = yaml.safe_load(text)  # YAML is a superset of JSON
    except yaml.YAMLError as error:
        raise ValueError(f"{path} is not valid YAML or JSON: {error}") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold a mapping of config keys, got {type(values).__name__}")
    return values


def _run_here(config, out: Path) -> int:
    import yaml

    from sslcore.evaluate.compare import Comparison
    from sslcore.evaluate.report import summarise
    from sslcore.experiments.runner import run_experiment
    from sslcore.io import atomic_write_json, atomic_write_text
    from sslcore.runs.experiment_executor import points_csv
    from sslcore.training import TrainingError

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))

    def show_point(point) -> None:
        print(f"{point['method']:>12} {point['protocol']:>8}  {point['fraction']:>6.0%} "
              f"({point['n_labelled']:>5} labels) seed {point['seed']}  AUC {point['auc']:.3f}", flush=True)

    try:
        result = run_experiment(config, on_progress=_show_epoch, on_point=show_point,
                                checkpoint_path=out / "checkpoint.pt")
    except TrainingError as error:
        print(f"training stopped: {error}", file=sys.stderr)
        return 1
    atomic_write_json(out / "points.json", {"points": result.points, "summary": summarise(result.points),
                                            "comparisons": result.comparisons, "timings": result.timings,
                                            "device": result.pretrain.device,
                                            "dataset": {"test_sha256": result.test_fingerprint}})
    for comparison in result.comparisons:
        print(Comparison(**comparison).sentence)
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
    from sslcore.evaluate.compare import Comparison
    from sslcore.evaluate.report import summarise
    from sslcore.experiments.config import EvaluationConfig, ExperimentConfig
    from sslcore.experiments.runner import ExperimentResult, evaluate_backbones
    from sslcore.io import atomic_write_json
    from sslcore.training import load_for_config, load_pretrained, resolve_device

    checkpoint = _checkpoint_of(args.run, args.db)
    if not checkpoint.exists():
        raise FileNotFoundError(f"no checkpoint at {checkpoint}")
    device = resolve_device(args.device)
    pretrained = load_pretrained(checkpoint, map_location=device)
    evaluation = EvaluationConfig(protocols=args.protocols, fractions=args.fractions, seeds=args.seeds,
                                  baselines=args.baselines, finetune_max_steps=args.finetune_max_steps)
    config = ExperimentConfig(pretrained.config, evaluation)
    dataset = load_for_config(pretrained.config)
    result = ExperimentResult(pretrain=pretrained, points=[], timings={}, dataset=dataset,
                              test_fingerprint=dataset.test_fingerprint())
    evaluate_backbones([pretrained], config, dataset, result, device=device)
    summary = summarise(result.points)
    for row in summary:
        print(f"{row['method']:>12} {row['protocol']:>8}  {row['fraction']:>6.0%}  "
              f"AUC {row['auc_mean']:.3f} ± {row['auc_std']:.3f}  (n={row['count']})")
    for comparison in result.comparisons:
        print(Comparison(**comparison).sentence)
    if args.out:
        atomic_write_json(args.out, {"checkpoint": str(checkpoint), "device": str(device),
                                     "config": config.to_dict(), "points": result.points, "summary": summary,
                                     "comparisons": result.comparisons,
                                     "dataset": {"test_sha256": result.test_fingerprint}})
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from sslcore.experiments import bench
    from sslcore.io import atomic_write_json

    if args.benchmark in _preset_names():
        report = bench.run_preset(args.benchmark, args.dataset, device=args.device)
        print(bench.preset_markdown(report))
    elif args.benchmark == "select":
        from sslcore.experiments.recipes import select_recipe, write_choice

        if not args.method:
            raise ValueError("bench select needs --method (the method whose recipe to choose)")
        report = select_recipe(args.under, args.method, args.dataset, device=args.device,
                               budget_s=args.budget_s or None, on_message=lambda line: print(line, flush=True))
        print(json.dumps({"chosen": report["chosen"]}, indent=2))
        if args.write:
            write_choice(report)
            print(f"recorded in recipes.yaml under {args.under}/{args.method}")
    elif args.benchmark == "methods":
        report = bench.methods(args.dataset, args.under, device=args.device, only=args.method and [args.method],
                               on_message=lambda line: print(line, flush=True))
        print(bench.methods_markdown(report))
    elif args.benchmark == "throughput":
        report = {"throughput": [bench.throughput(image_size=size, backbone=args.backbone, batch_size=args.batch_size,
                                                  n_steps=args.steps, repeats=args.repeats, device=args.device,
                                                  with_lightly=args.lightly)
                                 for size in args.image_size]}
        print(json.dumps(report, indent=2))
    elif args.benchmark == "synthetic":
        report = {"synthetic": [bench.synthetic_generation(image_size=size) for size in args.image_size]}
        print(json.dumps(report, indent=2))
    else:
        report = bench.catalogue_search()
        print(json.dumps(report, indent=2))
    if args.out:
        atomic_write_json(args.out, report)
    return 0


def comparison_from_args(args: argparse.Namespace):
    """The ``ComparisonConfig`` the flags (or ``--config``) describe."""
    from sslcore.experiments.comparison import Arm, ComparisonConfig, remedis

    shared = {"preset": args.preset, "seed": args.seed, "data_seed": args.data_seed}
    if args.config:
        return ComparisonConfig.from_dict(_read_config(args.config))
    if args.remedis:
        from sslcore.training import PretrainConfig, load_for_config

        dataset = load_for_config(PretrainConfig(dataset=args.dataset, data_seed=args.data_seed))
        return remedis(args.dataset, backbone=args.backbone or "resnet18",
                       has_patients=dataset.has_multi_image_patients(), **shared)
    arms = [Arm(method, args.init, args.backbone) for method in args.methods]
    return ComparisonConfig(dataset=args.dataset, arms=arms, **shared)


def run_compare(args: argparse.Namespace) -> int:
    from sslcore.experiments.comparison import run_comparison
    from sslcore.experiments.leaderboard import leaderboard, leaderboard_table
    from sslcore.io import atomic_write_json

    config = comparison_from_args(args)
    if args.queue:
        from sslcore.runs import RunStore
        from sslcore.runs.comparisons import create_comparison, get_comparison

        store = RunStore(args.db)
        record = get_comparison(store, create_comparison(store, config))
        print(f"queued comparison #{record.id} ({len(record.runs)} arm runs: "
              f"{', '.join(f'#{run.id}' for run in record.runs)}) in {store.path}; `python -m sslcore worker` runs them")
        return 0
    results = run_comparison(config, on_message=lambda line: print(line, flush=True))
    board = leaderboard(results)
    print(leaderboard_table(board).to_markdown(index=False) if _has_tabulate() else leaderboard_table(board).to_string())
    if args.out:
        atomic_write_json(args.out, {"comparison": config.to_dict(), **board})
    return 0


def _has_tabulate() -> bool:
    import importlib.util

    return importlib.util.find_spec("tabulate") is not None
