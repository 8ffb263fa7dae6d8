"""ONNX Runtime falls back to CPU silently; the onnx runtime refuses to measure under a false label."""

from __future__ import annotations

import json
import subprocess

import pytest

from green_mlflow.launch import worker_env
from tests.helpers.project import require_env

pytestmark = pytest.mark.slow

CHECKS = """
import json
from green_mlflow.runtimes.onnx_runtime import ProviderNotInUse, provider_chain, verify_provider
out = {}
try:
    verify_provider("cuda", ["CPUExecutionProvider"], ["CPUExecutionProvider"])
except ProviderNotInUse as err:
    out["missing"] = str(err)
try:
    verify_provider("tensorrt", ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
                    ["CUDAExecutionProvider", "CPUExecutionProvider"])
except ProviderNotInUse as err:
    out["fell_back"] = str(err)
verify_provider("cuda", ["CUDAExecutionProvider", "CPUExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"])
out["chain"] = [p if isinstance(p, str) else p[0] for p in provider_chain("tensorrt", 0, "/tmp/trt")]
out["trt_options"] = provider_chain("tensorrt", 1, "/tmp/trt")[0][1]
print(json.dumps(out))
"""


def test_provider_check_refuses_a_missing_or_fallen_back_provider():
    proc = subprocess.run(
        [require_env("onnx"), "-c", CHECKS], capture_output=True, text=True, env=worker_env(), timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert "needs CUDAExecutionProvider, but this onnxruntime build offers only CPUExecutionProvider" in out["missing"]
    assert "onnx-gpu" in out["missing"]
    assert "asked for TensorrtExecutionProvider, but ONNX Runtime is using CUDAExecutionProvider" in out["fell_back"]
    assert out["chain"] == ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert out["trt_options"] == {"device_id": 1, "trt_engine_cache_enable": True, "trt_engine_cache_path": "/tmp/trt"}
