"""Test-wide settings: never touch the user's real data folder."""

import pytest


@pytest.fixture(autouse=True)
def isolated_data_home(tmp_path, monkeypatch):
    """Each test gets its own MedSSL data folder (runs, user catalogue layer, dataset cache)."""
    home = tmp_path / "medssl_home"
    monkeypatch.setenv("MEDSSL_HOME", str(home))
    monkeypatch.delenv("MEDSSL_RUNS_DB", raising=False)
    return home


@pytest.fixture(autouse=True)
def restore_main_module(monkeypatch):
    """AppTest installs the page script as ``__main__``; a later worker test spawning a job process would
    then re-run that page in the child. Put the real ``__main__`` back after every test."""
    import sys

    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
