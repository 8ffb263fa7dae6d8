"""SLURM jobs as ``scontrol show job`` tells them (the controller's own memory: every job until ``MinJobAge``
after its end, no accounting database needed), and the line slurmstepd leaves in a job's error stream.
``green_mlflow.sweep.slurm`` waits on them."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

# squeue/scontrol job states (https://slurm.schedmd.com/squeue.html#SECTION_JOB-STATE-CODES)
ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD",
          "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"}  # fmt: skip


@dataclass(frozen=True)
class JobState:
    """One job as ``scontrol show job`` tells it: ``state`` (RUNNING, CANCELLED, TIMEOUT, …), its ``reason``."""

    state: str
    reason: str = ""
    node: str = ""
    time_limit_s: float | None = None
    run_time_s: float | None = None
    restarts: int = 0  # requeued by the scheduler (a node failure, preemption, or submitit's requeue on its signal)
    partition: str = ""  # where it may run: one name, or several "a,b"

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
            partition=fields.get("Partition", ""),
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


def scancel(job_id: str) -> None:
    subprocess.run(["scancel", job_id], capture_output=True, check=False)


def scheduler_message(stderr) -> str:
    """The line slurmstepd writes into a job's error stream when it ends the job (``*** JOB 7 ON n1 CANCELLED
    AT … DUE TO TIME LIMIT ***``), or ``""``."""
    try:
        text = stderr.read_text(errors="replace")
    except OSError:
        return ""
    found = re.findall(r"\*\*\* (?:JOB|STEP) [^*]+\*\*\*", text)
    return found[-1] if found else ""
