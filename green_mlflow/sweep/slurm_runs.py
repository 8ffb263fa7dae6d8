"""The store side of the SLURM wait (``green_mlflow.sweep.slurm``): which jobs have a FINISHED run, the run of an
attempt the scheduler requeued, and the jobs that ended without a result, recorded where the sweep reads them.

A job's runs are found by their ``slurm.job_id`` tag under the sweep's parent run; an attempt by its
``slurm.restart_count`` (absent: the first). A run ended here carries tag ``slurm.state``: REQUEUED for an
attempt its node took down (never touched again), the scheduler's final state otherwise.
"""

from __future__ import annotations

from pathlib import Path

from green_mlflow.redaction import redact_overrides
from green_mlflow.sweep.ledger import read_ledger, read_parent, record
from green_mlflow.sweep.slurm import Ended
from green_mlflow.tracking import runs
from green_mlflow.tracking.store import open_store, store_error_text, store_errors


def _store_and_parent(folder: Path):
    parent = read_parent(folder)
    if not parent:
        return None, None
    return open_store(parent["tracking_uri"], parent["experiment_name"]), parent


def finished_jobs(folder: Path, job_ids: list[str]) -> set[str]:
    """Of ``job_ids``, the jobs with a FINISHED run under the sweep's parent run (a store that does not answer:
    none, and the scheduler's word decides)."""
    try:
        store, parent = _store_and_parent(folder)
        if store is None:
            return set()
        return {
            job_id
            for job_id in job_ids
            if any(r.info.status == "FINISHED" for r in runs.children_of_slurm_job(store, parent["run_id"], job_id))
        }
    except store_errors():
        return set()


def end_requeued_attempt(folder: Path, job_id: str, restarts: int, reason: str) -> None:
    """The scheduler requeued ``job_id`` (now at ``restarts``): the runs of its earlier attempts still RUNNING lost
    their measurement and end FAILED with ``reason``. The process of such a run may live on (a node whose slurmd
    died but whose job step did not): ``sweep.job`` keeps a run it finds ended this way as it is."""
    try:
        store, parent = _store_and_parent(folder)
        if store is None:
            return
        for run in runs.children_of_slurm_job(store, parent["run_id"], job_id):
            attempt = int(run.data.tags.get("slurm.restart_count", "0") or 0)
            if run.info.status == "RUNNING" and attempt < restarts:
                tags = {"green.status_reason": f"{reason}: this measurement was lost", "slurm.state": "REQUEUED"}
                runs.log_values(store, run.info.run_id, {}, tags)
                runs.finish(store, run.info.run_id, "FAILED")
    except store_errors() as err:
        print(f"warning: the run of SLURM job {job_id}'s lost attempt could not be ended: {store_error_text(err)}")


def record_unfinished(folder: Path, overrides: list[str], ended: Ended, status: str = "FAILED") -> None:
    """A job the scheduler ended, or that left no result: its run (found by its ``slurm.job_id`` tag) ends
    ``status`` (FAILED; KILLED for the user's interrupt) with the scheduler's reason, and the sweep's ledger gets
    the job's last word (``ledger.read_ledger``). A FINISHED run, and the run of an attempt ended at a requeue,
    are left as they are."""
    parent = read_parent(folder)
    label = redact_overrides(list(overrides)) or "(defaults)"
    row = {"job": label, "status": status, "reason": ended.reason, "slurm_job_id": ended.job_id}
    if parent:
        try:
            store = open_store(parent["tracking_uri"], parent["experiment_name"])
            said_rows = {r.get("run_id"): r for r in read_ledger(folder, parent["run_id"]) if r.get("run_id")}
            for run in runs.children_of_slurm_job(store, parent["run_id"], ended.job_id):
                if run.info.status == "FINISHED" or run.data.tags.get("slurm.state") == "REQUEUED":
                    continue
                said = run.data.tags.get("green.status_reason", "")
                reason = ended.reason + (f"; the job said: {said}" if said and said not in ended.reason else "")
                runs.log_values(store, run.info.run_id, {}, {"green.status_reason": reason, "slurm.state": ended.state})
                runs.finish(store, run.info.run_id, status)
                own = said_rows.get(run.info.run_id, {})  # the job's own row, if it wrote one: this replaces it
                row.update({**own, "status": status, "reason": reason, "run_id": run.info.run_id})
                row["replaces_run_id"] = run.info.run_id
        except store_errors() as err:
            row["reason"] += f" (its run could not be marked {status}: {err})"
    record(folder, row)
