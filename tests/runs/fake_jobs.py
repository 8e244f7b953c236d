"""Fake executors for the worker tests, named ``fake_jobs:<function>`` (this folder is on the path)."""

import os
import time


def finish(run, ctx):
    """Report a few metrics, points, an artifact and a headline, then succeed."""
    for step in range(3):
        ctx.report_metrics(step, epoch=0, loss=1.0 / (step + 1))
    ctx.add_points([{"method": "simclr", "protocol": "linear", "fraction": 0.1, "n_labelled": 10, "seed": 0,
                     "auc": 0.8}])
    ctx.write_artifact("curve.csv", "fraction,auc\n0.1,0.8\n")
    ctx.set_headline("auc", 0.8)
    ctx.set_timings({"pretrain": 0.01})
    ctx.log(f"tag {run.config.get('tag')}")
    return {"auc": 0.8, "device": ctx.device}


def niceness(run, ctx):
    """Report the job's CPU niceness."""
    return {"niceness": os.nice(0)}


def loop(run, ctx):
    """Work in small steps until cancelled."""
    step = 0
    ctx.log("looping")
    while not ctx.should_stop():
        ctx.report_metrics(step, loss=1.0)
        step += 1
        time.sleep(0.05)
    return {"steps": step}


def crash(run, ctx):
    raise RuntimeError("boom in the job")


def hard_exit(run, ctx):
    os._exit(3)


def ignore_cancel(run, ctx):
    """Sleep without ever looking at should_stop."""
    ctx.log("sleeping")
    time.sleep(120)


def hang(run, ctx):
    """Block for good on an event nobody sets (a deadlock), after one log line."""
    import threading

    ctx.log("hanging")
    threading.Event().wait()


JOBS = {"finish": finish, "loop": loop, "crash": crash, "hard_exit": hard_exit, "ignore_cancel": ignore_cancel,
        "hang": hang, "niceness": niceness}


def dispatch(run, ctx):
    """The tests' executor: runs the fake job named by the run's config key ``job``."""
    return JOBS[run.config["job"]](run, ctx)
