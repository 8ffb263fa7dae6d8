"""Sweeps never mix: two started together from one folder, a folder a live sweep owns, a folder resumed
into, and resume that measures again when the software changed. Real processes, real SQLite stores."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from green_mlflow.sweep.ledger import read_ledger, record, write_parent
from green_mlflow.sweep.lifecycle import FolderTaken, check_folder_free
from green_mlflow.tracking import runs
from tests.helpers.project import TINY_MEASURE, cli_env, require_env, run_cli

TINY = [*TINY_MEASURE, "model.image_size=32", "model=mobilenet_v2", "batch_size=1"]


def _start(args: list[str], cwd: Path, uri: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "green_mlflow", *args], cwd=cwd, env=cli_env(cwd, uri),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


@pytest.mark.slow
def test_two_sweeps_started_together_from_one_folder_each_keep_their_own(tmp_path: Path):
    """On a store neither has created yet: both open it (under a lock), each gets a folder and a parent."""
    require_env("torch")
    uri = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"
    procs = [_start(["-m", "runtime=torch", f"seed={seed}", *TINY], tmp_path, uri) for seed in (0, 1)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n\n".join(o[-2000:] for o in outs)
    client = MlflowClient(uri)
    all_runs = client.search_runs([client.get_experiment_by_name("green_mlflow").experiment_id])
    parents = [r for r in all_runs if r.data.tags["green.kind"] == "sweep"]
    assert len(parents) == 2 and len({p.data.tags["green.sweep_dir"] for p in parents}) == 2, "own folders"
    for parent in parents:
        children = [r for r in all_runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert len(children) == 1 and parent.info.status == "FINISHED"
        seed = children[0].data.params["seed"]
        folder = Path(parent.data.tags["green.sweep_dir"])
        assert [row["run_id"] for row in read_ledger(folder)] == [children[0].info.run_id]
        assert {p.data.tags["green.overrides"].split("seed=")[1].split()[0] for p in [parent]} == {seed}


def test_a_folder_a_live_sweep_owns_is_refused_and_a_dead_ones_is_resumed_into(tmp_path: Path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = {**runs.owner_tags(), "green.pid": str(sleeper.pid)}
        import psutil

        owner["green.pid_started"] = f"{psutil.Process(sleeper.pid).create_time():.3f}"
        write_parent(tmp_path, {"run_id": "a" * 32, "owner": owner})
        with pytest.raises(FolderTaken, match=f"belongs to a sweep still running .*pid {sleeper.pid}"):
            check_folder_free(tmp_path)
    finally:
        sleeper.kill()
        sleeper.wait()
    check_folder_free(tmp_path)  # its process is gone: the folder can be resumed into
    write_parent(tmp_path, {"run_id": "b" * 32, "owner": {**runs.owner_tags()}})
    check_folder_free(tmp_path)  # this process's own


def test_the_ledger_of_a_folder_resumed_into_belongs_to_each_parent(tmp_path: Path):
    write_parent(tmp_path, {"run_id": "a" * 32})
    record(tmp_path, {"job": "torch", "status": "FAILED"})
    write_parent(tmp_path, {"run_id": "b" * 32})
    record(tmp_path, {"job": "torch", "status": "FINISHED"})
    assert [r["status"] for r in read_ledger(tmp_path, "b" * 32)] == ["FINISHED"], "the old failure is not ours"
    assert len(read_ledger(tmp_path)) == 2


@pytest.mark.slow
def test_resume_measures_again_when_the_software_changed_and_skips_when_it_did_not(tmp_path: Path, sqlite_uri: str):
    torch = require_env("torch")
    single = ["runtime=torch", *TINY]
    first = run_cli(single, tmp_path, sqlite_uri)
    assert first.returncode == 0, first.stderr[-2000:]
    env = {**cli_env(tmp_path, sqlite_uri), "GREEN_MLFLOW_PYTHON_TORCH": torch}  # the user's own interpreter
    command = [sys.executable, "-m", "green_mlflow", *single]
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "measuring again: run" in again.stdout and "with other software" in again.stdout
    third = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert third.returncode == 0 and "skipped: run" in third.stdout and "same software" in third.stdout
    client = MlflowClient(sqlite_uri)
    jobs = [
        r
        for r in client.search_runs([client.get_experiment_by_name("green_mlflow").experiment_id])
        if r.data.tags["green.kind"] == "job"
    ]
    assert len(jobs) == 2 and len({j.data.tags["green.software"] for j in jobs}) == 2
    assert len({j.data.tags["green.config_hash"] for j in jobs}) == 1, "the same configuration, other software"
    assert os.environ.get("GREEN_MLFLOW_PYTHON_TORCH") is None
