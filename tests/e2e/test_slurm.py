"""The SLURM path against a live single-node cluster (tests/helpers/slurm.py): a sweep through
``hydra/launcher=green_slurm`` (hydra-submitit-launcher's ``submitit_slurm``) logging to an MLflow tracking server
with a PostgreSQL backend; a job cancelled with ``scancel`` while it measures; a job at its time limit; the node's
slurmd stopped while a job measures, the node drained before a sweep, and Ctrl-C on a sweep with jobs running and
queued; the cluster stopped afterwards, no daemon or job step left."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from green_mlflow.sweep.ledger import read_ledger
from tests.helpers.project import TINY_MEASURE, cli_env, require_env, run_cli
from tests.helpers.server import mlflow_server, postgres
from tests.helpers.slurm import DAEMONS, slurm_cluster, stepds

pytestmark = pytest.mark.slow

SLURM = ["hydra/launcher=green_slurm", "hydra.launcher.partition=debug", "hydra.launcher.timeout_min=10"]


@pytest.fixture(scope="module")
def cluster_and_server(tmp_path_factory):
    require_env("torch"), require_env("onnx")
    folder = tmp_path_factory.mktemp("slurm-server")
    with slurm_cluster() as cluster, postgres() as backend, mlflow_server(backend, folder) as server:
        yield cluster, server
    pids = cluster.pids
    assert set(pids) == set(DAEMONS)
    left = [name for name, pid in pids.items() if Path(f"/proc/{pid}").exists()]
    assert not left, f"daemons left running after the cluster stopped: {left}"
    assert not stepds(cluster), "a job step (slurmstepd) outlived the cluster"


def sweep(args: list[str], cwd: Path, url: str, cluster) -> subprocess.Popen:
    env = {**cli_env(cwd, url), **cluster.env}
    return subprocess.Popen(
        [sys.executable, "-m", "green_mlflow", "-m", *SLURM, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def children(client: MlflowClient, parent_id: str) -> list:
    experiment = client.get_run(parent_id).info.experiment_id
    return client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{parent_id}'")


def parent_of(output: str) -> str:
    return output.split("sweep parent run ")[1].split()[0]


def test_a_sweep_runs_as_slurm_jobs_into_a_postgres_backed_server(cluster_and_server, tmp_path: Path):
    cluster, server = cluster_and_server
    args = ["runtime=torch,onnx", "model=mobilenet_v2", "model.image_size=32", *TINY_MEASURE]
    proc = sweep([*args, f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path, server.url, cluster)
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output[-4000:]
    assert "2 of 2 jobs finished" in output and "submitted 2 SLURM job(s)" in output
    client = MlflowClient(server.url)
    parent = client.get_run(parent_of(output))
    assert parent.info.status == "FINISHED"
    runs = children(client, parent.info.run_id)
    assert sorted(r.data.params["runtime"] for r in runs) == ["onnx", "torch"]
    assert all(r.info.status == "FINISHED" for r in runs)

    # each run knows its SLURM job and node, and the hardware it ran on
    jobs = {f"{j.get('ArrayJobId')}_{j.get('ArrayTaskId')}": j for j in cluster.jobs()}
    for run in runs:
        tags = run.data.tags
        assert tags["slurm.node"] == "localhost" and tags["slurm.partition"] == "debug"
        assert jobs[tags["slurm.job_id"]]["JobState"] == "COMPLETED"
        assert (
            tags["host.cpu_model"]
            and int(tags["host.cpu_logical_cores"]) >= 1
            and tags["host.hostname"] == os.uname().nodename
        )
    # the idle baseline: not measured by the submitting process, but by the first job on the node, then reused
    assert parent.data.tags["idle.status"].startswith("per node")
    idle_files = list((tmp_path / "sweep" / "idle").glob("*.json"))
    assert [p.stem for p in idle_files] == [f"{os.uname().nodename}-gpu0"]
    assert len({r.data.metrics["cpu_idle_power_estimated_w"] for r in runs}) == 1
    # submitit's files: one folder per launch, named by the launch, then by job id
    scripts = list((tmp_path / "sweep" / ".submitit").glob("*/*/*_submission.sh"))
    assert len(scripts) == 1 and "#SBATCH --exclusive" in scripts[0].read_text()
    assert "--gpus-per-node" not in scripts[0].read_text(), "a cpu job asks for no GPU"


def _reading(proc) -> tuple[list[str], threading.Thread]:
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    return output, reader


def _wait_for_a_measuring_run(client: MlflowClient, proc, output: list[str], deadline_s: float, finished: int = 0):
    """The first job run that is RUNNING and has started its windows (a step metric logged is too late), once
    ``finished`` job runs have FINISHED."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "".join(output)[-4000:]
        text = "".join(output)
        if "sweep parent run " in text:
            kids = children(client, parent_of(text))
            running = [r for r in kids if r.info.status == "RUNNING"]
            done = [r for r in kids if r.info.status == "FINISHED"]
            if running and "slurm.job_id" in running[0].data.tags and len(done) >= finished:
                return running[0]
        time.sleep(0.5)
    pytest.fail("no job run started measuring:\n" + "".join(output)[-4000:])


def test_a_cancelled_job_fails_its_run_with_the_schedulers_reason_and_the_same_command_measures_only_it(
    cluster_and_server, tmp_path: Path
):
    cluster, server = cluster_and_server
    args = ["runtime=torch", "model=mobilenet_v2", "model.image_size=32", *TINY_MEASURE, "measure.repetitions=2"]
    args += ["measure.window_min_s=4", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    proc = sweep(args, tmp_path, server.url, cluster)
    output, reader = _reading(proc)
    client = MlflowClient(server.url)
    victim = _wait_for_a_measuring_run(client, proc, output, 300)
    job_id = victim.data.tags["slurm.job_id"]
    cluster.run("scancel", job_id)
    proc.wait(timeout=600)
    reader.join(timeout=10)
    text = "".join(output)
    assert proc.returncode == 1, text[-4000:]
    assert "1 of 2 jobs finished" in text and f"did not finish: SLURM job {job_id} CANCELLED" in text, text[-4000:]

    cancelled = client.get_run(victim.info.run_id)
    assert cancelled.info.status == "FAILED"
    reason = cancelled.data.tags["green.status_reason"]
    assert reason.startswith(f"SLURM job {job_id} CANCELLED") and "; slurmstepd: *** " in reason, reason
    assert cancelled.data.tags["slurm.state"] == "CANCELLED"
    parent = client.get_run(parent_of(text))
    assert parent.info.status == "FAILED"
    kept = [r for r in children(client, parent.info.run_id) if r.info.run_id != victim.info.run_id]
    assert [r.info.status for r in kept] == ["FINISHED"]

    # the same command again: the finished job is skipped, the cancelled one measured
    again = sweep(args, tmp_path, server.url, cluster)
    out, _ = again.communicate(timeout=600)
    assert again.returncode == 0, out[-4000:]
    assert "2 of 2 jobs finished (1 skipped: already FINISHED earlier)" in out
    (new,) = children(client, parent_of(out))
    assert new.info.status == "FINISHED" and new.data.params["repetition"] == victim.data.params["repetition"]
    assert new.data.tags["slurm.job_id"] != job_id


def test_a_launcher_that_would_put_two_measurements_on_one_node_is_refused_before_the_sweep_starts(tmp_path: Path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = [
        "-m",
        "runtime=torch,onnx",
        *SLURM,
        "~hydra.launcher.additional_parameters.exclusive",
        f"hydra.sweep.dir={tmp_path}",
    ]
    proc = run_cli(args, tmp_path, uri)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: provider=cpu jobs could share a node, and each measures the whole CPU package: keep "
        "hydra.launcher.additional_parameters.exclusive=true (a node per job) or set hydra.launcher.array_parallelism=1 "
        "(one job at a time)"
    )
    assert "sweep parent run" not in proc.stdout and not (tmp_path / "parent_run.json").exists()


def test_a_job_at_its_time_limit_fails_its_run_saying_so_and_the_sweep_ends(cluster_and_server, tmp_path: Path):
    """timeout_min=1 with the scheduler's warning 20 s before: submitit stops the job when it arrives (up to a minute
    early: SLURM's resolution), or SLURM kills it at the limit; either way the run says it was the time limit."""
    cluster, server = cluster_and_server
    args = ["runtime=torch", "model=mobilenet_v2", "model.image_size=32", *TINY_MEASURE, "measure.window_min_s=200"]
    args += ["hydra.launcher.signal_delay_s=20", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    proc = sweep([*args, "hydra.launcher.timeout_min=1"], tmp_path, server.url, cluster)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, output[-4000:]
    assert "0 of 1 jobs finished" in output
    client = MlflowClient(server.url)
    (run,) = children(client, parent_of(output))
    reason = run.data.tags["green.status_reason"]
    assert run.info.status == "FAILED" and ("stopped at its SLURM time limit" in reason or "TIMEOUT" in reason), reason


# --- cluster faults: a node that dies, a node drained, the user's interrupt -------------------------------------


def _no_run_running(client: MlflowClient, parent_id: str) -> list:
    kids = children(client, parent_id)
    assert [r.info.run_id for r in kids if r.info.status == "RUNNING"] == [], "a run was left RUNNING"
    return kids


UNAVAILABLE = "hydra.launcher.max_unavailable_min=0.25"  # 15 s (10 min by default)


def test_a_node_that_dies_mid_measurement_fails_its_run_with_node_fail_and_the_sweep_ends_within_its_bound(
    cluster_and_server, tmp_path: Path
):
    """slurmd stopped while the job measures: the controller marks the node DOWN (SlurmdTimeout) and requeues the
    job; the run ends FAILED saying NODE_FAIL, the node and when; the requeued job cannot start (its only node is
    DOWN) and is cancelled after max_unavailable_min; exit 1. The job step outlives slurmd and measures to its end
    (slurmd's return does not stop it): its run stays FAILED (no second life), and so does its ledger row."""
    cluster, server = cluster_and_server
    args = ["runtime=torch", "model=mobilenet_v2", "model.image_size=32", *TINY_MEASURE, "measure.window_min_s=40"]
    proc = sweep([*args, UNAVAILABLE, f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path, server.url, cluster)
    output, reader = _reading(proc)
    client = MlflowClient(server.url)
    try:
        victim = _wait_for_a_measuring_run(client, proc, output, 300)
        cluster.stop_slurmd()
        stopped = time.monotonic()
        proc.wait(timeout=300)
        took_s = time.monotonic() - stopped
    finally:
        if proc.poll() is None:
            proc.kill()
        cluster.start_slurmd()
    reader.join(timeout=10)
    text = "".join(output)
    job_id = victim.data.tags["slurm.job_id"]
    assert proc.returncode == 1, text[-4000:]
    assert f"SLURM job {job_id} RUNNING on node localhost" in text, text[-4000:]
    assert f"SLURM job {job_id} ended by a node failure (NODE_FAIL) and requeued (restart 1, seen at " in text
    unavailable = rf"SLURM job {job_id} PENDING( \([^)]*\))?, cannot start: every node of partition debug is DOWN"
    assert re.search(unavailable, text), text[-4000:]
    assert "0 of 1 jobs finished" in text and "(hydra.launcher.max_unavailable_min): cancelled by green_mlflow" in text
    # the bound: ~30 s until the node is DOWN, a poll (15 s at most), the 15-s bound, a poll, the summary
    assert took_s < 150, f"{took_s:.0f} s from slurmd stopped to the sweep's end"

    run = client.get_run(victim.info.run_id)
    reason = run.data.tags["green.status_reason"]
    assert run.info.status == "FAILED" and run.data.tags["slurm.state"] == "REQUEUED", reason
    assert "NODE_FAIL" in reason and "node localhost DOWN" in reason and "this measurement was lost" in reason
    assert client.get_run(parent_of(text)).info.status == "FAILED"

    # the orphaned step measures to its end; nothing it did afterwards brought the run back
    deadline = time.monotonic() + 120
    while stepds(cluster) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not stepds(cluster), "the job step outlived its measurement"
    assert client.get_run(victim.info.run_id).info.status == "FAILED"
    (row,) = read_ledger(tmp_path / "sweep", parent_of(text))  # the job's own, written when its step finished
    assert row.get("run_id") == victim.info.run_id and row["status"] == "FAILED", row
    assert row["reason"].startswith(f"SLURM job {job_id} ended by a node failure"), row
    (only,) = _no_run_running(client, parent_of(text))
    assert only.info.run_id == victim.info.run_id, "the requeued job never measured"


def test_a_drained_node_ends_the_sweeps_job_within_its_bound_saying_why(cluster_and_server, tmp_path: Path):
    cluster, server = cluster_and_server
    args = ["runtime=torch", "model=mobilenet_v2", "model.image_size=32", *TINY_MEASURE, UNAVAILABLE]
    cluster.drain("maintenance by test_slurm")
    try:
        started = time.monotonic()
        proc = sweep([*args, f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path, server.url, cluster)
        output, _ = proc.communicate(timeout=300)
        took_s = time.monotonic() - started
    finally:
        cluster.resume()
    assert proc.returncode == 1, output[-4000:]
    cause = "cannot start: every node of partition debug is DOWN, DRAINED or in maintenance (localhost IDLE+DRAIN "
    assert f"{cause}(maintenance by test_slurm [" in output, output[-4000:]
    assert "did not finish: SLURM job " in output and "could not start for " in output, output[-4000:]
    assert "0 of 1 jobs finished" in output and took_s < 120, f"{took_s:.0f} s"
    client = MlflowClient(server.url)
    assert _no_run_running(client, parent_of(output)) == [], "the job never started: no run"
    assert client.get_run(parent_of(output)).info.status == "FAILED"


def test_ctrl_c_cancels_the_sweeps_slurm_jobs_ends_their_runs_and_the_same_command_measures_only_the_rest(
    cluster_and_server, tmp_path: Path
):
    """Three jobs on a one-node cluster (a node each, --exclusive): SIGINT once the first has FINISHED and the second
    measures (the third pending): both cancelled, the measuring one's run KILLED, the parent KILLED, nothing left
    RUNNING or queued; the same command then measures the two that are missing."""
    cluster, server = cluster_and_server
    args = ["runtime=torch", "model=mobilenet_v2", "model.image_size=32", *TINY_MEASURE, "measure.repetitions=3"]
    # seed=3: a configuration no other test of this module measures (resume is experiment-wide)
    args += ["measure.window_min_s=4", "seed=3", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    proc = sweep(args, tmp_path, server.url, cluster)
    output, reader = _reading(proc)
    client = MlflowClient(server.url)
    victim = _wait_for_a_measuring_run(client, proc, output, 400, finished=1)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=200)
    reader.join(timeout=10)
    text = "".join(output)
    assert proc.returncode == 130, text[-4000:]
    ids = re.search(r"submitted 3 SLURM job\(s\): (.+)", text).group(1).split(", ")
    measuring = victim.data.tags["slurm.job_id"]
    states = {f"{j.get('ArrayJobId')}_{j.get('ArrayTaskId')}": j["JobState"] for j in cluster.jobs()}
    assert (
        sorted(states[i] for i in ids) == ["CANCELLED", "CANCELLED", "COMPLETED"] and states[measuring] == "CANCELLED"
    )
    said = re.search(r"interrupted \(SIGINT, Ctrl-C\): cancelling SLURM job\(s\) (.+?) \(pending or running\)", text)
    assert said and sorted(said.group(1).split(", ")) == sorted(i for i in ids if states[i] == "CANCELLED"), text
    assert "cancelled 2 SLURM job(s); their runs ended KILLED" in text, text[-4000:]
    parent = client.get_run(parent_of(text))
    assert parent.info.status == "KILLED"
    kids = _no_run_running(client, parent.info.run_id)
    assert sorted(r.info.status for r in kids) == ["FINISHED", "KILLED"]
    killed = client.get_run(victim.info.run_id)
    assert (
        killed.info.status == "KILLED"
        and "the sweep was interrupted (SIGINT, Ctrl-C)" in (killed.data.tags["green.status_reason"])
    )

    again = sweep(args, tmp_path, server.url, cluster)
    out, _ = again.communicate(timeout=600)
    assert again.returncode == 0, out[-4000:]
    assert "3 of 3 jobs finished (1 skipped: already FINISHED earlier)" in out and "submitted 3 SLURM job(s)" in out
    assert sorted(r.info.status for r in _no_run_running(client, parent_of(out))) == ["FINISHED", "FINISHED"]
