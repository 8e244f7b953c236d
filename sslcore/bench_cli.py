"""``python -m sslcore bench``: the measurements recorded in BENCHMARKS.md."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PRESET_NAMES = ("cpu-quick", "gpu-standard")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run a benchmark (experiment presets, pretraining throughput, catalogue search)",
        description="cpu-quick / gpu-standard: pretrain and sweep label fractions x seeds with the baselines, "
                    "then print a markdown table (and write JSON with --out). throughput: pretraining images/s "
                    "end to end against the model alone. synthetic: seconds to draw 10,000 synthetic "
                    "radiographs. catalogue: search + facet counts over 5,000 studies.",
    )
    parser.add_argument("preset", choices=(*PRESET_NAMES, "throughput", "synthetic", "catalogue"))
    parser.add_argument("--dataset", default="synthetic",
                        help="presets: synthetic, a MedMNIST flag or a path to an .npz (default synthetic)")
    parser.add_argument("--out", type=Path, help="write the full result as JSON to this file")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    parser.add_argument("--image-size", type=int, nargs="+", default=[28], help="throughput, synthetic: image sizes")
    parser.add_argument("--backbone", default="small_cnn", help="throughput: backbone (default small_cnn)")
    parser.add_argument("--batch-size", type=int, default=256, help="throughput: batch size")
    parser.add_argument("--lightly", action="store_true",
                        help="throughput: also time lightly's per-image CPU pipeline (needs `pip install lightly`)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sslcore import bench
    from sslcore.io import atomic_write_json

    if args.preset in PRESET_NAMES:
        report = bench.run_preset(args.preset, args.dataset, device=args.device)
        print(bench.preset_markdown(report))
    elif args.preset == "throughput":
        report = {"throughput": [bench.throughput(image_size=size, backbone=args.backbone, batch_size=args.batch_size,
                                                  device=args.device, with_lightly=args.lightly)
                                 for size in args.image_size]}
        print(json.dumps(report, indent=2))
    elif args.preset == "synthetic":
        report = {"synthetic": [bench.synthetic_generation(image_size=size) for size in args.image_size]}
        print(json.dumps(report, indent=2))
    else:
        from sslcore.catalogue.bench import run_benchmark

        report = run_benchmark()
        print(json.dumps(report, indent=2))
    if args.out:
        atomic_write_json(args.out, report)
    return 0
