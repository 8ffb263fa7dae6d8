"""A GPU provider on a host without a GPU is refused in seconds: nothing measured, installed or logged."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.helpers.project import cli_env

pytestmark = pytest.mark.slow


def _run(args: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess, float]:
    env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}")
    env["GREEN_MLFLOW_ENV_DIR"] = str(tmp_path / "envs")  # empty: a job that got as far would install one here
    began = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "green_mlflow", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc, time.monotonic() - began


def test_a_single_cuda_run_without_a_gpu_exits_2_in_seconds_installs_nothing_and_logs_no_run(tmp_path: Path):
    proc, seconds = _run(["runtime=onnx", "provider=cuda", "model=bert_base"], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert seconds < 30
    assert "error: provider=cuda needs an NVIDIA GPU, but this host shows none" in proc.stderr
    assert "Traceback" not in proc.stderr and "measuring idle" not in proc.stdout + proc.stderr
    assert not (tmp_path / "envs").exists(), "no environment was made"
    assert not (tmp_path / "mlflow.db").exists(), "the store was never opened: no run"
    assert not (tmp_path / "onnx-cache").exists(), "nothing was converted"


def test_a_sweep_of_gpu_jobs_without_a_gpu_prunes_each_with_the_reason_and_measures_no_idle(tmp_path: Path):
    args = ["-m", "runtime=onnx,torch", "provider=cuda,tensorrt", "model=mobilenet_v2", "measure.idle_s=60"]
    proc, seconds = _run(args, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert seconds < 60, f"{seconds:.0f} s: the 60 s idle baseline must not run"
    assert "no job of this sweep can run here" in out and "measuring idle" not in out
    assert out.count("needs an NVIDIA GPU, but this host shows none") >= 3  # onnx×cuda, onnx×tensorrt, torch×cuda
    assert "provider=tensorrt is not available with runtime=torch" in out
    assert not (tmp_path / "envs").exists()
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (parent,) = client.search_runs([client.get_experiment_by_name("green_mlflow").experiment_id])
    assert parent.data.tags["idle.status"] == "not measured: no job of the sweep could run"
    assert parent.info.status == "FAILED" and parent.data.metrics["jobs_failed_or_pruned"] == 4
