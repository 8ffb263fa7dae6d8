"""What this process's sweep came to, for ``python -m green_mlflow``'s exit code.

Hydra owns the call stack between the entry point, the callback and each job, so they cannot pass
a value to each other; they share this one typed record instead. ``begin()`` makes a fresh one at
the start of a command, ``current()`` returns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SweepOutcome:
    folder: Path | None = None  # the sweep (or run) folder holding parent_run.json and the ledger
    closed: bool = False  # the parent run was closed (or there is none to close)
    failed: int = 0  # jobs that did not finish (or 1 when nothing ran)
    exit_code: int | None = None  # set when a command is refused outright (2: bad configuration or store)
    store_lost: str | None = None  # why the tracking store stopped answering mid-sweep: later jobs are not measured
    total_jobs: int | None = None  # jobs the sweep will launch (repetitions included), for "job k/N"
    started_s: float | None = None  # time.monotonic() when the sweep began
    job_durations_s: list[float] = field(default_factory=list)  # of the jobs done so far in this process
    slurm_job_id: str | None = None  # in a job of hydra/launcher=green_slurm: its SLURM job (its ledger rows say it)

    def progress(self, k: int, now_s: float, terminal: bool = False) -> str:
        """``job k/N · elapsed … · about … left`` (the estimate from the jobs done so far in this process); on a
        terminal a bar of the jobs done leads the line (``[████░░░░] job 5/8 · …``)."""
        total = f"/{self.total_jobs}" if self.total_jobs else ""
        parts = [f"job {k}{total}"]
        if terminal and self.total_jobs:
            parts[0] = f"{bar(len(self.job_durations_s), self.total_jobs)} {parts[0]}"
        if self.started_s is not None:
            parts.append(f"elapsed {duration(now_s - self.started_s)}")
        done = self.job_durations_s
        if done and self.total_jobs:
            left = max(self.total_jobs - len(done), 0)
            if left:
                parts.append(f"about {duration(left * sum(done) / len(done))} left")
        return " · ".join(parts)

    def refuse(self, exit_code: int = 2) -> None:
        """The command was refused before anything ran."""
        self.failed, self.closed, self.exit_code = 1, True, exit_code

    def code(self) -> int:
        if self.exit_code is not None:
            return self.exit_code
        return 1 if self.failed else 0


_outcome = SweepOutcome()


def begin() -> SweepOutcome:
    """A fresh outcome for a new command in this process (tests run many in one process)."""
    global _outcome
    _outcome = SweepOutcome()
    return _outcome


def current() -> SweepOutcome:
    return _outcome


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 04 min``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def bar(done: int, total: int, width: int = 20) -> str:
    """``[██████░░░░░░░░░░░░░░]``: ``done`` of ``total`` jobs."""
    filled = round(width * min(done, total) / total) if total else 0
    return "[" + "█" * filled + "░" * (width - filled) + "]"
