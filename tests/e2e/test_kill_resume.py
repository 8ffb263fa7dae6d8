"""Faults of the sweep process itself: SIGKILL, SIGTERM, and resuming a sweep without duplicates.

Real processes, a real SQLite store: the sweep is started with ``python -m green_mlflow`` and killed
from here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from mlflow.tracking import MlflowClient

from green_mlflow.tracking import runs
from green_mlflow.tracking.store import open_store
from tests.helpers.project import TINY_MEASURE, cli_env, require_env, run_cli

SWEEP = ["-m", "runtime=torch,onnx", "model=mobilenet_v2", "batch_size=1,2", *TINY_MEASURE, "model.image_size=32"]


def _children(uri: str):
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("green_mlflow")
    if experiment is None:
        return []
    return [r for r in client.search_runs([experiment.experiment_id]) if r.data.tags.get("green.kind") == "job"]


def _start(args: list[str], cwd: Path, uri: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "green_mlflow", *args],
        cwd=cwd,
        env=cli_env(cwd, uri),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(predicate, what: str, proc: subprocess.Popen, timeout_s: float = 300):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended (exit {proc.returncode}) before {what}:\n{proc.stdout.read()[-3000:]}")
        time.sleep(0.3)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}")


def _workers_of(folder: Path, modules=("green_mlflow.worker", "green_mlflow.worker.idle")) -> list[psutil.Process]:
    """Worker processes (by default also the idle-baseline one) started for sweeps under ``folder``."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if any(m in cmdline for m in modules) and any(str(folder) in part for part in cmdline):
            found.append(process)
    return found


@pytest.mark.slow
def test_sigkill_after_the_first_job_then_rerun_ends_with_four_finished_and_none_running(tmp_path, sqlite_uri):
    require_env("torch"), require_env("onnx")
    open_store(sqlite_uri, "green_mlflow")  # create the schema first: this test polls the store while the sweep runs
    proc = _start(SWEEP, tmp_path, sqlite_uri)
    _wait_for(lambda: any(r.info.status == "FINISHED" for r in _children(sqlite_uri)), "a finished job", proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    deadline = time.monotonic() + 10
    while _workers_of(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _workers_of(tmp_path) == [], "the worker dies with its orchestrator (no orphan measuring on)"
    left = [r for r in _children(sqlite_uri) if r.info.status == "RUNNING"]

    again = run_cli(SWEEP, tmp_path, sqlite_uri)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "skipped: run" in again.stdout and "skipped: already FINISHED earlier" in again.stdout

    children = _children(sqlite_uri)
    finished = [r for r in children if r.info.status == "FINISHED"]
    assert len(finished) == 4, [(r.info.run_name, r.info.status) for r in children]
    assert len({(r.data.params["runtime"], r.data.params["batch_size"]) for r in finished}) == 4, "no duplicates"
    assert not [r for r in children if r.info.status == "RUNNING"]
    client = MlflowClient(sqlite_uri)
    for run in left:
        reaped = client.get_run(run.info.run_id)
        assert reaped.info.status == "KILLED"
        assert "left RUNNING by a process that is gone" in reaped.data.tags["green.status_reason"]
    parents = [
        r for r in client.search_runs([finished[0].info.experiment_id]) if "mlflow.parentRunId" not in r.data.tags
    ]
    assert sorted(p.info.status for p in parents) == ["FINISHED", "KILLED"], "the killed sweep's parent is reaped too"


@pytest.mark.slow
def test_sigterm_stops_the_current_job_marks_it_killed_and_exits_non_zero(tmp_path, sqlite_uri):
    require_env("torch")
    open_store(sqlite_uri, "green_mlflow")
    args = ["-m", "runtime=torch", "batch_size=1,2", *TINY_MEASURE, "measure.window_min_s=5", "model.image_size=32"]
    proc = _start(args, tmp_path, sqlite_uri)
    _wait_for(lambda: bool(_workers_of(tmp_path, ("green_mlflow.worker",))), "a job's worker to start", proc)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, output[-3000:]
    assert "terminated (SIGTERM)" in output and "Traceback" not in output
    assert _workers_of(tmp_path) == [], "the worker was stopped"
    children = _children(sqlite_uri)
    assert [r.info.status for r in children] == ["KILLED"], "the job in progress is KILLED, the next never started"
    assert children[0].data.tags["green.status_reason"] == "interrupted (SIGINT or SIGTERM)"
    client = MlflowClient(sqlite_uri)
    parent = client.get_run(children[0].data.tags["mlflow.parentRunId"])
    assert parent.info.status == "KILLED"


@pytest.mark.slow
def test_a_finished_configuration_is_skipped_unless_rerun_is_asked_for(tmp_path, sqlite_uri):
    require_env("torch")
    args = ["runtime=torch", *TINY_MEASURE, "model.image_size=32"]
    first = run_cli(args, tmp_path, sqlite_uri)
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_cli(args, tmp_path, sqlite_uri)
    assert second.returncode == 0 and "skipped: run" in second.stdout and "rerun=true" in second.stdout
    assert len(_children(sqlite_uri)) == 1
    third = run_cli([*args, "rerun=true"], tmp_path, sqlite_uri)
    assert third.returncode == 0, third.stderr[-3000:]
    assert [r.info.status for r in _children(sqlite_uri)] == ["FINISHED", "FINISHED"]


def test_only_runs_whose_process_is_gone_on_this_host_are_reaped(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'mlflow.db'}", "reap")
    me = runs.owner_tags()
    dead = runs.start_parent(store, "dead", {**me, "green.pid": "999999999"})
    reused = runs.start_parent(store, "reused pid", {**me, "green.pid_started": "1.0"})  # our pid, another start
    alive = runs.start_parent(store, "alive", {})
    elsewhere = runs.start_parent(store, "other host", {**me, "green.host": "gpu-node-7", "green.pid": "999999999"})
    done = runs.start_parent(store, "finished", {**me, "green.pid": "999999999"})
    runs.finish(store, done, "FINISHED")

    assert sorted(runs.reap_dead_runs(store)) == sorted([dead, reused])
    status = {run_id: store.client.get_run(run_id).info.status for run_id in (dead, reused, alive, elsewhere, done)}
    assert status == {dead: "KILLED", reused: "KILLED", alive: "RUNNING", elsewhere: "RUNNING", done: "FINISHED"}
    assert runs.reap_dead_runs(store) == [], "idempotent"
