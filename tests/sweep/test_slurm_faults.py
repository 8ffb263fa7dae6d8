"""Cluster faults in the SLURM wait (``green_mlflow.sweep.slurm``, ``slurm_nodes``) on scripted scheduler answers
taken from a live cluster: the progress line at each change of state or reason, the bound that fits the cause (nodes
DOWN or DRAINED: ``max_unavailable_min``; a busy queue: ``max_pending_min``), a job whose run FINISHED is done
whatever the scheduler says next, a requeued attempt's run ended FAILED with its cause, the user's interrupt, and
the ledger's one row per SLURM job. The live cluster is tests/e2e/test_slurm.py."""

from __future__ import annotations

from pathlib import Path

from green_mlflow.sweep import outcome
from green_mlflow.sweep.ledger import read_ledger, record
from green_mlflow.sweep.slurm import STOP_WAIT_S, Bounds, Scheduler, Sweep, Watch, change_words
from green_mlflow.sweep.slurm_nodes import (
    Cluster,
    Node,
    parse_show_node,
    parse_show_partition,
    reason_words,
    unavailable_cause,
)
from green_mlflow.sweep.slurm_states import JobState, parse_show_job
from tests.helpers.slurm import fake_job as job

# Debian's slurm-wlm 22.05, fields cut for length: an array task running, then requeued after `slurmd` stopped
# (its only node DOWN: the reason says None, later Resources, not that the node is gone), and the node
RUNNING = (
    "JobId=2 ArrayJobId=1 ArrayTaskId=0 JobName=wrap UserId=root(0) JobState=RUNNING Reason=None Requeue=1 "
    "Restarts=0 BatchFlag=1 RunTime=00:00:01 TimeLimit=UNLIMITED SubmitTime=2026-12-07T19:26:58 Partition=debug "
    "ReqNodeList=(null) ExcNodeList=(null) NodeList=localhost BatchHost=localhost NumNodes=1 NumCPUs=2"
)
REQUEUED = (
    "JobId=2 ArrayJobId=1 ArrayTaskId=0 JobName=wrap UserId=root(0) JobState=PENDING Reason=None Requeue=1 "
    "Restarts=1 BatchFlag=1 RunTime=00:00:00 TimeLimit=UNLIMITED SubmitTime=2026-12-07T19:27:29 Partition=debug "
    "ReqNodeList=(null) ExcNodeList=(null) NodeList= NumNodes=1 NumCPUs=1"
)
BUSY = (
    "JobId=1 ArrayJobId=1 ArrayTaskId=1 JobName=wrap UserId=root(0) JobState=PENDING Reason=Resources Requeue=1 "
    "Restarts=0 RunTime=00:00:00 TimeLimit=UNLIMITED Partition=debug ReqNodeList=(null) NodeList= NumNodes=1"
)
DRAINED_WAIT = (
    "JobId=1 JobName=wrap UserId=root(0) JobState=PENDING "
    "Reason=Nodes_required_for_job_are_DOWN,_DRAINED_or_reserved_for_jobs_in_higher_priority_partitions "
    "Requeue=1 Restarts=0 RunTime=00:00:00 TimeLimit=UNLIMITED Partition=debug NodeList= NumNodes=1"
)
NODE = (
    "NodeName=localhost Arch=x86_64 CoresPerSocket=1  CPUAlloc=0 CPUEfctv=2 CPUTot=2 NodeAddr=127.0.0.1 "
    "OS=Linux 6.18.44-fc-v1300 #1 SMP PREEMPT_DYNAMIC @0  RealMemory=4000 State={state} ThreadsPerCore=1 "
    "Partitions=debug  BootTime=2026-12-07T19:01:04 ExtSensorsTemp=n/s{reason}"
)
DOWN = NODE.format(state="DOWN+NOT_RESPONDING", reason=" Reason=Not responding [root@2026-12-07T19:27:29]")
DRAINED = NODE.format(state="IDLE+DRAIN", reason=" Reason=maintenance by test [root@2026-12-07T19:11:34]")
BUSY_NODE = NODE.format(state="ALLOCATED", reason="")
PARTITION = (
    "PartitionName=debug AllowGroups=ALL Default=YES MaxTime=UNLIMITED Nodes=localhost State={state} TotalNodes=1"
)


def cluster(*nodes: str, partition: str = "UP") -> Cluster:
    return Cluster(parse_show_node("\n".join(nodes)), parse_show_partition(PARTITION.format(state=partition)))


def test_scontrol_nodes_and_partitions_are_read_with_the_reason_and_when_it_was_given():
    nodes = parse_show_node(f"{DOWN}\n{DRAINED.replace('localhost', 'n2')}")
    assert nodes["localhost"] == Node("localhost", "DOWN+NOT_RESPONDING", "Not responding [root@2026-12-07T19:27:29]",
                                      ("debug",))  # fmt: skip
    assert nodes["n2"].unavailable and nodes["localhost"].unavailable
    assert (
        not parse_show_node(BUSY_NODE)["localhost"].unavailable and parse_show_node(BUSY_NODE)["localhost"].reason == ""
    )
    assert parse_show_partition(PARTITION.format(state="DOWN")) == {"debug": "DOWN"}
    assert parse_show_job(REQUEUED)["1_0"] == JobState("PENDING", "", "", None, 0.0, 1, "debug")


def test_a_job_waits_on_unavailable_nodes_by_its_reason_or_by_the_nodes_a_busy_queue_is_not_that():
    drained = parse_show_job(DRAINED_WAIT)["1"]
    by_reason = unavailable_cause(drained.reason, "debug", None)
    assert by_reason == "Nodes required for job are DOWN, DRAINED or reserved for jobs in higher priority partitions"
    both = unavailable_cause(drained.reason, "debug", cluster(DRAINED))
    assert both.endswith("every node of partition debug is DOWN, DRAINED or in maintenance (localhost IDLE+DRAIN "
                         "(maintenance by test [root@2026-12-07T19:11:34]))"), both  # fmt: skip
    # requeued after its node failed, the reason says nothing: the node does
    assert "localhost DOWN+NOT_RESPONDING (Not responding" in unavailable_cause("", "debug", cluster(DOWN))
    assert unavailable_cause("Resources", "debug", cluster(DOWN)).startswith("every node of partition debug")
    assert unavailable_cause("Resources", "debug", cluster(DRAINED, partition="DOWN")) == "partition debug is DOWN"
    assert unavailable_cause("PartitionDown", "debug", None) == "its partition is DOWN"
    assert unavailable_cause("ReqNodeNotAvail,_Reserved_for_maintenance", "debug", None) == (
        "a node it needs is not available (Reserved for maintenance)"
    )
    # a busy queue: a node that can take the job exists, in one of its partitions at least
    assert unavailable_cause("Resources", "debug", cluster(BUSY_NODE)) == ""
    assert unavailable_cause("Priority", "debug", cluster(DOWN, BUSY_NODE.replace("localhost", "n2"))) == ""
    gpu = DOWN.replace("localhost", "g1").replace("Partitions=debug", "Partitions=gpu")
    assert unavailable_cause("Resources", "debug,gpu", cluster(BUSY_NODE, gpu)) == ""
    assert unavailable_cause("Resources", "debug", None) == "" and reason_words("Resources").endswith("(a busy queue)")


class Live:
    """A scripted cluster and sweep: ``script(t)`` gives (scontrol's jobs, the nodes) at time t; ``finished(t)`` the
    jobs whose run FINISHED by then. Records what the wait said, cancelled and ended as requeued."""

    def __init__(self, script, finished=lambda t: set()):
        self.t, self.script, self.finished_at = 0.0, script, finished
        self.cancelled: list[str] = []
        self.said: list[str] = []
        self.requeued: list[tuple[str, int, str]] = []

    def _cancel(self, job_id: str) -> None:
        self.cancelled.append(job_id)

    def watch(self, jobs, bounds: Bounds | None = None) -> Watch:
        def sleep(s: float) -> None:
            self.t += s

        scheduler = Scheduler(
            states=lambda: self.script(self.t)[0],
            cluster=lambda: self.script(self.t)[1],
            cancel=self._cancel,
            clock=lambda: self.t,
            sleep=sleep,
            stamp=lambda: f"t+{self.t:.0f}s",
        )
        sweep = Sweep(
            finished=lambda ids: self.finished_at(self.t) & set(ids),
            requeued=lambda *args: self.requeued.append(args),
            say=self.said.append,
        )
        return Watch(jobs, bounds or Bounds(), scheduler, sweep)


def test_each_change_of_state_or_reason_is_said_once_in_one_line_the_requeue_with_its_node_and_time(tmp_path: Path):
    """Pending in a busy queue, running on its node, requeued when the node failed, then unable to start."""

    def script(t):
        if t < 5:
            return parse_show_job(f"{RUNNING.replace('RUNNING', 'PENDING').replace('localhost', '(null)')}"), None
        if t < 30:
            return parse_show_job(RUNNING), cluster(BUSY_NODE)
        return parse_show_job(REQUEUED), cluster(DOWN)

    live = Live(script)
    ended = live.watch([job(tmp_path, "1_0")], Bounds(max_unavailable_s=60)).run()
    said = [line.split("] ", 1)[1] for line in live.said]
    assert said[:2] == ["SLURM job 1_0 PENDING: queued", "SLURM job 1_0 RUNNING on node localhost"], said
    requeue = (
        "SLURM job 1_0 ended by a node failure (NODE_FAIL) and requeued (restart 1, seen at t+{s}s): node localhost "
        "DOWN+NOT_RESPONDING (Not responding [root@2026-12-07T19:27:29])"
    )
    assert said[2].startswith(requeue.format(s=int(live.requeued[0][2].split("seen at t+")[1].split("s)")[0])))
    assert said[2].endswith("the requeued job measures again, in a run of its own")
    assert said[3].startswith("SLURM job 1_0 PENDING, cannot start: every node of partition debug is DOWN")
    assert said[3].endswith("cancelled after 1 min 00 s unless a node returns (hydra.launcher.max_unavailable_min)")
    assert len(said) == 4, "a line per change, not per poll"
    (requeued,) = live.requeued
    assert requeued[:2] == ("1_0", 1) and "NODE_FAIL" in requeued[2]
    # the bound that fits the cause: a minute after the node was seen DOWN, with the requeue in the reason
    end = ended["1_0"]
    assert end.failed and live.cancelled == ["1_0"] and 90 <= live.t <= 30 + 60 + 30
    assert end.reason.startswith("SLURM job 1_0 ended by a node failure (NODE_FAIL) and requeued"), end.reason
    assert "could not start for 1 min" in end.reason and "(hydra.launcher.max_unavailable_min)" in end.reason


def test_nodes_down_end_a_job_after_the_short_bound_while_a_busy_queue_keeps_the_long_one(tmp_path: Path):
    """Job 8 waits on partition debug, whose only node is drained; job 9_0 on partition gpu, whose node is busy."""
    drained = DRAINED_WAIT.replace("JobId=1 ", "JobId=8 ")
    busy = BUSY.replace("ArrayJobId=1 ArrayTaskId=1", "ArrayJobId=9 ArrayTaskId=0").replace("=debug", "=gpu")
    nodes = cluster(DRAINED, BUSY_NODE.replace("localhost", "g1").replace("Partitions=debug", "Partitions=gpu"))
    nodes.partitions["gpu"] = "UP"
    live = Live(lambda t: (parse_show_job(f"{drained}\n{busy}"), nodes))
    watch = live.watch([job(tmp_path, "8"), job(tmp_path, "9_0")], Bounds(max_pending_s=300, max_unavailable_s=30))
    ended = watch.run()
    assert live.cancelled == ["8", "9_0"]
    assert "could not start for" in ended["8"].reason and "maintenance by test" in ended["8"].reason
    assert "still PENDING after 5 min" in ended["9_0"].reason and "max_pending_min" in ended["9_0"].reason
    said = [line.split("] ", 1)[1] for line in live.said]
    cause = unavailable_cause(parse_show_job(drained)["8"].reason, "debug", nodes)
    assert said == [
        "SLURM job 8 PENDING (Nodes required for job are DOWN, DRAINED or reserved for jobs in higher priority "
        f"partitions), cannot start: {cause}; cancelled after 30 s unless a node returns "
        "(hydra.launcher.max_unavailable_min)",
        "SLURM job 9_0 PENDING (Resources): waiting for a free node (a busy queue)",
    ]


def test_the_unavailable_clock_starts_again_when_a_node_returns(tmp_path: Path):
    """DOWN for 20 s, back (a busy queue) for 20 s, DOWN again: a 30-s bound ends it 30 s after the second time."""

    def script(t):
        down = t < 20 or t >= 40
        return parse_show_job(BUSY), cluster(DOWN if down else BUSY_NODE)

    live = Live(script)
    ended = live.watch([job(tmp_path, "1_1")], Bounds(max_unavailable_s=30)).run()
    assert ended["1_1"].failed and 70 <= live.t <= 40 + 30 + 2 * 15, live.t  # polls: every 15 s at most


def test_a_job_whose_run_finished_is_done_and_its_requeued_copy_is_cancelled_not_measured_twice(tmp_path: Path):
    """The job step outlived its slurmd: the run FINISHED, yet the scheduler requeued the job."""
    live = Live(lambda t: (parse_show_job(RUNNING if t < 10 else REQUEUED), cluster(DOWN)), lambda t: {"1_0"})
    ended = live.watch([job(tmp_path, "1_0")], Bounds(max_unavailable_s=600)).run()
    end = ended["1_0"]
    assert end.finished_run and not end.failed and end.reason == ""
    assert live.cancelled == ["1_0"] and live.t < 30
    assert live.requeued == [], "a FINISHED run is never ended FAILED"
    assert any("its run FINISHED before the scheduler requeued it — a result is a result: the requeued copy "
               "(PENDING) is cancelled, not measured twice" in line for line in live.said)  # fmt: skip


def test_a_result_is_a_result_whatever_the_scheduler_says_next(tmp_path: Path):
    """Cancelled, or failed with its node, after its run FINISHED: done. A requeued attempt that FINISHED: done."""
    cancelled = "JobId=4 JobName=x JobState=CANCELLED Reason=None Restarts=0 NodeList=n1 Partition=debug"
    node_fail = "JobId=5 JobName=x JobState=NODE_FAIL Reason=None Restarts=0 NodeList=n1 Partition=debug"
    again = REQUEUED.replace("JobState=PENDING", "JobState=COMPLETED").replace(
        "JobId=2 ArrayJobId=1", "JobId=2 ArrayJobId=6"
    )
    live = Live(lambda t: (parse_show_job(f"{cancelled}\n{node_fail}\n{again}"), None), lambda t: {"4", "5", "6_0"})
    ended = live.watch([job(tmp_path, "4"), job(tmp_path, "5"), job(tmp_path, "6_0", result=True)]).run()
    assert all(e.finished_run and not e.failed for e in ended.values()) and live.cancelled == []
    # and without a FINISHED run, the scheduler's word stands: NODE_FAIL, on its node
    live = Live(lambda t: (parse_show_job(node_fail), None))
    (end,) = live.watch([job(tmp_path, "5")]).run().values()
    assert end.failed and end.reason.startswith("SLURM job 5 NODE_FAIL on node n1: the job left no result")


def test_a_requeued_attempt_that_measures_again_and_finishes_is_done(tmp_path: Path):
    """Requeued after a node failure, the node back: the new attempt runs and completes; the lost attempt's run was
    ended when the requeue was seen, once."""

    def script(t):
        if t < 10:
            return parse_show_job(RUNNING), cluster(BUSY_NODE)
        if t < 30:
            return parse_show_job(REQUEUED), cluster(DOWN)
        if t < 60:
            return parse_show_job(RUNNING.replace("Restarts=0", "Restarts=1")), cluster(BUSY_NODE)
        return parse_show_job(REQUEUED.replace("PENDING", "COMPLETED")), cluster(BUSY_NODE)

    done = job(tmp_path, "1_0")
    live = Live(script, lambda t: {"1_0"} if t >= 60 else set())
    ended = live.watch([done], Bounds(max_unavailable_s=600)).run()
    assert not ended["1_0"].failed and live.cancelled == [] and len(live.requeued) == 1


def test_an_interrupt_cancels_the_jobs_left_and_ends_each_with_why(tmp_path: Path):
    """Ctrl-C with one job running and one pending: both cancelled, the wait lasting until they leave their node."""
    both = parse_show_job(f"{RUNNING}\n{BUSY}")
    gone = {job_id: JobState("CANCELLED", node="localhost") for job_id in both}
    live = Live(lambda t: (both if t < 5 else gone, None))
    ended = live.watch([job(tmp_path, "1_0"), job(tmp_path, "1_1")]).stop("the sweep was interrupted (SIGINT, Ctrl-C)")
    assert live.cancelled == ["1_0", "1_1"] and 5 <= live.t < 10
    assert {e.job_id: (e.state, e.reason) for e in ended.values()} == {
        j: ("CANCELLED", f"SLURM job {j}: the sweep was interrupted (SIGINT, Ctrl-C)") for j in both
    }
    assert all(e.failed for e in ended.values())
    # a job whose run FINISHED (the scheduler still says RUNNING: it wraps up) is done, neither named nor cancelled;
    # one still on its node after the bounded wait says so
    live = Live(lambda t: (both, None), lambda t: {"1_0"})
    named: list[list[str]] = []
    watch = live.watch([job(tmp_path, "1_0"), job(tmp_path, "1_1")])
    ended = watch.stop("interrupted", named.append)
    assert named == [["1_1"]] and live.cancelled == ["1_1"] and watch.stopped == ["1_1"]
    assert not ended["1_0"].failed and ended["1_1"].failed and live.t > STOP_WAIT_S
    assert ended["1_1"].reason == "SLURM job 1_1: interrupted (still on its node after the wait)"


def test_the_line_for_each_state_names_what_the_user_needs():
    bounds = Bounds(max_unavailable_s=600)
    assert change_words(JobState("RUNNING", node="n3"), "", bounds) == "RUNNING on node n3"
    assert (
        change_words(JobState("PENDING", "Priority"), "", bounds)
        == "PENDING (Priority): other jobs go first (a busy queue)"
    )
    assert change_words(JobState("PENDING", "BeginTime"), "", bounds).startswith("PENDING (BeginTime): held until")
    assert change_words(JobState("PENDING"), "partition debug is DOWN", Bounds()) == (
        "PENDING, cannot start: partition debug is DOWN"
    )
    assert change_words(JobState("NODE_FAIL", node="n3"), "", bounds) == "NODE_FAIL on node n3"
    assert change_words(JobState("CANCELLED", "None", "n3"), "", bounds) == "CANCELLED on node n3 (None)"


def test_the_ledger_keeps_one_row_per_slurm_job_its_finished_one_if_any(tmp_path: Path):
    rows = [
        {"job": "a", "status": "FAILED", "run_id": "r1", "slurm_job_id": "3_0", "reason": "NODE_FAIL … lost"},
        {"job": "b", "status": "FINISHED", "run_id": "r2", "slurm_job_id": "3_1"},
        {"job": "c", "status": "PRUNED", "reason": "no GPU"},
        {"job": "a", "status": "FINISHED", "run_id": "r3", "slurm_job_id": "3_0"},  # the requeued attempt
        {"job": "b", "status": "FAILED", "slurm_job_id": "3_1", "reason": "SLURM job 3_1 CANCELLED"},  # said late
        {"job": "d", "status": "FAILED", "run_id": "r4", "slurm_job_id": "3_2", "reason": "lost with its node"},
        {"job": "d", "status": "FAILED", "slurm_job_id": "3_2", "reason": "could not start: cancelled"},
    ]
    for row in rows:
        record(tmp_path, {**row, "parent_run_id": "p"})
    kept = read_ledger(tmp_path, "p")
    assert [(r["job"], r["status"], r.get("run_id"), r.get("reason")) for r in kept] == [
        ("a", "FINISHED", "r3", None),
        ("b", "FINISHED", "r2", None),
        ("c", "PRUNED", None, "no GPU"),
        ("d", "FAILED", None, "could not start: cancelled"),
    ]


def test_a_slurm_jobs_ledger_rows_name_it(tmp_path: Path):
    state = outcome.begin()
    state.slurm_job_id = "7_2"
    try:
        record(tmp_path, {"job": "x", "status": "FINISHED", "parent_run_id": "p"})
        record(tmp_path, {"job": "y", "status": "FAILED", "parent_run_id": "p", "slurm_job_id": "7_3"})
    finally:
        outcome.begin()
    record(tmp_path, {"job": "z", "status": "FINISHED", "parent_run_id": "p"})  # the basic launcher: no SLURM job
    assert [r.get("slurm_job_id") for r in read_ledger(tmp_path, "p")] == ["7_2", "7_3", None]


def test_sigterm_on_the_sweep_cancels_its_jobs_says_so_and_records_them_killed(tmp_path: Path, capsys):
    """The launcher's side of the interrupt (green_slurm._interrupted), for SIGTERM (``__main__.Terminated``): the
    jobs left are cancelled, a second signal is held off meanwhile, and each job left gets a KILLED ledger row."""
    import signal

    from green_mlflow.__main__ import Terminated
    from hydra_plugins.green_mlflow_launcher.green_slurm import _interrupted

    both = parse_show_job(f"{RUNNING}\n{BUSY}")
    held: list = []
    live = Live(lambda t: (both if t < 3 else {j: JobState("CANCELLED") for j in both}, None))
    live._cancel = lambda job_id: (live.cancelled.append(job_id), held.append(signal.getsignal(signal.SIGTERM)))
    jobs = {0: job(tmp_path, "1_0"), 1: job(tmp_path, "1_1")}
    before = signal.getsignal(signal.SIGTERM)
    _interrupted(live.watch(jobs.values()), jobs, [["seed=1"], ["seed=2"]], tmp_path, Terminated())
    out = capsys.readouterr().out
    assert "interrupted (SIGTERM): cancelling SLURM job(s) 1_0, 1_1 (pending or running)" in out
    assert "cancelled 2 SLURM job(s); their runs ended KILLED. Run the same command again" in out
    assert live.cancelled == ["1_0", "1_1"] and held == [signal.SIG_IGN] * 2
    assert signal.getsignal(signal.SIGTERM) == before, "the handler is given back"
    rows = read_ledger(tmp_path)
    assert [(r["job"], r["status"], r["slurm_job_id"]) for r in rows] == [
        ("seed=1", "KILLED", "1_0"),
        ("seed=2", "KILLED", "1_1"),
    ]
    assert all(r["reason"].endswith("the sweep was interrupted (SIGTERM)") for r in rows), rows
