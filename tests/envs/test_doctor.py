"""`python -m green_mlflow.envs doctor`: what runs on this host per runtime × provider, and how to fix the rest."""

from __future__ import annotations

import subprocess
import sys

import pytest

from green_mlflow.envs.doctor import Host, diagnose, host_facts, table
from green_mlflow.registry import PROVIDERS, RUNTIMES
from tests.helpers.fakes import FakeNvml
from tests.helpers.project import ROOT, require_env

GPU_HOST = Host(["NVIDIA H200"], None, "580.65", "counter: GPU 0 board energy", "cpu: unavailable (VM)")


@pytest.mark.slow
def test_on_this_cpu_host_every_cpu_combination_runs_and_no_gpu_one_does():
    for env in ("torch", "tf", "mxnet", "onnx"):
        require_env(env)
    host = host_facts()
    rows = diagnose(list(RUNTIMES), list(PROVIDERS), host)
    assert {(r.runtime, r.provider) for r in rows} == {(n, p) for n, r in RUNTIMES.items() for p in r.providers}
    labels = {"torch": "PyTorch 2.14", "tf": "TensorFlow 2.21", "mxnet": "MXNet 1.9.1", "onnx": "ONNX Runtime 1.32"}
    for row in rows:
        if row.provider == "cpu":
            assert row.ok and row.found.startswith(labels[row.runtime]), row
        else:
            assert not row.ok and row.found.startswith("no NVIDIA GPU visible (NVML could not start"), row
            assert "host with an NVIDIA GPU" in row.fix
    assert "4 of 9 combinations can run on this host." in table(host, rows)


@pytest.mark.slow
def test_the_command_exits_0_when_all_asked_can_run_and_1_with_the_fix_otherwise():
    def doctor(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "green_mlflow.envs", "doctor", *args]
        return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)

    ok = doctor("--provider", "cpu", "--runtime", "torch", "--runtime", "onnx")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "2 of 2 combinations can run" in ok.stdout and "no NVIDIA GPU visible" in ok.stdout  # the host part
    no = doctor("--runtime", "onnx", "--provider", "tensorrt")
    assert no.returncode == 1 and "onnx     tensorrt  onnx-tensorrt  no" in no.stdout, no.stdout
    assert "0 of 1 combinations can run" in no.stdout and "Traceback" not in no.stdout + no.stderr


def test_with_the_nvml_double_the_host_reports_its_gpu_and_energy_counter(tmp_path):
    host = host_facts(nvml=FakeNvml(), powercap_root=tmp_path / "no-powercap")
    assert host.gpus == ["NVIDIA Fake A100"] and host.driver == "550.54.15"
    assert host.gpu_energy.startswith("counter: GPU 0 (NVIDIA Fake A100) board energy, NVML total-energy counter")
    assert host.cpu_energy.startswith("cpu: unavailable (") and "does not exist" in host.cpu_energy
    assert "GPU 0: NVIDIA Fake A100" in "\n".join(host.lines())
    polled = host_facts(nvml=FakeNvml(counter=False), powercap_root=tmp_path)
    assert polled.gpu_energy.startswith("polled: GPU 0 (NVIDIA Fake A100) board power polled every 50 ms")


def test_with_the_nvml_double_and_no_driver_the_host_says_why(tmp_path):
    host = host_facts(nvml=FakeNvml(init_error=RuntimeError("Driver Not Loaded")), powercap_root=tmp_path)
    assert host.gpus == [] and "Driver Not Loaded" in host.no_gpu_reason and host.gpu_energy == "unavailable: no GPU"


def test_on_a_gpu_host_a_missing_environment_is_named_with_the_command_that_makes_it(monkeypatch, tmp_path):
    monkeypatch.setenv("GREEN_MLFLOW_ENV_DIR", str(tmp_path / "no-envs"))
    asked = []
    rows = diagnose(["tf"], ["cuda"], GPU_HOST, probe=lambda python, name: asked.append(name) or {})
    (row,) = rows
    assert not row.ok and row.env == "tf-gpu" and row.found == "environment tf-gpu is not set up"
    assert row.fix == "python -m green_mlflow.envs setup tf-gpu" and asked == []


def test_on_a_gpu_host_what_the_framework_sees_decides(monkeypatch):
    monkeypatch.setenv("GREEN_MLFLOW_PYTHON_TORCH", sys.executable)  # an interpreter of the user's own
    monkeypatch.setenv("GREEN_MLFLOW_PYTHON_ONNX", sys.executable)
    answers = {
        "torch": {
            "importable": True,
            "framework_version": "2.14.1",
            "gpu_count": 0,
            "gpu_detail": "torch.cuda.is_available() is False",
        },
        "onnx": {
            "importable": True,
            "framework_version": "1.31.1",
            "providers_available": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
            "library_problems": {
                "cuda": [],
                "tensorrt": ["TensorRT libraries (tensorrt-cu13-libs): No module named 'tensorrt_libs'"],
            },
        },
    }
    rows = {
        (r.runtime, r.provider): r
        for r in diagnose(["torch", "onnx"], list(PROVIDERS), GPU_HOST, lambda p, n: answers[n])
    }
    assert rows["torch", "cpu"].ok and not rows["torch", "cuda"].ok
    assert "torch.cuda.is_available() is False" in rows["torch", "cuda"].found
    assert rows["torch", "cuda"].fix == "a GPU build: python -m green_mlflow.envs setup torch"
    assert rows["onnx", "cuda"].ok and "CUDAExecutionProvider with its libraries loadable" in rows["onnx", "cuda"].found
    assert not rows["onnx", "tensorrt"].ok and "tensorrt_libs" in rows["onnx", "tensorrt"].found
    assert rows["onnx", "tensorrt"].fix == "re-create it: python -m green_mlflow.envs setup onnx-tensorrt"


def test_a_framework_that_does_not_import_is_a_no_with_the_error(monkeypatch):
    monkeypatch.setenv("GREEN_MLFLOW_PYTHON_MXNET", sys.executable)
    broken = {"importable": False, "error": "ImportError: libcudart.so.11.0: cannot open shared object file"}
    (row,) = diagnose(["mxnet"], ["cpu"], GPU_HOST, lambda p, n: broken)
    assert (
        not row.ok
        and row.found == "MXNet does not import: ImportError: libcudart.so.11.0: cannot open shared object file"
    )
