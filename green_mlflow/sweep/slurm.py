"""SLURM jobs as the sweep sees them: their state from the scheduler, said on screen as it changes, and a wait
with a bound that fits its cause (docs/team.md, "Running on a SLURM cluster").

submitit learns a job's state from ``sacct``, which needs SLURM's accounting database; on a cluster without
one it never learns that a job died before writing its result, and ``job.results()`` waits forever. Here the
state comes from ``scontrol show job`` (the controller's own memory: every job until ``MinJobAge`` after its
end) and every wait ends: a job the scheduler no longer knows, a job running past its time limit, a job that
cannot start because every node it may use is DOWN or DRAINED (``max_unavailable_min``), a job pending in a busy
queue longer than ``max_pending_min`` and a controller that stops answering all end it, with a reason.

A result is a result: a job whose run FINISHED is done, whatever the scheduler says next (a copy it requeued
after a node failure is cancelled, not measured twice). A job requeued while its run was measuring lost that
measurement: the run ends FAILED with the cause (``Sweep.requeued``), and the requeued job measures again in a
run of its own. The store side of both is ``green_mlflow.sweep.slurm_runs``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from green_mlflow.sweep.outcome import duration
from green_mlflow.sweep.slurm_nodes import Cluster, node_words, reason_words, scontrol_cluster, unavailable_cause
from green_mlflow.sweep.slurm_states import ACTIVE, JobState, scancel, scheduler_message, scontrol_states

RESULT_GRACE_S = 60.0  # after the scheduler says COMPLETED, how long a shared filesystem may take to show the result
PAST_LIMIT_S = 300.0  # a job still RUNNING this long past its time limit is cancelled (the node stopped answering)
MAX_RESTARTS = 3  # a job requeued more often (preempted again and again) is cancelled
CONTROLLER_SILENT_S = 300.0  # the controller not answering this long ends the wait for every job left
STOP_WAIT_S = 90.0  # after an interrupt cancelled the jobs, how long to wait for them to leave their nodes
LINE_IDS = 4  # job ids named in one progress line before "… (N jobs)"


@dataclass(frozen=True)
class Ended:
    """How a job's wait ended: with its run FINISHED or a result file, or without (``reason`` says why)."""

    job_id: str
    state: str
    reason: str = ""
    has_result: bool = False
    finished_run: bool = False  # its run FINISHED: done, whatever the scheduler said after (a result is a result)

    @property
    def failed(self) -> bool:
        """The scheduler ended the job (cancelled, timed out, node failure, …) or it left no result."""
        if self.finished_run:
            return False
        return not self.has_result or self.state not in ("COMPLETED", "")


@dataclass(frozen=True)
class Bounds:
    """How long a job may wait to start: in a busy queue (``max_pending_min``), and when every node it may use is
    DOWN, DRAINED or reserved or its partition is down (``max_unavailable_min``); None: no bound."""

    max_pending_s: float | None = None
    max_unavailable_s: float | None = None


def _say(line: str) -> None:
    print(line, flush=True)


@dataclass
class Scheduler:
    """What the wait asks of SLURM and tells it (the tests script these)."""

    states: Callable[[], dict[str, JobState] | None] = scontrol_states
    cluster: Callable[[], Cluster | None] = scontrol_cluster
    cancel: Callable[[str], None] = scancel
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    stamp: Callable[[], str] = lambda: time.strftime("%H:%M:%S")


@dataclass
class Sweep:
    """What the wait asks of the sweep's runs and tells it (``slurm_runs`` against the store; a screen)."""

    finished: Callable[[list[str]], set[str]] = lambda job_ids: set()  # of these jobs, those with a FINISHED run
    requeued: Callable[[str, int, str], None] = lambda job_id, restarts, reason: None  # end the lost attempt's run
    say: Callable[[str], None] = _say


def wait_for(
    jobs: Iterable,
    max_pending_s: float | None,
    states: Callable[[], dict[str, JobState] | None] = scontrol_states,
    cancel: Callable[[str], None] = scancel,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Ended]:
    """Wait until every submitit ``job`` has ended, bounded only by ``max_pending_s`` and the fixed bounds."""
    scheduler = Scheduler(states=states, cluster=lambda: None, cancel=cancel, clock=clock, sleep=sleep)
    return Watch(jobs, Bounds(max_pending_s), scheduler, Sweep(say=lambda line: None)).run()


@dataclass
class _Seen:
    """What the wait knows of one job beyond its last state."""

    said: tuple | None = None  # the (state, reason, node, cause) last said on screen
    node: str = ""  # the node it last ran on
    restarts: int = 0  # requeues already handled
    pending_since: float | None = None
    unavailable_since: float | None = None
    history: list[str] = field(default_factory=list)  # its requeues, said again in its final reason
    completed_at: float | None = None


class Watch:
    """Watch submitit ``jobs`` until each has ended (``run``), saying each change of state or reason in one line;
    ``stop`` cancels the ones left (the user's interrupt). ``ended`` holds every job's end so far, by job id."""

    def __init__(self, jobs: Iterable, bounds: Bounds = Bounds(), scheduler: Scheduler | None = None,
                 sweep: Sweep | None = None):  # fmt: skip
        self.jobs = {job.job_id: job for job in jobs}
        self.left = dict(self.jobs)
        self.ended: dict[str, Ended] = {}
        self.bounds, self.scheduler, self.sweep = bounds, scheduler or Scheduler(), sweep or Sweep()
        self.seen = {job_id: _Seen() for job_id in self.jobs}
        self.stopped: list[str] = []  # the jobs ``stop`` cancelled

    def run(self) -> dict[str, Ended]:
        s = self.scheduler
        last_answer, poll_s = s.clock(), 1.0
        while self.left:
            known = s.states()
            now = s.clock()
            if known is None:
                if now - last_answer > CONTROLLER_SILENT_S:
                    why = f"the SLURM controller did not answer for {CONTROLLER_SILENT_S:.0f} s"
                    for job_id in list(self.left):
                        self._end(job_id, "UNKNOWN", why, self._has_result(job_id))
                    return self.ended
                s.sleep(poll_s)  # no answer says nothing of the jobs: ask again
                continue
            last_answer = now
            self._poll(known, now)
            if self.left:
                s.sleep(poll_s)
                poll_s = min(poll_s * 1.5, 15.0)
        return self.ended

    def _poll(self, known: dict[str, JobState], now: float) -> None:
        states = {job_id: known.get(job_id) for job_id in self.left}
        cluster = None
        if any(st and (st.state == "PENDING" or st.restarts > self.seen[j].restarts) for j, st in states.items()):
            cluster = self.scheduler.cluster()
        # a result is a result: asked of the store only for jobs the scheduler requeued or ended without COMPLETED
        doubtful = [
            j for j, st in states.items() if st is None or st.restarts > 0 or st.state not in ACTIVE | {"COMPLETED"}
        ]
        finished = self.sweep.finished(doubtful) if doubtful else set()
        lines: dict[str, list[str]] = {}
        for job_id, state in states.items():
            if job_id in finished:
                self._done_by_its_run(job_id, state)
                continue
            cause = (
                unavailable_cause(state.reason, state.partition, cluster) if state and state.state == "PENDING" else ""
            )
            self._note(job_id, state, cause, cluster, now, lines)
            if state is not None and state.active:
                late = self._overdue(job_id, state, cause, now)
                if late:
                    self.scheduler.cancel(job_id)
                    self._end(job_id, state.state, _describe(job_id, state, "", late), self._has_result(job_id))
                continue
            has_result = self._has_result(job_id)
            seen = self.seen[job_id]
            if state is not None and state.state == "COMPLETED" and not has_result:
                seen.completed_at = seen.completed_at if seen.completed_at is not None else now
                if now - seen.completed_at < RESULT_GRACE_S:  # the result may not have reached this host yet
                    continue
            self._end(job_id, state.state if state else "", self._why(job_id, state, has_result), has_result)
        for what, ids in lines.items():
            self.sweep.say(f"[{self.scheduler.stamp()}] {_ids(ids)} {what}")

    def _note(self, job_id: str, state: JobState | None, cause: str, cluster: Cluster | None, now: float,
              lines: dict[str, list[str]]) -> None:  # fmt: skip
        """Track the job's spells (pending, unavailable), handle a requeue, and collect a line if anything the user
        should know changed."""
        seen = self.seen[job_id]
        if state is None:
            return
        if state.restarts > seen.restarts:
            text = _requeue_text(job_id, state.restarts, seen.node, cluster, self.scheduler.stamp())
            seen.restarts = state.restarts
            seen.history.append(text)
            self.sweep.say(f"[{self.scheduler.stamp()}] {text}: the measurement it was making is lost (its run "
                           "ends FAILED); the requeued job measures again, in a run of its own")  # fmt: skip
            self.sweep.requeued(job_id, state.restarts, text)
        if state.node:
            seen.node = state.node
        pending = state.state == "PENDING"
        seen.pending_since = (seen.pending_since if seen.pending_since is not None else now) if pending else None
        seen.unavailable_since = (
            (seen.unavailable_since if seen.unavailable_since is not None else now) if cause else None
        )
        key = (state.state, state.reason, state.node, cause)
        if key != seen.said:
            seen.said = key
            lines.setdefault(change_words(state, cause, self.bounds), []).append(job_id)

    def _overdue(self, job_id: str, state: JobState, cause: str, now: float) -> str:
        seen, b = self.seen[job_id], self.bounds
        if state.restarts > MAX_RESTARTS:
            return (
                f"requeued {state.restarts} times (preempted, or stopped by its own signal): cancelled by green_mlflow"
            )
        if cause and b.max_unavailable_s is not None and now - seen.unavailable_since > b.max_unavailable_s:
            return (
                f"could not start for {duration(now - seen.unavailable_since)}: {cause} "
                "(hydra.launcher.max_unavailable_min): cancelled by green_mlflow"
            )
        if state.state == "PENDING" and b.max_pending_s is not None and now - seen.pending_since > b.max_pending_s:
            return (
                f"still PENDING after {duration(now - seen.pending_since)} (hydra.launcher.max_pending_min): "
                "cancelled by green_mlflow"
            )
        if state.time_limit_s is not None and state.run_time_s is not None:
            if state.run_time_s > state.time_limit_s + PAST_LIMIT_S:
                return f"still {state.state} {PAST_LIMIT_S / 60:.0f} min past its time limit: cancelled by green_mlflow"
        return ""

    def _done_by_its_run(self, job_id: str, state: JobState | None) -> None:
        """Its run FINISHED: the job is done. A copy the scheduler requeued (pending, or measuring again) is
        cancelled; a job still wrapping up its first attempt is left to end on its own."""
        if state is not None and state.active and state.restarts > 0:
            self.scheduler.cancel(job_id)
            self.sweep.say(
                f"[{self.scheduler.stamp()}] SLURM job {job_id}: its run FINISHED before the scheduler requeued it "
                f"— a result is a result: the requeued copy ({state.state}) is cancelled, not measured twice"
            )
        self._end(job_id, state.state if state else "", "", self._has_result(job_id), finished_run=True)

    def _why(self, job_id: str, state: JobState | None, has_result: bool) -> str:
        message = scheduler_message(self.jobs[job_id].paths.stderr)
        if state is None and not has_result:
            why = "the scheduler no longer knows the job and it left no result"
        elif not has_result:
            why = "the job left no result"
        else:
            why = ""
        return _describe(job_id, state, message, why) if (why or (state and state.state != "COMPLETED")) else ""

    def _has_result(self, job_id: str) -> bool:
        return self.jobs[job_id].paths.result_pickle.exists()

    def _end(self, job_id: str, state: str, reason: str, has_result: bool, finished_run: bool = False) -> None:
        history = self.seen[job_id].history
        if reason and history:
            reason = "; ".join([*history, reason])
        self.ended[job_id] = Ended(job_id, state, reason, has_result, finished_run)
        self.left.pop(job_id, None)

    def stop(self, why: str, announce: Callable[[list[str]], None] = lambda job_ids: None) -> dict[str, Ended]:
        """The user's interrupt: the jobs that ended or whose run FINISHED meanwhile end as usual; the others are
        named (``announce``), cancelled, waited for until they leave their nodes (at most ``STOP_WAIT_S``) and
        ended with ``why``. ``stopped`` lists them."""
        s = self.scheduler
        known = s.states()
        if known is not None:
            self._poll(known, s.clock())
        done = self.sweep.finished(list(self.left)) if self.left else set()
        for job_id in done:
            self._done_by_its_run(job_id, (known or {}).get(job_id))
        self.stopped = ids = list(self.left)
        if not ids:
            return self.ended
        announce(ids)
        for job_id in ids:
            s.cancel(job_id)
        deadline, known = s.clock() + STOP_WAIT_S, s.states()
        while known is None or any(known.get(j) and known[j].active for j in ids):
            if s.clock() > deadline:
                break
            s.sleep(1.0)
            known = s.states()
        finished = self.sweep.finished(ids)
        for job_id in ids:
            state = (known or {}).get(job_id)
            if job_id in finished:  # it FINISHED in the moment before the cancel arrived: a result is a result
                self._end(job_id, state.state if state else "", "", self._has_result(job_id), finished_run=True)
                continue
            still = " (still on its node after the wait)" if state and state.active else ""
            self._end(job_id, state.state if state else "CANCELLED", f"SLURM job {job_id}: {why}{still}", False)
        return self.ended


def _describe(job_id: str, state: JobState | None, message: str, why: str = "") -> str:
    parts = [f"SLURM job {job_id} {state.state if state else 'gone'}"]
    if state and state.node and state.state not in ("PENDING", "COMPLETED"):
        parts.append(f"on node {state.node}")
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


def _requeue_text(job_id: str, restarts: int, node: str, cluster: Cluster | None, stamp: str) -> str:
    """Why the scheduler put a job back in the queue: its node failed (NODE_FAIL: the node is DOWN now), or
    something else (preemption, ``scontrol requeue``, submitit's own requeue at its signal)."""
    found = cluster.nodes.get(node) if cluster is not None and node else None
    if found is not None and found.unavailable:
        return f"SLURM job {job_id} ended by a node failure (NODE_FAIL) and requeued (restart {restarts}, seen at " \
               f"{stamp}): node {node_words(found)}"  # fmt: skip
    where = f" from node {node}" if node else ""
    return f"SLURM job {job_id} requeued by the scheduler{where} (restart {restarts}, seen at {stamp}; preempted, or " \
           "scontrol requeue)"  # fmt: skip


def change_words(state: JobState, cause: str, bounds: Bounds) -> str:
    """One job's state as its progress line says it (after ``SLURM job <id>``)."""
    if state.state == "RUNNING":
        return f"RUNNING on node {state.node}" if state.node else "RUNNING"
    if state.state == "PENDING" and cause:
        scheduler = f" ({state.reason.replace('_', ' ')})" if state.reason else ""  # as squeue says it
        said = f"PENDING{scheduler}, cannot start: {cause}"
        bound = bounds.max_unavailable_s
        if bound is None:
            return said
        return f"{said}; cancelled after {duration(bound)} unless a node returns (hydra.launcher.max_unavailable_min)"
    if state.state == "PENDING":
        return f"PENDING ({state.reason}): {reason_words(state.reason)}" if state.reason else "PENDING: queued"
    where = f" on node {state.node}" if state.node and state.state not in ("COMPLETED",) else ""
    return f"{state.state}{where}" + (f" ({state.reason})" if state.reason else "")


def _ids(ids: list[str]) -> str:
    if len(ids) == 1:
        return f"SLURM job {ids[0]}"
    shown = ", ".join(ids[:LINE_IDS]) + (f", … ({len(ids)} jobs)" if len(ids) > LINE_IDS else "")
    return f"SLURM jobs {shown}"
