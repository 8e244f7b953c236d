"""``python -m sslcore learn``: build what the Learn page shows."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    learn = subparsers.add_parser("learn", help="the Learn page's models and curve",
                                  description="Build the small models and the label-efficiency curve the Learn "
                                              "page teaches with.")
    commands = learn.add_subparsers(dest="learn_command", metavar="COMMAND", required=True)
    build = commands.add_parser(
        "build-assets",
        help="train the Learn page's models and compute its curve (a few minutes on a CPU)",
        description="Run the cpu-quick SimCLR experiment on the synthetic set (its label-efficiency points and "
                    "encoder), train a rotation-prediction model and a small masked autoencoder on 64 px "
                    "synthetic radiographs, and save them in float16 with a manifest.json saying how.",
    )
    build.add_argument("--out", type=Path, help="folder to write (default: sslcore/assets/learn, what ships)")
    build.set_defaults(func=run_build_assets)


def run_build_assets(args: argparse.Namespace) -> int:
    from sslcore.learn.assets import build_assets

    build_assets(args.out, on_message=lambda line: print(line, flush=True))
    return 0
