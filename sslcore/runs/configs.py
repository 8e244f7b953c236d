"""Runs' saved configs: side by side (only what differs) and the command that replays one."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"evaluation": {"seeds": [0, 1]}}`` -> ``{"evaluation.seeds": "[0, 1]"}`` (leaves as text);
    an empty mapping has no leaves, so it is absent rather than a row of its own."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


def config_diff(configs: dict[str, dict[str, Any]], only_different: bool = True):
    """A table of config keys (rows) by run (columns); by default only the keys whose values differ."""
    import pandas as pd

    table = pd.DataFrame({run: flatten(config) for run, config in configs.items()})
    table = table.fillna("(absent)").sort_index()
    if only_different and len(configs) > 1:
        table = table[table.nunique(axis=1) > 1]
    return table


def replay_command(config_path: str | Path) -> str:
    """The shell command that replays a run from its saved config."""
    return f"python -m sslcore experiment --config {shlex.quote(str(config_path))}"
