import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from runs_testing import LAUNCHER, wait_for
from sslcore.runs import RunStore, Worker, ensure_worker, store as store_module, worker as worker_module
from sslcore.runs.store import pid_alive


def queue(store, job, **config):
    return store.create_run("test", dict(config, job=job))


def fake_worker(store, **options):
    options = {"device": "cpu", "executors": {"test": "fake_jobs:dispatch"}, "poll_interval": 0.1, "cancel_grace": 1.0,
               "idle_exit": 0.0, **options}
    return Worker(store, **options)


def test_a_finished_job_records_everything_and_runs_go_in_order(store, subprocess_env):
    first, second = queue(store, "finish", tag="first"), queue(store, "finish", tag="second")
    assert fake_worker(store).run() == 2
    runs = [store.get(first), store.get(second)]
    assert [run.status for run in runs] == ["succeeded", "succeeded"]
    assert runs[0].finished_at <= runs[1].started_at
    run = runs[0]
    assert run.result == {"auc": 0.8, "device": "cpu"} and run.device == "cpu"
    assert (run.headline_name, run.headline_value, run.timings) == ("auc", 0.8, {"pretrain": 0.01})
    assert [m["value"] for m in store.metrics(first)] == [1.0, 0.5, 1 / 3]
    assert store.points(first)[0]["n_labelled"] == 10
    assert store.artifact_path(first, "curve.csv").read_text().startswith("fraction,auc")
    assert "tag first" in [line["message"] for line in store.logs(first)]


@pytest.mark.skipif(not hasattr(os, "nice"), reason="no process niceness on this system")
def test_jobs_train_at_a_lower_cpu_priority_than_the_app(store, subprocess_env):
    run_id = queue(store, "niceness")
    fake_worker(store).run()
    assert store.get(run_id).result["niceness"] == max(os.nice(0), worker_module.JOB_NICENESS)


def test_a_crash_fails_only_its_run_and_the_worker_goes_on(store, subprocess_env):
    crashed, exited, fine = queue(store, "crash"), queue(store, "hard_exit"), queue(store, "finish")
    fake_worker(store).run()
    assert store.get(crashed).status == "failed"
    assert store.get(crashed).error == "RuntimeError: boom in the job"
    assert any("Traceback" in line["message"] and line["level"] == "error" for line in store.logs(crashed))
    assert store.get(exited).status == "failed"
    assert store.get(exited).error == "job process exited unexpectedly (exit code 3)"
    assert store.get(fine).status == "succeeded"


def test_a_missing_executor_fails_the_run_with_a_clear_error(store, subprocess_env):
    run_id = queue(store, "finish")
    fake_worker(store, executors={"test": "no_such_module:execute"}).run(once=True)
    run = store.get(run_id)
    assert run.status == "failed"
    assert "cannot load executor 'no_such_module:execute'" in run.error


def test_a_run_of_a_kind_without_executor_fails_with_a_clear_error(store, subprocess_env):
    run_id = store.create_run("telepathy", {"job": "finish"})
    fake_worker(store).run(once=True)
    run = store.get(run_id)
    assert run.status == "failed"
    assert "no executor for runs of kind 'telepathy'" in run.error


def test_once_executes_at_most_one_run(store, subprocess_env):
    first, second = queue(store, "finish"), queue(store, "finish")
    assert fake_worker(store, idle_exit=None).run(once=True) == 1
    assert (store.get(first).status, store.get(second).status) == ("succeeded", "queued")


def test_bad_worker_options_are_refused(store):
    with pytest.raises(ValueError, match="executor"):
        Worker(store, device="cpu", executors={"test": "not a spec"})
    with pytest.raises(ValueError, match="device"):
        Worker(store, device="tpu")


def test_cancel_stops_a_looping_job_within_seconds(store, start_worker):
    run_id = queue(store, "loop")
    start_worker()
    wait_for(lambda: store.metrics(run_id))
    assert store.request_cancel(run_id).status == "running"
    run = wait_for(lambda: (run := store.get(run_id)).finished and run, timeout=15)
    assert run.status == "cancelled" and run.error is None
    assert run.result["steps"] > 0


def test_a_job_ignoring_cancel_is_killed_after_the_grace_period(store, start_worker):
    run_id = queue(store, "ignore_cancel")
    start_worker("--cancel-grace", "0.5")
    wait_for(lambda: store.get(run_id).status == "running" and store.logs(run_id))
    store.request_cancel(run_id)
    run = wait_for(lambda: (run := store.get(run_id)).finished and run, timeout=15)
    assert run.status == "cancelled"
    assert "did not stop within 0.5 s and was killed" in run.error


def _job_pid(store, run_id):
    started = next(line["message"] for line in store.logs(run_id) if "job pid" in line["message"])
    return int(re.search(r"job pid (\d+)", started).group(1))


def test_a_killed_worker_leaves_its_run_failed_and_a_new_worker_goes_on(store, start_worker):
    looping, waiting = queue(store, "loop"), queue(store, "finish")
    worker = start_worker()
    wait_for(lambda: store.metrics(looping))
    job_pid = _job_pid(store, looping)
    worker.kill()
    worker.wait()
    wait_for(lambda: not pid_alive(job_pid), timeout=10)  # the job does not outlive its worker
    restarted_app = RunStore(store.path)
    assert restarted_app.get(looping).status == "running"  # until someone reconciles
    assert restarted_app.list_runs(status="running") == []
    assert restarted_app.get(looping).error == f"worker process stopped unexpectedly (pid {worker.pid})"
    assert start_worker("--once").wait(timeout=30) == 0
    assert restarted_app.get(waiting).status == "succeeded"
    assert restarted_app.get(looping).status == "failed"


def test_a_terminated_worker_fails_its_run_and_exits(store, start_worker):
    run_id = queue(store, "loop")
    worker = start_worker()
    wait_for(lambda: store.metrics(run_id))
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=15) == 130
    assert store.get(run_id).error == f"worker process stopped (pid {worker.pid}) during the run"


@pytest.fixture
def launcher_entry(monkeypatch):
    monkeypatch.setattr(worker_module, "WORKER_ENTRY", LAUNCHER)


def test_ensure_worker_never_starts_two_and_restarts_after_idle_exit(store, subprocess_env, launcher_entry):
    pids = []
    tabs = [threading.Thread(target=lambda: pids.append(ensure_worker(store.path, device="cpu", idle_exit=1.0)))
            for _ in range(4)]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join()
    assert len(set(pids)) == 1 and pid_alive(pids[0])
    assert ensure_worker(store.path, device="cpu", idle_exit=1.0) == pids[0]
    wait_for(lambda: not pid_alive(pids[0]), timeout=15)  # idle: it leaves and removes its pid file
    assert not (store.path.parent / "worker.pid").exists()
    second = ensure_worker(store.path, device="cpu", idle_exit=1.0)
    assert second != pids[0] and pid_alive(second)
    os.kill(second, signal.SIGTERM)
    wait_for(lambda: not pid_alive(second))
    assert "worker pid" in (store.path.parent / "worker.log").read_text()


def test_a_reused_pid_in_the_pid_file_does_not_stop_a_worker_from_starting(store, subprocess_env, launcher_entry):
    # The pid file names a live process that is not the worker (this test, which started later than
    # the file says, or an old file without a start time): a worker is started all the same.
    pid_file = store.path.parent / "worker.pid"
    for stale in (f"{os.getpid()} 1\n", f"{os.getpid()}\n"):
        pid_file.write_text(stale)
        started = ensure_worker(store.path, device="cpu", idle_exit=0.5)
        assert started != os.getpid() and pid_alive(started)
        pid, recorded = pid_file.read_text().split()
        assert int(pid) == started and recorded == store_module.process_start_time(started)
        assert ensure_worker(store.path, device="cpu", idle_exit=0.5) == started  # and it is recognised
        wait_for(lambda: not pid_alive(started), timeout=15)


def test_the_job_writes_its_own_heartbeat(store, start_worker):
    run_id = queue(store, "loop")
    start_worker()
    wait_for(lambda: store.get(run_id).job_heartbeat_at)
    first = store.get(run_id)
    assert first.job_pid == _job_pid(store, run_id) and first.job_pid != first.worker_pid
    wait_for(lambda: store.get(run_id).job_heartbeat_at > first.job_heartbeat_at)
    store.request_cancel(run_id)
    wait_for(lambda: store.get(run_id).finished)


def test_a_hung_job_is_not_responding_until_its_process_is_gone(store, start_worker):
    run_id = queue(store, "hang")
    worker = start_worker("--cancel-grace", "0.5")
    impatient = RunStore(store.path, stale_after=1.0)
    wait_for(lambda: impatient.get(run_id).job_heartbeat_at)
    # The worker's heartbeat stays fresh; the job's stops once its main thread blocks.
    run = wait_for(lambda: (run := impatient.get(run_id)).state == "not responding" and run)
    assert run.status == "running" and time.time() - run.heartbeat_at < 1.0
    assert [r.state for r in impatient.list_runs()] == ["not responding"]  # listing fails nothing
    worker.kill()
    worker.wait()
    wait_for(lambda: not pid_alive(run.job_pid), timeout=10)
    assert [r.status for r in impatient.list_runs()] == ["failed"]


def test_the_default_entry_point_starts_the_worker_command():
    from sslcore.cli import COMMAND_MODULES

    if "sslcore.runs.cli" not in COMMAND_MODULES:
        pytest.skip("sslcore/cli.py does not list sslcore.runs.cli yet")
    shown = subprocess.run([sys.executable, *worker_module.WORKER_ENTRY, "worker", "--help"],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "--executor" in shown.stdout
