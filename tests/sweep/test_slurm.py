"""The SLURM wait and its bounds (``green_mlflow.sweep.slurm``, ``slurm_states``) on scripted scheduler answers,
the one-job-per-device check of the launcher configuration (``green_mlflow.sweep.devices``), and the ledger's last
word per job. The live cluster is tests/e2e/test_slurm.py; these are the cases a live cluster cannot be made to
show on demand (cluster faults: test_slurm_faults.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from green_mlflow.sweep.devices import LauncherError, check_launcher
from green_mlflow.sweep.ledger import read_ledger, record
from green_mlflow.sweep.slurm import CONTROLLER_SILENT_S, PAST_LIMIT_S, RESULT_GRACE_S, wait_for
from green_mlflow.sweep.slurm_states import JobState, parse_show_job, scheduler_message
from green_mlflow.tracking.runs import slurm_tags
from tests.helpers.slurm import fake_job as job

# `scontrol show job --oneliner` on Debian's slurm-wlm 22.05 (fields cut for length): an array task, a plain job
SHOW_JOB = (
    "JobId=8 ArrayJobId=7 ArrayTaskId=1 JobName=green_mlflow UserId=root(0) GroupId=root(0) MCS_label=N/A "
    "Priority=4294901757 Nice=0 Account=(null) QOS=(null) JobState=TIMEOUT Reason=TimeLimit Dependency=(null) "
    "Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:15 RunTime=00:01:04 TimeLimit=00:01:00 TimeMin=N/A "
    "Partition=debug NodeList=localhost BatchHost=localhost NumNodes=1 NumCPUs=2\n"
    "JobId=1 JobName=wrap UserId=root(0) GroupId=root(0) JobState=CANCELLED Reason=None Dependency=(null) "
    "RunTime=00:00:01 TimeLimit=1-02:03:04 NodeList=localhost\n"
    "JobId=9 ArrayJobId=7 ArrayTaskId=2 JobName=green_mlflow JobState=PENDING Reason=Resources RunTime=00:00:00 "
    "TimeLimit=UNLIMITED NodeList=(null)\n"
    # the tasks of an array not yet started share one record
    "JobId=10 ArrayJobId=10 ArrayTaskId=0-2,5%256 JobName=green_mlflow JobState=PENDING Reason=None "
    "RunTime=00:00:00 TimeLimit=00:10:00 NodeList=(null)\n"
)


def test_scontrol_lines_become_states_by_submitits_job_id():
    states = parse_show_job(SHOW_JOB)
    assert set(states) == {"7_1", "1", "7_2", "10_0", "10_1", "10_2", "10_5"}
    assert states["10_5"] == JobState("PENDING", "", "", 600.0, 0.0)
    assert states["7_1"] == JobState("TIMEOUT", "TimeLimit", "localhost", 60.0, 64.0, partition="debug")
    assert states["1"].state == "CANCELLED" and states["1"].reason == "" and states["1"].time_limit_s == 93784.0
    assert states["7_2"].active and states["7_2"].time_limit_s is None and states["7_2"].node == ""


def test_the_schedulers_message_is_read_from_the_jobs_error_stream(tmp_path: Path):
    err = tmp_path / "7_1_0_log.err"
    err.write_text("warning: x\nslurmstepd-localhost: error: *** JOB 8 ON localhost CANCELLED AT 2026-12-05T06:20:58 "
                   "DUE TO TIME LIMIT ***\n")  # fmt: skip
    assert scheduler_message(err) == "*** JOB 8 ON localhost CANCELLED AT 2026-12-05T06:20:58 DUE TO TIME LIMIT ***"
    assert scheduler_message(tmp_path / "missing") == ""


class Scheduler:
    """Scripted answers: ``script(t)`` gives what ``scontrol`` says at time t (None: no answer)."""

    def __init__(self, script):
        self.t, self.script, self.cancelled = 0.0, script, []

    def states(self):
        return self.script(self.t)

    def sleep(self, s: float) -> None:
        self.t += s

    def wait(self, jobs, max_pending_s=None):
        return wait_for(jobs, max_pending_s, self.states, self.cancelled.append, lambda: self.t, self.sleep)


def test_a_finished_job_and_a_cancelled_one_end_the_wait_each_with_what_happened(tmp_path: Path):
    ok, cancelled = job(tmp_path, "3_0", result=True), job(tmp_path, "3_1", message="*** JOB 5 ON n CANCELLED AT t ***")
    s = Scheduler(lambda t: {"3_0": JobState("RUNNING" if t < 5 else "COMPLETED"), "3_1": JobState("CANCELLED")})
    ended = s.wait([ok, cancelled])
    assert not ended["3_0"].failed and ended["3_0"].reason == ""
    assert ended["3_1"].failed and ended["3_1"].reason == "SLURM job 3_1 CANCELLED: the job left no result; " \
        "slurmstepd: *** JOB 5 ON n CANCELLED AT t ***"  # fmt: skip
    assert 5 <= s.t < 30


def test_a_job_the_scheduler_ended_after_it_wrote_a_result_still_failed(tmp_path: Path):
    """A cancelled job whose worker died of the SIGTERM writes a result all the same: the scheduler has the last word."""
    timed_out = job(tmp_path, "4_0", result=True, message="*** JOB 4 ON n CANCELLED AT t DUE TO TIME LIMIT ***")
    ended = Scheduler(lambda t: {"4_0": JobState("TIMEOUT", "TimeLimit")}).wait([timed_out])
    assert ended["4_0"].failed and ended["4_0"].has_result
    assert ended["4_0"].reason.startswith(
        "SLURM job 4_0 TIMEOUT (reason: TimeLimit) at its time limit (hydra.launcher.timeout_min); slurmstepd: *** JOB 4"
    )


@pytest.mark.parametrize(
    "script,expected,max_pending_s,cancelled",
    [
        # the job left the controller's memory without a result (MinJobAge passed, or a restarted controller)
        (lambda t: {"5_0": JobState("RUNNING")} if t < 20 else {}, "gone: the scheduler no longer knows", None, False),
        # the controller stops answering: the wait ends after CONTROLLER_SILENT_S
        (lambda t: {"5_0": JobState("RUNNING")} if t < 20 else None, "did not answer for 300 s", None, False),
        # PENDING longer than max_pending_min: cancelled
        (lambda t: {"5_0": JobState("PENDING", "Resources")}, "still PENDING after 2 min", 120.0, True),
        # RUNNING long past its time limit (a node that stopped answering): cancelled
        (lambda t: {"5_0": JobState("RUNNING", "", "n1", 60.0, 60.0 + t)}, "min past its time limit", None, True),
        # requeued again and again (preempted, or a signal before the job could start): cancelled
        (lambda t: {"5_0": JobState("RUNNING", restarts=int(t // 30))}, "requeued 4 times", None, True),
        # COMPLETED, but the result never reaches this host: the wait gives it RESULT_GRACE_S
        (lambda t: {"5_0": JobState("COMPLETED")}, "COMPLETED: the job left no result", None, False),
    ],
)
def test_every_wait_has_a_bound(tmp_path: Path, script, expected, max_pending_s, cancelled):
    s = Scheduler(script)
    ended = s.wait([job(tmp_path, "5_0")], max_pending_s)
    assert ended["5_0"].failed and expected in ended["5_0"].reason, ended["5_0"].reason
    assert s.cancelled == (["5_0"] if cancelled else [])
    assert s.t <= max(CONTROLLER_SILENT_S, PAST_LIMIT_S, max_pending_s or 0) + 120


def test_a_result_that_arrives_within_the_grace_counts(tmp_path: Path):
    late = job(tmp_path, "6_0")

    def script(t):
        if t > RESULT_GRACE_S / 2:
            late.paths.result_pickle.write_bytes(b"x")  # a shared filesystem catching up
        return {"6_0": JobState("COMPLETED")}

    ended = Scheduler(script).wait([late])
    assert not ended["6_0"].failed and ended["6_0"].has_result


# --- one measurement per device ----------------------------------------------------------------------------------

GREEN = {"_target_": "hydra_plugins.green_mlflow_launcher.green_slurm.GreenSlurmLauncher", "tasks_per_node": 1,
         "gpus_per_node": None, "additional_parameters": {"exclusive": True}, "array_parallelism": 256}  # fmt: skip
PLAIN = {**GREEN, "_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"}


@pytest.mark.parametrize(
    "launcher,providers,refused",
    [
        ({**GREEN, "tasks_per_node": 2}, {"cpu"}, "tasks_per_node=2 would run each job's measurement 2 times at once"),
        ({**GREEN, "gpus_per_node": 0}, {"cuda"}, "provider=cuda jobs would run without a GPU of their own"),
        ({**PLAIN, "gpus_per_node": None}, {"tensorrt", "cpu"}, "provider=tensorrt jobs would run without a GPU"),
        ({**GREEN, "additional_parameters": {}}, {"cpu"}, "provider=cpu jobs could share a node"),
        ({**GREEN, "timeout_min": 1, "signal_delay_s": 120}, {"cpu"}, "signal_delay_s=120 is not below the time limit"),
    ],
)
def test_a_launcher_that_would_put_two_measurements_on_one_device_is_refused(launcher, providers, refused):
    with pytest.raises(LauncherError, match=refused.replace("(", r"\(")):
        check_launcher(launcher, providers)


def test_launchers_that_keep_one_measurement_per_device_pass_and_a_shared_node_warns():
    assert check_launcher(GREEN, {"cpu", "cuda", "tensorrt"}) == []
    assert check_launcher({**GREEN, "additional_parameters": {}, "array_parallelism": 1}, {"cpu"}) == []
    (shared,) = check_launcher({**GREEN, "additional_parameters": {}}, {"cuda"})
    assert "CPU and DRAM energy (a whole package) includes their neighbours'" in shared
    (plain,) = check_launcher({**PLAIN, "gpus_per_node": 1}, {"cuda"})
    assert "waits with a bound" in plain
    assert check_launcher({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}, {"cpu"}) == []


def test_slurm_tags_name_the_job_as_submitit_does():
    env = {"SLURM_JOB_ID": "12", "SLURM_ARRAY_JOB_ID": "11", "SLURM_ARRAY_TASK_ID": "1", "SLURMD_NODENAME": "n3",
           "SLURM_JOB_PARTITION": "gpu"}  # fmt: skip
    assert slurm_tags(env) == {"slurm.job_id": "11_1", "slurm.node": "n3", "slurm.partition": "gpu"}
    assert slurm_tags({"SLURM_JOB_ID": "5"}) == {"slurm.job_id": "5"} and slurm_tags({}) == {}
    # a requeued attempt (SLURM sets the count from the first requeue on): the launcher tells its run from the lost one
    assert slurm_tags({"SLURM_JOB_ID": "5", "SLURM_RESTART_COUNT": "1"}) == {
        "slurm.job_id": "5",
        "slurm.restart_count": "1",
    }


def test_the_launchers_row_replaces_the_jobs_own_row_of_that_run_in_its_place(tmp_path: Path):
    label = "torch mobilenet_v2 bs=1 cpu eager"  # two jobs may share a label (it leaves out model.image_size)
    for row in (
        {"job": label, "status": "FAILED", "reason": "worker killed by SIGTERM", "run_id": "r1"},
        {"job": label, "status": "FINISHED", "run_id": "r2"},
        {"job": "runtime=onnx", "status": "PRUNED", "reason": "no GPU"},
        {
            "job": label,
            "status": "FAILED",
            "reason": "SLURM job 3_0 CANCELLED",
            "run_id": "r1",
            "replaces_run_id": "r1",
        },
    ):
        record(tmp_path, {**row, "parent_run_id": "p1"})
    record(tmp_path, {"job": label, "status": "FINISHED", "run_id": "r3", "parent_run_id": "p2"})
    rows = read_ledger(tmp_path, "p1")
    assert [(r.get("run_id"), r["status"], r.get("reason")) for r in rows] == [
        ("r1", "FAILED", "SLURM job 3_0 CANCELLED"),
        ("r2", "FINISHED", None),
        (None, "PRUNED", "no GPU"),
    ]
    assert len(read_ledger(tmp_path)) == 4, "another sweep's rows are its own"
