"""Sweeps on hydra-submitit-launcher: `submitit_local` for real (every job a process of its own), and the shipped
SLURM config (`hydra/launcher=green_slurm`) up to the sbatch script it submits for a cpu and a GPU job (the live
cluster, which has no GPU, is tests/e2e/test_slurm.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from mlflow.tracking import MlflowClient

from green_mlflow.config import register_schemas
from tests.helpers.project import CONF, TINY_MEASURE, require_env, run_cli

SWEEP = [
    "-m",
    "runtime=torch,onnx",
    "model=mobilenet_v2",
    "batch_size=1",
    *TINY_MEASURE,
    "measure.repetitions=2",
    "model.image_size=32",
    "hydra/launcher=submitit_local",
]
CONFIGS = {("torch", "0"), ("torch", "1"), ("onnx", "0"), ("onnx", "1")}


def runs(uri: str):
    client = MlflowClient(uri)
    found = client.search_runs([client.get_experiment_by_name("green_mlflow").experiment_id])
    return (
        [r for r in found if "mlflow.parentRunId" not in r.data.tags],
        [r for r in found if "mlflow.parentRunId" in r.data.tags],
    )


def job_logs(sweep_dir: Path) -> dict[str, str]:
    """submitit's own record of each job: ``.submitit/<job id>/<job id>_0_log.out``, by job id."""
    return {p.parent.name: p.read_text() for p in (sweep_dir / ".submitit").glob("*/*_0_log.out")}


def ledger(sweep_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (sweep_dir / "jobs.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def first_sweep(tmp_path_factory):
    """``-m runtime=torch,onnx … measure.repetitions=2 hydra/launcher=submitit_local``: 4 jobs, all at once."""
    require_env("torch"), require_env("onnx")
    tmp = tmp_path_factory.mktemp("submitit")
    uri = f"sqlite:///{tmp / 'store' / 'mlflow.db'}"
    proc = run_cli([*SWEEP, f"hydra.sweep.dir={tmp / 'sweep1'}"], tmp, uri)
    return tmp, uri, proc


@pytest.mark.slow
def test_submitit_local_runs_every_job_in_a_process_of_its_own_under_one_parent(first_sweep):
    tmp, uri, proc = first_sweep
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "4 of 4 jobs finished" in proc.stdout
    parents, children = runs(uri)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    parent = parents[0]
    assert len(children) == 4 and all(c.info.status == "FINISHED" for c in children)
    assert {(c.data.params["runtime"], c.data.params["repetition"]) for c in children} == CONFIGS
    assert all(c.data.tags["mlflow.parentRunId"] == parent.info.run_id for c in children)

    # separate processes: the runs' owner pids (tag green.pid) and submitit's own job folders
    sweep_pid = parent.data.tags["green.pid"]
    child_pids = {c.data.tags["green.pid"] for c in children}
    assert len(child_pids) == 4 and sweep_pid not in child_pids, "each job ran in a process of its own"
    logs = job_logs(tmp / "sweep1")
    assert len(logs) == 4 and all("Job completed successfully" in log for log in logs.values())
    # "job k" (1-based): a job process of its own knows neither the sweep's total nor its start (no estimate)
    assert sorted(log.split("[green_mlflow] job ")[1][0] for log in logs.values()) == ["1", "2", "3", "4"]
    assert [r["status"] for r in ledger(tmp / "sweep1")] == ["FINISHED"] * 4, "every process wrote the ledger"

    # the idle baseline: measured once by the sweep process, logged on the parent, reused by every job
    assert parent.data.tags["idle.status"] == "ok" and parent.data.metrics["idle_duration_s"] >= 0.5
    idle_w = parent.data.metrics["idle_cpu_power_estimated_w"]
    assert [c.data.metrics["cpu_idle_power_estimated_w"] for c in children] == [idle_w] * 4
    assert len(list((tmp / "sweep1" / "idle").glob("*.json"))) == 1
    assert not any("measuring idle power" in log for log in logs.values()), "no job measured idle again"


@pytest.mark.slow
def test_resume_under_submitit_skips_finished_jobs_and_rerun_measures_them_again(first_sweep):
    """Depends on resume (app.py: a FINISHED run of the same config hash and repetition is skipped; rerun=true)."""
    tmp, uri, first = first_sweep
    assert first.returncode == 0, first.stderr[-3000:]
    _, before = runs(uri)

    again = run_cli([*SWEEP, f"hydra.sweep.dir={tmp / 'sweep2'}"], tmp, uri)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    parents, children = runs(uri)
    assert len(parents) == 2 and {c.info.run_id for c in children} == {c.info.run_id for c in before}
    rows = ledger(tmp / "sweep2")
    assert [r["status"] for r in rows] == ["SKIPPED"] * 4
    assert {r["run_id"] for r in rows} == {c.info.run_id for c in before}, "each points at the run that stands"
    logs = job_logs(tmp / "sweep2")
    assert len(logs) == 4 and all("skipped: run " in log for log in logs.values()), "the jobs say so"

    # rerun=true measures again; max_batch_size=1 hands submitit one job at a time (docs/team.md, one host)
    args = [*SWEEP, "rerun=true", "hydra.sweeper.max_batch_size=1", f"hydra.sweep.dir={tmp / 'sweep3'}"]
    rerun = run_cli(args, tmp, uri)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    parents, children = runs(uri)
    third = next(p for p in parents if p.data.tags["green.sweep_dir"] == str(tmp / "sweep3"))
    new = [c for c in children if c.data.tags["mlflow.parentRunId"] == third.info.run_id]
    assert len(children) == 8 and len(new) == 4 and all(c.info.status == "FINISHED" for c in new)
    assert {(c.data.params["runtime"], c.data.params["repetition"]) for c in new} == CONFIGS
    assert {c.data.tags["green.config_hash"] for c in new} == {c.data.tags["green.config_hash"] for c in before}
    spans = sorted((c.info.start_time, c.info.end_time) for c in new)
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:])), "one job at a time"


# --- SLURM: the shipped config, composed and turned into the sbatch script submitit would submit ----------------


@pytest.fixture
def slurm_launcher_config(tmp_path):
    register_schemas()
    GlobalHydra.instance().clear()
    overrides = ["hydra/launcher=green_slurm", "hydra.launcher.partition=gpu", f"hydra.sweep.dir={tmp_path}"]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    GlobalHydra.instance().clear()
    return cfg.hydra.launcher


def test_green_slurm_extends_submitit_slurm_with_a_gpu_per_gpu_job_on_a_whole_node(slurm_launcher_config):
    launcher = slurm_launcher_config
    assert launcher._target_ == "hydra_plugins.green_mlflow_launcher.green_slurm.GreenSlurmLauncher"
    assert launcher.partition == "gpu" and launcher.gpus_per_node is None and launcher.tasks_per_node == 1
    assert launcher.additional_parameters == {"exclusive": True} and launcher.timeout_min == 60
    assert launcher.max_pending_min == 1440 and launcher.max_unavailable_min == 10 and launcher.max_num_timeout == 0
    assert launcher.submitit_folder.endswith("/.submitit/%j"), "submitit's job files live in the sweep folder"


@pytest.mark.parametrize(
    "provider,gpu_line",
    [("cuda", "#SBATCH --gpus-per-node=1"), ("tensorrt", "#SBATCH --gpus-per-node=1"), ("cpu", None)],
)
def test_green_slurm_gives_an_sbatch_script_with_a_gpu_for_a_gpu_job_on_an_exclusive_node(
    slurm_launcher_config, tmp_path, monkeypatch, provider, gpu_line
):
    from hydra_plugins.green_mlflow_launcher.green_slurm import gpus_for

    # submitit refuses to build a SLURM executor where there is no `srun`; this one is never run
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "srun").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "bin" / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    launcher = instantiate(slurm_launcher_config)
    executor = launcher.executor("stamp")  # what GreenSlurmLauncher.launch submits, up to sbatch
    executor.update_parameters(gpus_per_node=gpus_for(provider, slurm_launcher_config.gpus_per_node))
    script = executor._executor._make_submission_file_text("python -u -m submitit.core._submit x", "uid")
    lines = set(script.splitlines())
    for flag in ("partition=gpu", "ntasks-per-node=1", "nodes=1", "time=60", "job-name=green_mlflow"):
        assert f"#SBATCH --{flag}" in lines, script
    gpu_lines = [line for line in lines if "gpu" in line and line.startswith("#SBATCH") and "partition" not in line]
    assert gpu_lines == ([gpu_line] if gpu_line else []), script
    assert "#SBATCH --exclusive" in lines and f"#SBATCH --output={tmp_path}/.submitit/stamp/%j/%j_0_log.out" in lines
    assert not any(line.startswith(("#SBATCH --cpus-per-task", "#SBATCH --mem")) for line in lines), "cluster defaults"
    assert gpus_for(provider, 2) == 2, "a number is used as given"


def test_an_adaptive_sweep_hands_each_round_to_submitit_local_as_one_batch(tmp_path: Path):
    """Rounds under submitit: every job a process of its own, the next round planned from what they logged."""
    require_env("torch"), require_env("onnx")
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    adaptive = [a for a in SWEEP if a != "measure.repetitions=2"]
    adaptive += ["hydra.sweeper.adaptive=true", "hydra.sweeper.max_repetitions=4", "hydra.sweeper.max_per_round=1"]
    proc = run_cli([*adaptive, f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path, uri)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "adaptive sweep, round 1: 2 configurations × 3 = 6 jobs" in proc.stdout
    _, children = runs(uri)
    assert len(job_logs(tmp_path / "sweep")) == len(children) >= 6  # one submitit process per job
    assert all(c.info.status == "FINISHED" for c in children)
    rounds = [line for line in proc.stdout.splitlines() if line.startswith("adaptive sweep, after round")]
    assert rounds and (rounds[-1].endswith("every question is decided") or "max_repetitions=4" in rounds[-1])
    assert len(rounds) == 1 + (len(children) - 6) // 2  # each later round: one more repetition of both series
