import pytest

from sslcore import cli


@pytest.fixture
def main(monkeypatch, capsys):
    """``python -m sslcore`` with this area's commands; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["sslcore.runs.cli"])

    def run(*argv: str):
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_list_show_cancel_and_delete(main, store):
    db = ("--db", str(store.path))
    assert main("runs", "list", *db)[1] == "no runs\n"
    run_id = store.create_run("experiment", {"dataset": "synthetic", "method": "simclr"})
    store.log(run_id, "hello from the job")
    code, out, _ = main("runs", "list", *db, "--method", "simclr")
    assert code == 0 and f"{run_id}" in out and "experiment simclr synthetic" in out and "queued" in out
    code, out, _ = main("runs", "show", str(run_id), *db)
    assert code == 0 and "hello from the job" in out and '"dataset": "synthetic"' in out
    assert main("runs", "cancel", str(run_id), *db)[1] == f"run {run_id} cancelled\n"
    assert "already finished (cancelled)" in main("runs", "cancel", str(run_id), *db)[1]
    store.write_artifact(run_id, "config.json", "{}")
    code, _, err = main("runs", "delete", str(run_id), *db)  # stdin is not a terminal under pytest
    assert code == 1 and "--yes" in err and store.get(run_id)
    assert main("runs", "delete", str(run_id), *db, "--yes")[:2] == (0, f"run {run_id} deleted\n")
    assert not (store.path.parent / "runs" / str(run_id)).exists()


def test_unknown_ids_get_a_clear_message(main, store):
    for action in ("show", "cancel", "delete"):
        code, _, err = main("runs", action, "42", "--db", str(store.path))
        assert code == 1 and "no run with id 42" in err


def test_the_environment_chooses_the_database(main, store, monkeypatch):
    monkeypatch.setenv("MEDSSL_RUNS_DB", str(store.path))
    store.create_run("experiment", {}, name="from the env db")
    assert "from the env db" in main("runs", "list")[1]


def test_help_of_each_command(main):
    for argv in (("worker",), ("runs",), ("runs", "list"), ("runs", "delete")):
        with pytest.raises(SystemExit) as exit_info:
            main(*argv, "--help")
        assert exit_info.value.code == 0


def test_worker_once_from_the_command_line(main, store, subprocess_env):
    run_id = store.create_run("test", {"job": "finish"})
    code, out, _ = main("worker", "--db", str(store.path), "--once", "--device", "cpu",
                        "--executor", "test=fake_jobs:dispatch", "--poll-interval", "0.1")
    assert code == 0 and "exits after 1 run(s)" in out
    assert store.get(run_id).status == "succeeded"
    code, _, err = main("worker", "--db", str(store.path), "--executor", "nonsense")
    assert code == 1 and "module:function" in err


def test_a_corrupt_store_is_one_sentence_not_a_traceback(main, tmp_path):
    db = tmp_path / "runs.sqlite"
    db.write_bytes(b"SQLite format 2\x00" + b"garbage" * 500)
    for argv in (("runs", "list"), ("runs", "show", "1"), ("worker", "--once", "--device", "cpu")):
        code, out, err = main(*argv, "--db", str(db))
        assert code == 1 and out == ""
        assert err.startswith(f"error: {db} is not a readable run store") and "Traceback" not in err
        assert err.count("\n") == 1


def test_an_unexpected_error_is_one_line_unless_debugging(main, monkeypatch):
    from sslcore.runs import cli as runs_cli

    def broken(args):
        raise TypeError("a bug")

    monkeypatch.setattr(runs_cli, "list_runs", broken)
    code, _, err = main("runs", "list")
    assert code == 1 and err == "error: unexpected TypeError: a bug (set MEDSSL_DEBUG=1 to see the traceback)\n"
    monkeypatch.setenv("MEDSSL_DEBUG", "1")
    with pytest.raises(TypeError):
        main("runs", "list")
