"""Every runtime, for real, in its own environment, on a small input: the standalone worker path."""

from __future__ import annotations

import subprocess

import pytest

from green_mlflow.launch import worker_env
from tests.helpers.project import SMALL_BERT, SMALL_IMAGE, require_env, run_worker

pytestmark = pytest.mark.slow

TINY = {
    "warmup_min_iterations": 2,
    "warmup_min_s": 0.1,
    "windows": 2,
    "window_min_iterations": 3,
    "window_min_s": 0.1,
    "window_rest_s": 0,
    "sample_interval_s": 0.05,
    "cpu_tdp_w": 65.0,
    "timeout_s": 300,
}


def measure(env: str, runtime: str, mode: str, model: dict, tmp_path, batch_size: int = 2) -> dict:
    spec = {
        "runtime": runtime,
        "provider": "cpu",
        "mode": mode,
        "batch_size": batch_size,
        "seed": 0,
        "device_id": 0,
        "model": model,
        "measure": TINY,
        "output_dir": str(tmp_path / "out"),
    }
    proc, result = run_worker(env, spec, tmp_path)
    assert proc.returncode == 0 and result["status"] == "ok", result.get("traceback") or proc.stderr[-3000:]
    assert result["measured_samples"] == batch_size * result["latency"]["count"]
    assert result["latency"]["p50_ms"] > 0 and result["energy"]["cpu"]["method"] == "estimated"
    return result


@pytest.mark.parametrize("mode", ["function", "eager"])
def test_tf_runs_mobilenet_v2(mode, tmp_path):
    result = measure("tf", "tf", mode, SMALL_IMAGE, tmp_path)
    assert result["info"]["framework"] == "tensorflow"
    assert result["info"]["parameter_count"] == 3_504_872  # trainable: the same as torchvision's


def test_tf_runs_a_small_bert(tmp_path):
    assert measure("tf", "tf", "function", SMALL_BERT, tmp_path)["info"]["parameter_count"] > 0


@pytest.mark.parametrize("mode", ["hybrid", "imperative"])
def test_mxnet_runs_mobilenet_v2(mode, tmp_path):
    result = measure("mxnet", "mxnet", mode, SMALL_IMAGE, tmp_path)
    assert result["info"]["framework"] == "mxnet" and result["info"]["framework_version"] == "1.9.1"


def test_mxnet_runs_a_small_bert(tmp_path):
    result = measure("mxnet", "mxnet", "hybrid", SMALL_BERT, tmp_path)
    assert result["info"]["parameter_count"] > 0


def test_mxnet_shim_restores_only_the_missing_numpy_aliases():
    python = require_env("mxnet")
    code = (
        "import numpy as np\n"
        "from green_mlflow.models.mxnet_shim import restore_numpy_aliases, import_mxnet\n"
        "assert not hasattr(np, 'bool') or np.bool is not bool\n"
        "restored = restore_numpy_aliases()\n"
        "assert np.int is int and np.float is float and np.object is object and np.str is str\n"
        "assert restore_numpy_aliases() == []\n"
        "mx = import_mxnet()\n"
        "print(sorted(restored), mx.nd.ones((2,)).sum().asscalar())\n"
    )
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, env=worker_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "['bool', 'complex', 'float', 'int', 'object', 'str'] 2.0"


def test_mxnet_does_not_import_without_the_shim():
    proc = subprocess.run([require_env("mxnet"), "-c", "import mxnet"], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "numpy" in proc.stderr and "has no attribute" in proc.stderr


def test_torch_compile_mode_compiles_in_the_warm_up_not_in_the_windows(tmp_path):
    result = measure("torch", "torch", "compile", SMALL_IMAGE, tmp_path, batch_size=1)
    assert result["info"]["mode"] == "compile"
    window_p50_s = max(w["latency_p50_ms"] for w in result["windows"]) / 1e3
    assert result["warmup"]["duration_s"] > 20 * window_p50_s, "TorchInductor's compilation happened in warm-up"
    assert result["latency"]["max_ms"] / 1e3 < result["warmup"]["duration_s"] / 2, "no compilation inside a window"


def test_torch_cuda_graph_mode_without_cuda_fails_with_a_clear_reason(tmp_path):
    spec = {
        "runtime": "torch",
        "provider": "cpu",
        "mode": "cuda_graph",
        "batch_size": 1,
        "seed": 0,
        "model": SMALL_IMAGE,
        "measure": TINY,
        "output_dir": str(tmp_path / "out"),
    }
    proc, result = run_worker("torch", spec, tmp_path)
    assert proc.returncode == 1 and result["status"] == "failed"
    assert "provider=cpu is not available with runtime=torch mode=cuda_graph; allowed: cuda" in result["error"]
