import os
import re
import sqlite3
import subprocess
import sys
import time

import pytest

from sslcore.runs import RunNotFoundError, RunStore, default_db_path
from sslcore.runs import store as store_module

CONFIG = {"dataset": "pneumoniamnist", "method": "simclr", "epochs": 2}


def test_default_path_is_in_the_data_folder_and_the_environment_overrides_it(isolated_data_home, tmp_path, monkeypatch):
    assert RunStore().path == (isolated_data_home / "runs.sqlite").resolve()
    monkeypatch.setenv("MEDSSL_RUNS_DB", str(tmp_path / "elsewhere" / "x.sqlite"))
    assert default_db_path() == tmp_path / "elsewhere" / "x.sqlite"
    assert RunStore().path.exists()


def test_created_run_is_queued_with_dataset_and_method_columns(store):
    run_id = store.create_run("experiment", CONFIG)
    run = store.get(run_id)
    assert (run.status, run.kind, run.config) == ("queued", "experiment", CONFIG)
    assert (run.dataset, run.method, run.name) == ("pneumoniamnist", "simclr", "experiment simclr pneumoniamnist")
    assert run.started_at is None and not run.finished and run.duration is None
    assert store.get(store.create_run("experiment", {}, name="mine")).name == "mine"


def test_bad_input_is_refused_with_a_clear_message(store):
    with pytest.raises(ValueError, match="JSON-serialisable"):
        store.create_run("experiment", {"x": object()})
    with pytest.raises(ValueError, match="kind"):
        store.create_run("", {})
    with pytest.raises(ValueError, match="status"):
        store.list_runs(status="done")
    with pytest.raises(RunNotFoundError, match="no run with id 99"):
        store.get(99)
    with pytest.raises(RunNotFoundError):
        store.logs(99)
    with pytest.raises(ValueError, match="plain file name"):
        store.artifact_path(store.create_run("experiment", {}), "../escape")


def test_two_stores_on_one_file_see_the_same_runs(store):
    other_tab = RunStore(store.path)
    first = store.create_run("experiment", CONFIG)
    second = other_tab.create_run("experiment", dict(CONFIG, method="byol"))
    assert [run.id for run in store.list_runs()] == [second, first]  # newest first
    assert [run.id for run in other_tab.list_runs(method="simclr")] == [first]
    assert store.list_runs(dataset="synthetic") == []
    other_tab.request_cancel(first)
    assert store.get(first).status == "cancelled" and store.get(first).finished_at is not None
    assert [run.id for run in store.list_runs(status="queued")] == [second]


def test_metrics_points_logs_and_timings_round_trip(store):
    run_id = store.create_run("experiment", CONFIG)
    store.report_metrics(run_id, 0, 0, loss=2.0, lr=0.1)
    store.report_metrics(run_id, 1, 0, loss=1.5)
    assert [(m["step"], m["name"], m["value"]) for m in store.metrics(run_id)] == [
        (0, "loss", 2.0), (0, "lr", 0.1), (1, "loss", 1.5)]
    store.add_points(run_id, [{"method": "simclr", "protocol": "linear", "fraction": 0.1, "seed": 1, "auc": 0.7}])
    (point,) = store.points(run_id)
    assert point["auc"] == 0.7 and point["acc"] is None and point["seed"] == 1
    with pytest.raises(ValueError, match="unknown keys \\['auroc'\\]"):
        store.add_points(run_id, [{"method": "simclr", "protocol": "linear", "fraction": 0.1, "auroc": 0.7}])
    for index in range(5):
        store.log(run_id, f"line {index}")
    assert [line["message"] for line in store.logs(run_id, tail=2)] == ["line 3", "line 4"]
    assert len(store.logs(run_id, tail=None)) == 5
    store.set_timings(run_id, {"pretrain": 3.0})
    store.set_timings(run_id, {"evaluate": 1.0})
    store.set_headline(run_id, "auc@10%", 0.7)
    run = store.get(run_id)
    assert run.timings == {"pretrain": 3.0, "evaluate": 1.0}
    assert (run.headline_name, run.headline_value) == ("auc@10%", 0.7)


def test_claim_takes_the_oldest_queued_run_and_one_per_device(store):
    first, second = store.create_run("experiment", CONFIG), store.create_run("experiment", CONFIG)
    claimed = store.claim_next(os.getpid(), "cpu")
    assert (claimed.id, claimed.status, claimed.worker_pid, claimed.device) == (first, "running", os.getpid(), "cpu")
    assert store.claim_next(os.getpid(), "cpu") is None
    assert store.claim_next(os.getpid(), "cuda").id == second


def test_delete_refuses_a_running_run_and_removes_the_artifacts(store):
    run_id = store.create_run("experiment", CONFIG)
    store.write_artifact(run_id, "curve.csv", "a,b\n")
    store.report_metrics(run_id, 0, loss=1.0)
    store.claim_next(os.getpid(), "cpu")
    with pytest.raises(ValueError, match="running"):
        store.delete(run_id)
    assert store.finish(run_id, "succeeded", result={"auc": 0.9})
    assert not store.finish(run_id, "failed")  # a finished run keeps its outcome
    assert store.get(run_id).status == "succeeded"
    folder = store.artifact_dir(run_id)
    assert store.artifact_path(run_id, "curve.csv").read_text() == "a,b\n"
    store.delete(run_id)
    assert not folder.exists()
    with pytest.raises(RunNotFoundError):
        store.metrics(run_id)


def test_reconcile_fails_runs_of_dead_workers_and_stale_heartbeats(store):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan, stale, alive = (store.create_run("experiment", CONFIG) for _ in range(3))
    store.claim_next(dead.pid, "cpu")
    assert store.get(orphan).status == "running"
    assert store.reconcile() == [orphan]
    assert store.get(orphan).error == f"worker process stopped unexpectedly (pid {dead.pid})"
    assert store.get(orphan).status == "failed" and store.get(orphan).finished_at is not None
    store.claim_next(os.getpid(), "cpu")
    store.claim_next(os.getpid(), "cuda")
    impatient = RunStore(store.path, stale_after=0.2)
    time.sleep(0.3)
    store.heartbeat(alive)
    assert impatient.reconcile() == [stale]
    assert store.get(stale).error == f"worker process stopped unexpectedly (pid {os.getpid()})"
    assert store.get(alive).status == "running"


def test_a_newer_schema_is_refused(store):
    with sqlite3.connect(store.path) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(ValueError, match="newer"):
        RunStore(store.path)


WRITER = """
import sys
from sslcore.runs import RunStore
store = RunStore(sys.argv[1])
for index in range(150):
    run_id = store.create_run("experiment", {"writer": sys.argv[2]})
    store.report_metrics(run_id, index, loss=0.5)
    store.log(run_id, "hello")
    store.list_runs(status="queued")
"""


def test_concurrent_writers_in_two_processes_do_not_lock_each_other_out(store, subprocess_env):
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(store.path), name], env=subprocess_env,
                                stderr=subprocess.PIPE, text=True) for name in "ab"]
    errors = [writer.communicate(timeout=60)[1] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0], errors
    runs = store.list_runs()
    assert len(runs) == 300 and {run.config["writer"] for run in runs} == {"a", "b"}
    assert all(len(store.metrics(run.id)) == 1 for run in runs[:10])


def test_a_store_of_the_previous_schema_is_upgraded_and_keeps_its_runs(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    old_schema = (store_module._SCHEMA.replace(", pretrain_seed INTEGER NOT NULL DEFAULT 0, val_auc REAL", "")
                  .replace(",\n    comparison_id INTEGER,\n    arm TEXT", ""))
    old_schema = re.sub(r"CREATE TABLE comparisons \(.*?\);", "", old_schema, flags=re.S)  # schema 1 had none
    with sqlite3.connect(path) as connection:
        connection.executescript(old_schema)
        connection.execute("INSERT INTO runs (created_at, name, kind, config) VALUES (0, 'old', 'experiment', '{}')")
        connection.execute("INSERT INTO points (run_id, method, protocol, fraction, auc) VALUES (1, 'simclr', 'linear', 0.1, 0.8)")
        connection.execute("PRAGMA user_version = 1")
    store = RunStore(path)
    [point] = store.points(1)
    assert point["auc"] == 0.8 and point["pretrain_seed"] == 0 and point["val_auc"] is None
    store.add_points(1, [{"method": "simclr", "protocol": "linear", "fraction": 1.0, "pretrain_seed": 2, "val_auc": 0.9}])
    assert store.points(1)[1]["pretrain_seed"] == 2
    assert store.get(1).comparison_id is None  # schema 3's columns and table are there too
