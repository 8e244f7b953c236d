import argparse

import numpy as np
import pytest

from sslcore.data import cli, npz


def _run(argv):
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_list_shows_builtin_medmnist_and_cache(capsys):
    path = npz.cache_dir() / "bloodmnist_64.npz"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    assert _run(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    assert "synthetic" in out and "CC BY-NC 4.0" in out
    assert [line for line in out.splitlines() if line.startswith("bloodmnist") and "64px" in line]


def test_describe_npz(tmp_path, capsys):
    arrays = {}
    for split, n in (("train", 6), ("val", 2), ("test", 3)):
        arrays[f"{split}_images"] = np.zeros((n, 28, 28), np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2)[:, None]
    np.savez(tmp_path / "pneumoniamnist.npz", **arrays)
    assert _run(["datasets", "describe", str(tmp_path / "pneumoniamnist.npz")]) == 0
    out = capsys.readouterr().out
    assert "binary" in out and "CC BY 4.0" in out
    assert [line.split() for line in out.splitlines() if line.startswith("pneumonia ")] == [["pneumonia", "3", "1", "1"]]


def test_download_offline_is_an_oserror(monkeypatch):
    monkeypatch.setattr(npz.urllib.request, "urlopen", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(OSError, match="octmnist.npz"):
        _run(["datasets", "download", "octmnist"])


def test_registering_does_not_import_torch():
    import subprocess
    import sys

    code = ("import argparse, sys; from sslcore.data import cli; "
            "cli.register(argparse.ArgumentParser().add_subparsers()); print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
