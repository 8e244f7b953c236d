"""``python -m sslcore methods``: the SSL methods, their strategy, paper and backbones."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("methods", help="list the SSL methods with their strategy and paper",
                                   description="The methods `pretrain --method` accepts.")
    parser.add_argument("--explain", action="store_true", help="add each method's plain-language explanation")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sslcore.methods import METHODS

    for name, info in METHODS.items():
        print(f"{name:<14} {info.strategy:<22} {info.title}  [{', '.join(info.backbones)}]")
        print(f"{'':<14} {info.citation}")
        if args.explain:
            print(f"{'':<14} {info.explanation}")
    return 0
