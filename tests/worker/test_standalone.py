"""The measurement path runs in a runtime's own environment with neither MLflow nor Hydra importable."""

from __future__ import annotations

import subprocess

import pytest

from green_mlflow.launch import worker_env
from tests.helpers.project import SMALL_IMAGE, require_env, run_worker

pytestmark = pytest.mark.slow


def test_torch_environment_cannot_import_mlflow_or_hydra():
    python = require_env("torch")
    for module in ("mlflow", "hydra", "omegaconf"):
        proc = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True, env=worker_env())
        assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr, module


def test_worker_measures_from_a_spec_file_in_the_torch_environment(tmp_path):
    measure = {
        "warmup_min_iterations": 2,
        "warmup_min_s": 0.1,
        "windows": 2,
        "window_min_iterations": 5,
        "window_min_s": 0.2,
        "window_rest_s": 0,
        "sample_interval_s": 0.05,
        "cpu_tdp_w": None,
        "timeout_s": 120,
    }
    spec = {
        "runtime": "torch",
        "provider": "cpu",
        "mode": "eager",
        "batch_size": 2,
        "seed": 0,
        "device_id": 0,
        "model": SMALL_IMAGE,
        "measure": measure,
        "output_dir": str(tmp_path / "out"),
    }
    proc, result = run_worker("torch", spec, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert result["status"] == "ok"
    assert result["latency"]["count"] == sum(w["iterations"] for w in result["windows"]) >= 10
    assert all(w["duration_s"] >= 0.2 and w["iterations"] >= 5 for w in result["windows"])
    assert result["measured_samples"] == 2 * result["latency"]["count"]
    assert all(w["minor_faults_per_iteration"] >= 0 for w in result["windows"])
    assert result["info"]["parameter_count"] == 3_504_872  # torchvision MobileNetV2, 1000 classes
    # no RAPL, no GPU and no TDP given: every domain says why, none reports a number
    assert {d: e["method"] for d, e in result["energy"].items()} == {
        "gpu": "unavailable",
        "cpu": "unavailable",
        "dram": "unavailable",
    }
    numbers = ("energy_j", "per_sample_j", "mean_power_w", "warmup_energy_j", "load_energy_j")
    assert all(e[k] is None for e in result["energy"].values() for k in numbers), "no number: null, never 0"
    assert all(e["detail"] for e in result["energy"].values()), "each says why"
    assert result["utilisation"]["cpu_util_process_percent"] > 0
    assert (tmp_path / "out" / "utilisation.csv").exists() and (tmp_path / "out" / "latency_ms.csv").exists()
