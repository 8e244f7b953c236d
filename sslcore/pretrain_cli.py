"""``python -m sslcore pretrain``: pretrain from flags or a config file, printing progress."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from sslcore.config import DEVICES, PretrainConfig

DEFAULTS = PretrainConfig()


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pretrain",
        help="pretrain a backbone with an SSL method",
        description="Pretrain a backbone with a self-supervised method. Flags override the values of "
                    "--config; the full config is saved beside the checkpoint so the run can be replayed "
                    "with --config OUT/config.yaml. Under torchrun, every process trains on its shard.",
    )
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
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> PretrainConfig:
    values = PretrainConfig.load(args.config).to_dict() if args.config else {}
    for field in dataclasses.fields(PretrainConfig):
        value = getattr(args, field.name, None)
        if value is not None:
            values[field.name] = value
    return PretrainConfig.from_dict(values)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    from sslcore import distributed
    from sslcore.io import atomic_write_json
    from sslcore.train import TrainingError, pretrain

    distributed.init_from_env()
    is_main = distributed.rank() == 0
    out: Path = args.out
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        config.save(out / "config.yaml")

    def show(progress) -> None:
        if progress.knn_accuracy is not None or progress.step == progress.total_steps or progress.step % 20 == 0:
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
