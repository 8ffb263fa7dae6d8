"""The SLURM wait's store side (``green_mlflow.sweep.slurm_runs``) on a real SQLite store: the run of an attempt
the scheduler requeued ends FAILED with the cause, once, and its own process (alive on a node whose slurmd died)
cannot bring it back; a new attempt's run is its own; the jobs with a FINISHED run; the user's interrupt."""

from __future__ import annotations

from pathlib import Path

import pytest

from green_mlflow.plan import plan_job
from green_mlflow.sweep import job as job_module
from green_mlflow.sweep.ledger import read_ledger, write_parent
from green_mlflow.sweep.slurm import Ended
from green_mlflow.sweep.slurm_runs import end_requeued_attempt, finished_jobs, record_unfinished
from green_mlflow.tracking import runs
from green_mlflow.tracking.store import open_store

LOST = "SLURM job 3_0 ended by a node failure (NODE_FAIL) and requeued (restart 1, seen at 19:27:31): node n1 DOWN"


@pytest.fixture
def sweep(tmp_path: Path, sqlite_uri: str):
    store = open_store(sqlite_uri, "faults")
    parent = runs.start_parent(store, "sweep", {})
    write_parent(tmp_path, {"run_id": parent, "tracking_uri": store.uri, "experiment_name": "faults"})
    return store, parent


def child(store, parent: str, slurm_job_id: str, **tags: str) -> str:
    return runs.start_child(store, parent, "job", {"repetition": "0"}, {"slurm.job_id": slurm_job_id, **tags})


def test_a_requeued_attempts_run_ends_failed_once_a_new_attempt_has_its_own_and_finished_jobs_are_found(
    sweep, tmp_path: Path
):
    store, parent = sweep
    lost = child(store, parent, "3_0")
    other = child(store, parent, "3_1")
    runs.finish(store, other, "FINISHED")
    end_requeued_attempt(tmp_path, "3_0", 1, LOST)
    run = store.client.get_run(lost)
    assert run.info.status == "FAILED" and run.data.tags["slurm.state"] == "REQUEUED"
    assert run.data.tags["green.status_reason"] == f"{LOST}: this measurement was lost"
    assert runs.ended_by_another(store, lost) == ("FAILED", f"{LOST}: this measurement was lost")
    assert runs.ended_by_another(store, child(store, parent, "3_9")) is None, "a RUNNING run is its process's"

    again = child(store, parent, "3_0", **{"slurm.restart_count": "1"})
    end_requeued_attempt(tmp_path, "3_0", 1, LOST)  # seen again: the new attempt's run is not the old one
    assert store.client.get_run(again).info.status == "RUNNING"
    assert finished_jobs(tmp_path, ["3_0", "3_1", "3_7"]) == {"3_1"}

    # the user's interrupt: the attempt measuring ends KILLED; the lost one and the FINISHED job keep their word
    stopped = Ended("3_0", "CANCELLED", "SLURM job 3_0: cancelled by green_mlflow: the sweep was interrupted")
    record_unfinished(tmp_path, ["runtime=torch"], stopped, "KILLED")
    record_unfinished(tmp_path, ["runtime=onnx"], Ended("3_1", "CANCELLED", "SLURM job 3_1 CANCELLED"))
    assert store.client.get_run(again).info.status == "KILLED"
    assert store.client.get_run(again).data.tags["green.status_reason"] == stopped.reason
    assert store.client.get_run(lost).data.tags["green.status_reason"].startswith(LOST)
    assert store.client.get_run(other).info.status == "FINISHED", "a result is a result"
    rows = read_ledger(tmp_path, parent)
    assert [(r["slurm_job_id"], r["status"], r.get("run_id")) for r in rows] == [
        ("3_0", "KILLED", again),
        ("3_1", "FAILED", None),
    ]


def test_a_run_the_launcher_ended_stays_ended_when_its_process_finishes_later(
    sweep, tmp_path: Path, compose_config, monkeypatch
):
    """The job step outlived its slurmd: the worker measured to the end while the launcher, seeing the job requeued,
    ended its run FAILED. The run keeps that status and reason; the job's ledger row says the same."""
    store, parent = sweep
    for name, value in {"SLURM_JOB_ID": "4", "SLURM_ARRAY_JOB_ID": "3", "SLURM_ARRAY_TASK_ID": "0"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLURM_RESTART_COUNT", raising=False)

    def measured_while_the_launcher_gave_up(store, run_id, *args):
        end_requeued_attempt(tmp_path, "3_0", 1, LOST)
        return None  # the measurement itself succeeded

    monkeypatch.setattr(job_module, "_measure_and_log", measured_while_the_launcher_gave_up)
    cfg = compose_config(["runtime=torch"])
    row = job_module.run_job(store, parent, cfg, plan_job(cfg), tmp_path / "out")
    run = store.client.get_run(row["run_id"])
    assert run.info.status == "FAILED" and run.data.tags["slurm.job_id"] == "3_0"
    assert row["status"] == "FAILED" and row["reason"] == f"{LOST}: this measurement was lost"
    assert row["replaces_run_id"] == row["run_id"], "one ledger row for the run, whoever writes it last"
