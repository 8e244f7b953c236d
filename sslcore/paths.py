"""Where the project reads shipped data and writes the user's data."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REVIEW_DATA = PROJECT_ROOT / "review_data"
# Shared material beside a developer's checkout; absent in a user's clone.
SHARED_DIR = PROJECT_ROOT.parent / "shared"


def data_home() -> Path:
    """The user's data folder: ``$MEDSSL_HOME``, else ``~/.medssl``. Created on first use."""
    home = Path(os.environ.get("MEDSSL_HOME") or Path.home() / ".medssl").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home
