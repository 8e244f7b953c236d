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
    assert (run.status, run.kind, run.owner) == ("queued", "experiment", None)
    # An experiment's config is validated and stored complete, so that it replays as it ran.
    assert {key: run.config[key] for key in CONFIG} == CONFIG and run.config["evaluation"]["seeds"] == [0, 1, 2]
    assert (run.dataset, run.method, run.name) == ("pneumoniamnist", "simclr", "experiment simclr pneumoniamnist")
    assert run.started_at is None and not run.finished and run.duration is None
    assert store.get(store.create_run("experiment", {}, name="mine")).name == "mine"


def test_bad_input_is_refused_with_a_clear_message(store):
    with pytest.raises(ValueError, match="JSON-serialisable"):
        store.create_run("test", {"x": object()})
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


def test_reconcile_fails_the_runs_of_dead_workers(store):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = store.create_run("experiment", CONFIG)
    store.claim_next(dead.pid, "cpu")
    assert store.get(orphan).status == "running"
    assert store.reconcile() == [orphan]
    assert store.get(orphan).error == f"worker process stopped unexpectedly (pid {dead.pid})"
    assert store.get(orphan).status == "failed" and store.get(orphan).finished_at is not None


def _backdate(store, run_id, seconds, *columns):
    with sqlite3.connect(store.path) as connection:
        for column in columns:
            connection.execute(f"UPDATE runs SET {column} = {column} - ? WHERE id = ?", (seconds, run_id))


def test_a_stale_heartbeat_of_a_live_worker_is_not_responding_not_failed(store):
    # A laptop that slept for two minutes: the worker (this process) is alive, its heartbeats are old.
    run_id = store.create_run("experiment", CONFIG)
    store.claim_next(os.getpid(), "cpu")
    store.job_heartbeat(run_id, os.getpid())
    assert store.get(run_id).state == "running"
    _backdate(store, run_id, 120, "heartbeat_at", "job_heartbeat_at", "started_at")
    assert store.reconcile() == [] and store.list_runs()[0].status == "running"
    assert store.get(run_id).state == "not responding"
    store.heartbeat(run_id)  # the worker is back; the job is not yet
    assert store.get(run_id).state == "not responding"
    store.job_heartbeat(run_id, os.getpid())
    assert store.get(run_id).state == "running"
    assert RunStore(store.path, stale_after=0.05).get(run_id).state == "running"
    time.sleep(0.1)
    assert RunStore(store.path, stale_after=0.05).get(run_id).state == "not responding"


def test_a_job_that_has_not_beaten_yet_is_running_until_the_claim_is_stale(store):
    run_id = store.create_run("experiment", CONFIG)
    store.claim_next(os.getpid(), "cpu")
    assert store.get(run_id).state == "running"
    _backdate(store, run_id, 120, "started_at")
    assert store.get(run_id).state == "not responding"


def test_a_reused_worker_pid_is_not_taken_for_the_worker(store):
    # The worker that claimed the run died and the system gave its pid to another process (here:
    # this one): the start time recorded with the claim tells them apart, and the run fails.
    stuck, waiting = store.create_run("experiment", CONFIG), store.create_run("experiment", CONFIG)
    store.claim_next(os.getpid(), "cpu")
    with sqlite3.connect(store.path) as connection:
        connection.execute("UPDATE runs SET worker_started = '1' WHERE id = ?", (stuck,))
    assert store_module.pid_alive(os.getpid()) and not store_module.pid_alive(os.getpid(), "1")
    assert store.claim_next(os.getpid(), "cpu").id == waiting  # the queue does not wait for ever
    assert store.get(stuck).status == "failed"


def test_queue_limits_per_owner_and_in_total_and_owners_see_their_own_runs(store):
    limits = store_module.QueueLimits(per_owner=2, total=3)
    mine = [store.create_run("test", {}, owner="alice", limits=limits) for _ in range(2)]
    with pytest.raises(store_module.QueueFullError,
                       match=r"You already have 2 runs waiting or running \(a comparison counts as one\)"):
        store.create_run("test", {}, owner="alice", limits=limits)
    theirs = store.create_run("test", {}, owner="bob", limits=limits)
    with pytest.raises(store_module.QueueFullError, match="The queue is full"):
        store.create_run("test", {}, owner="carol", limits=limits)
    assert len(store.list_runs()) == 3
    store.request_cancel(mine[0], owner="alice")  # a finished run frees its place
    store.create_run("test", {}, owner="carol", limits=limits)
    assert [run.id for run in store.list_runs(owner="bob")] == [theirs]
    with pytest.raises(RunNotFoundError):
        store.request_cancel(theirs, owner="alice")
    with pytest.raises(RunNotFoundError):
        store.delete(theirs, owner="alice")
    assert store.get(theirs).status == "queued"
    with pytest.raises(ValueError, match="per_owner"):
        store_module.QueueLimits(per_owner=0)


@pytest.mark.parametrize("content, message", [
    ({"epochs": "ten"}, "epochs must be a whole number from 1 to 1,000, got 'ten'."),
    ({"epochs": 10**9}, "epochs must be a whole number from 1 to 1,000, got 1000000000."),
    ({"image_size": 10**5}, "image_size must be a whole number from 8 to 512, got 100000."),
])
def test_an_experiment_that_cannot_run_is_refused_and_nothing_is_queued(store, content, message):
    with pytest.raises(ValueError) as refused:
        store.create_run("experiment", content)
    assert str(refused.value) == message
    assert store.list_runs() == []


def test_a_corrupt_store_file_is_one_clear_error(tmp_path):
    path = tmp_path / "runs.sqlite"
    path.write_bytes(b"this is not a database, just some bytes" * 200)
    with pytest.raises(store_module.RunStoreError, match="is not a readable run store .*move it away"):
        RunStore(path)


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
    run_id = store.create_run("test", {"writer": sys.argv[2]})
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


V4_COLUMNS = ",\n    owner TEXT,\n    worker_started TEXT,\n    job_pid INTEGER,\n    job_heartbeat_at REAL"
V4_INDEX = "\nCREATE INDEX runs_owner ON runs (owner, status);"
V3_COLUMNS = ",\n    comparison_id INTEGER,\n    arm TEXT"


def schema_3() -> str:
    assert V4_COLUMNS in store_module._SCHEMA and V4_INDEX in store_module._SCHEMA
    return store_module._SCHEMA.replace(V4_COLUMNS, "").replace(V4_INDEX, "")


def test_a_store_of_the_previous_schema_is_upgraded_and_keeps_its_runs(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as connection:
        connection.executescript(schema_3())
        connection.execute("INSERT INTO runs (created_at, name, kind, config) VALUES (0, 'old', 'experiment', '{}')")
        connection.execute("PRAGMA user_version = 3")
    store = RunStore(path)
    [run] = store.list_runs()
    assert (run.name, run.owner, run.job_pid) == ("old", None, None)
    store.create_run("test", {}, owner="alice")
    assert [run.owner for run in store.list_runs(owner="alice")] == ["alice"]


def test_a_store_of_schema_1_is_upgraded_through_every_step(tmp_path):
    path = tmp_path / "old.sqlite"
    assert V3_COLUMNS in schema_3()
    old_schema = (schema_3().replace(V3_COLUMNS, "")
                  .replace(", pretrain_seed INTEGER NOT NULL DEFAULT 0, val_auc REAL", ""))
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
    assert store.get(1).comparison_id is None and store.get(1).owner is None  # later schemas' columns too
