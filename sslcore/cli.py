"""``python -m sslcore``: assembles the sub-commands each area of the engine registers."""

from __future__ import annotations

import argparse
import importlib
import os
import sqlite3
import sys

# Each module has ``register(subparsers)``, adding its commands with ``set_defaults(func=...)``.
# Heavy imports stay inside the command functions so that ``--help`` is fast.
COMMAND_MODULES = [
    "sslcore.catalogue.cli",
    "sslcore.data.cli",
    "sslcore.methods.cli",
    "sslcore.learn.cli",
    "sslcore.experiments.cli",
    "sslcore.runs.cli",
]
# Set to 1 to see the traceback of an unexpected error instead of its one-line summary.
DEBUG_VARIABLE = "MEDSSL_DEBUG"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sslcore",
        description="MedSSL Explorer engine: self-supervised learning for medical images.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as error:
        # Bad input (a missing file, a malformed config ...) is reported, not dumped as a traceback.
        print(f"error: {error}", file=sys.stderr)
        return 1
    except sqlite3.Error as error:  # a run store damaged or locked after it was opened
        print(f"error: the run store could not be read or written ({error})", file=sys.stderr)
        return 1
    except MemoryError:
        print("error: out of memory; try fewer images, a smaller image size or a smaller batch", file=sys.stderr)
        return 1
    except Exception as error:  # a bug: one line here, the traceback on request
        if os.environ.get(DEBUG_VARIABLE):
            raise
        print(f"error: unexpected {type(error).__name__}: {error} (set {DEBUG_VARIABLE}=1 to see the traceback)",
              file=sys.stderr)
        return 1
