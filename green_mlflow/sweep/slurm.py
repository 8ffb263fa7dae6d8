"""SLURM jobs as the sweep sees them: their state from the scheduler, a wait with a bound, and the jobs that
ended without a result recorded where the sweep reads them (docs/team.md, "Running on a SLURM cluster").

submitit learns a job's state from ``sacct``, which needs SLURM's accounting database; on a cluster without
one it never learns that a job died before writing its result, and ``job.results()`` waits forever. Here the
state comes from ``scontrol show job`` (the controller's own memory: every job until ``MinJobAge`` after its
end) and every wait ends: a job the scheduler no longer knows, a job running past its time limit, a job
pending longer than ``max_pending_min`` and a controller that stops answering all end it, with a reason.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from green_mlflow.redaction import redact_overrides
from green_mlflow.sweep.ledger import read_ledger, read_parent, record
from green_mlflow.tracking import runs
from green_mlflow.tracking.store import open_store, store_errors

# squeue/scontrol job states (https://slurm.schedmd.com/squeue.html#SECTION_JOB-STATE-CODES)
ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD",
          "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"}  # fmt: skip
RESULT_GRACE_S = 60.0  # after the scheduler says COMPLETED, how long a shared filesystem may take to show the result
PAST_LIMIT_S = 300.0  # a job still RUNNING this long past its time limit is cancelled (the node stopped answering)
MAX_RESTARTS = 3  # a job requeued more often (preempted again and again) is cancelled
CONTROLLER_SILENT_S = 300.0  # the controller not answering this long ends the wait for every job left


@dataclass(frozen=True)
class JobState:
    """One job as ``scontrol show job`` tells it: ``state`` (RUNNING, CANCELLED, TIMEOUT, …), its ``reason``."""

    state: str
    reason: str = ""
    node: str = ""
    time_limit_s: float | None = None
    run_time_s: float | None = None
    restarts: int = 0  # requeued by the scheduler (preemption, or submitit's requeue on its signal)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


def _seconds(text: str) -> float | None:
    """SLURM's ``[days-]hours:minutes:seconds`` (or ``minutes:seconds``) as seconds; None for UNLIMITED."""
    match = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)", text.strip())
    if not match:
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def parse_show_job(text: str) -> dict[str, JobState]:
    """``scontrol show job --oneliner`` output, by submitit's job id (``<array job>_<task>`` for an array task)."""
    out = {}
    for line in text.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobId" not in fields or "JobState" not in fields:
            continue
        tasks = _array_tasks(fields.get("ArrayTaskId", ""))
        ids = [f"{fields['ArrayJobId']}_{task}" for task in tasks] if fields.get("ArrayJobId") else [fields["JobId"]]
        reason = fields.get("Reason", "")
        state = JobState(
            state=fields["JobState"],
            reason="" if reason in ("None", "(null)") else reason,
            node=fields.get("NodeList", "") if fields.get("NodeList") != "(null)" else "",
            time_limit_s=_seconds(fields.get("TimeLimit", "")),
            run_time_s=_seconds(fields.get("RunTime", "")),
            restarts=int(fields["Restarts"]) if fields.get("Restarts", "").isdigit() else 0,
        )
        out.update(dict.fromkeys(ids, state))
    return out


def _array_tasks(text: str) -> list[str]:
    """An array's task ids: ``3`` for a task of its own; ``0-3%256`` or ``1,4-6`` for the tasks still pending in
    one record (``%`` is the array's parallelism, ``:`` a step)."""
    tasks = []
    for part in text.split("%")[0].split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part)
        if match:
            first, last, step = match.groups()
            tasks += [str(i) for i in range(int(first), int(last or first) + 1, int(step or 1))]
    return tasks


def scontrol_states() -> dict[str, JobState] | None:
    """Every job the controller remembers; None when it does not answer."""
    try:
        proc = subprocess.run(
            ["scontrol", "show", "job", "--oneliner"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return {} if "No jobs in the system" in proc.stdout + proc.stderr else None
    return parse_show_job(proc.stdout)


def scheduler_message(stderr: Path) -> str:
    """The line slurmstepd writes into a job's error stream when it ends the job (``*** JOB 7 ON n1 CANCELLED
    AT … DUE TO TIME LIMIT ***``), or ``""``."""
    try:
        text = stderr.read_text(errors="replace")
    except OSError:
        return ""
    found = re.findall(r"\*\*\* (?:JOB|STEP) [^*]+\*\*\*", text)
    return found[-1] if found else ""


@dataclass(frozen=True)
class Ended:
    """How a job's wait ended: with a result file, or without one (``reason`` says why)."""

    job_id: str
    state: str
    reason: str = ""
    has_result: bool = False

    @property
    def failed(self) -> bool:
        """The scheduler ended the job (cancelled, timed out, node failure, …) or it left no result."""
        return not self.has_result or self.state not in ("COMPLETED", "")


def _describe(job_id: str, state: JobState | None, message: str, why: str = "") -> str:
    parts = [f"SLURM job {job_id} {state.state if state else 'gone'}"]
    if state and state.reason and state.reason not in ("NonZeroExitCode",):
        parts.append(f"(reason: {state.reason})")
    if state and state.state == "TIMEOUT":
        parts.append("at its time limit (hydra.launcher.timeout_min)")
    text = " ".join(parts)
    if why:
        text += f": {why}"
    if message:
        text += f"; slurmstepd: {message}"
    return text


def wait_for(
    jobs: Iterable,
    max_pending_s: float | None,
    states: Callable[[], dict[str, JobState] | None] = scontrol_states,
    cancel: Callable[[str], None] = lambda job_id: subprocess.run(["scancel", job_id], check=False),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Ended]:
    """Wait until every submitit ``job`` has ended, each wait bounded (module docstring); by job id."""
    left = {job.job_id: job for job in jobs}
    ended: dict[str, Ended] = {}
    started, last_answer, poll_s = clock(), clock(), 1.0
    completed_at: dict[str, float] = {}
    while left:
        known = states()
        now = clock()
        if known is None:
            if now - last_answer > CONTROLLER_SILENT_S:
                for job_id, job in left.items():
                    why = f"the SLURM controller did not answer for {CONTROLLER_SILENT_S:.0f} s"
                    ended[job_id] = Ended(job_id, "UNKNOWN", why, job.paths.result_pickle.exists())
                return ended
            sleep(poll_s)  # no answer says nothing of the jobs: ask again
            continue
        last_answer = now
        for job_id, job in list(left.items()):
            state = known.get(job_id)
            has_result = job.paths.result_pickle.exists()
            if state is not None and state.active:
                late = _overdue(state, now - started, max_pending_s)
                if late:
                    cancel(job_id)
                    ended[job_id] = Ended(job_id, state.state, _describe(job_id, state, "", late), has_result)
                    del left[job_id]
                continue
            if state is not None and state.state == "COMPLETED" and not has_result:
                first = completed_at.setdefault(job_id, now)  # the result may not have reached this host yet
                if now - first < RESULT_GRACE_S:
                    continue
            message = scheduler_message(job.paths.stderr)
            if state is None and not has_result:
                why = "the scheduler no longer knows the job and it left no result"
            elif not has_result:
                why = "the job left no result"
            else:
                why = ""
            reason = _describe(job_id, state, message, why) if (why or (state and state.state != "COMPLETED")) else ""
            ended[job_id] = Ended(job_id, state.state if state else "", reason, has_result)
            del left[job_id]
        if left:
            sleep(poll_s)
            poll_s = min(poll_s * 1.5, 15.0)
    return ended


def _overdue(state: JobState, waited_s: float, max_pending_s: float | None) -> str:
    if state.restarts > MAX_RESTARTS:
        return f"requeued {state.restarts} times (preempted, or stopped by its own signal): cancelled by green_mlflow"
    if state.state == "PENDING" and max_pending_s is not None and waited_s > max_pending_s:
        return (
            f"still PENDING after {waited_s / 60:.0f} min (hydra.launcher.max_pending_min): cancelled by green_mlflow"
        )
    if state.time_limit_s is not None and state.run_time_s is not None:
        if state.run_time_s > state.time_limit_s + PAST_LIMIT_S:
            return f"still {state.state} {PAST_LIMIT_S / 60:.0f} min past its time limit: cancelled by green_mlflow"
    return ""


def record_unfinished(folder: Path, overrides: list[str], ended: Ended) -> None:
    """A job the scheduler ended, or that left no result: its run (found by its ``slurm.job_id`` tag) ends FAILED
    with the scheduler's reason, and the sweep's ledger gets the job's last word (``ledger.read_ledger``)."""
    parent = read_parent(folder)
    label = redact_overrides(list(overrides)) or "(defaults)"
    row = {"job": label, "status": "FAILED", "reason": ended.reason, "slurm_job_id": ended.job_id}
    if parent:
        try:
            store = open_store(parent["tracking_uri"], parent["experiment_name"])
            said_rows = {r.get("run_id"): r for r in read_ledger(folder, parent["run_id"]) if r.get("run_id")}
            for run in runs.children_of_slurm_job(store, parent["run_id"], ended.job_id):
                said = run.data.tags.get("green.status_reason", "")
                reason = ended.reason + (f"; the job said: {said}" if said and said not in ended.reason else "")
                runs.log_values(store, run.info.run_id, {}, {"green.status_reason": reason, "slurm.state": ended.state})
                runs.finish(store, run.info.run_id, "FAILED")
                own = said_rows.get(run.info.run_id, {})  # the job's own row, if it wrote one: this replaces it
                row.update({**own, "status": "FAILED", "reason": reason, "run_id": run.info.run_id})
                row["replaces_run_id"] = run.info.run_id
        except store_errors() as err:
            row["reason"] += f" (its run could not be marked FAILED: {err})"
    record(folder, row)
