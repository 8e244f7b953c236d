import pytest

from sslcore.io import atomic_write, atomic_write_json, atomic_write_text


def test_atomic_write_replaces_the_whole_file(tmp_path):
    path = tmp_path / "sub" / "file.txt"
    atomic_write_text(path, "first")
    atomic_write_text(path, "second")
    assert path.read_text() == "second"
    assert [p.name for p in path.parent.iterdir()] == ["file.txt"]


def test_a_failing_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "data.json"
    atomic_write_json(path, {"kept": True})

    def fail_halfway(f):
        f.write('{"half": ')
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(path, fail_halfway)
    assert path.read_text().strip().startswith('{\n  "kept": true')
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]
