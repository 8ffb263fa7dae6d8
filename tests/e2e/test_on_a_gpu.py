"""The real GPU path, run wherever a GPU is lent (skipped, saying why, elsewhere): the worker with
``provider=cuda`` reads NVML's energy counter, records the GPU in its trace, and finds no contention."""

from __future__ import annotations

from pathlib import Path

import pytest

from green_mlflow.meters.nvml import visible_gpus
from green_mlflow.worker.sampler import read_trace
from tests.helpers.project import SMALL_IMAGE, require_env, run_worker

pytestmark = [pytest.mark.gpu, pytest.mark.slow]
MEASURE = {"warmup_min_iterations": 5, "warmup_min_s": 1.0, "windows": 2, "window_min_iterations": 10}


@pytest.mark.parametrize("mode", ["eager", "cuda_graph"])
def test_torch_on_cuda_measures_gpu_energy_with_the_counter(tmp_path: Path, mode: str):
    spec = {
        "runtime": "torch",
        "provider": "cuda",
        "mode": mode,
        "batch_size": 8,
        "model": SMALL_IMAGE,
        "measure": {**MEASURE, "window_min_s": 1.0, "sample_interval_s": 0.05},
        "output_dir": str(tmp_path / "out"),
    }
    require_env("torch")
    proc, result = run_worker("torch", spec, tmp_path)
    assert proc.returncode == 0 and result["status"] == "ok", result.get("traceback") or proc.stderr[-3000:]
    gpu = result["energy"]["gpu"]
    assert gpu["method"] == "counter", gpu
    assert all(j is not None and j > 0 for j in gpu["window_energy_j"]) and gpu["per_sample_j"] > 0
    assert result["info"]["provider_in_use"] == "cuda"
    assert result["gpu"]["gpu_name"] == visible_gpus()[0][0]
    assert result["contention"]["checked"] and result["contention"]["windows_with_other_processes"] == 0
    trace = read_trace(Path(result["traces"]["utilisation"]))
    assert any(v is not None for v in trace["gpu_power_w"]) and any(v is not None for v in trace["gpu_mem_used_mb"])
