"""GPU environments whose CUDA libraries are pip packages: they are loaded by path, and MXNet refuses Hopper."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from green_mlflow.meters.nvml import compute_capability
from green_mlflow.models.mxnet_shim import load_cuda_libraries
from tests.helpers.fakes import FakeNvml
from tests.helpers.project import ROOT, require_env


def test_pip_installed_cuda_libraries_are_loaded_by_path_in_dependency_order(tmp_path: Path, monkeypatch):
    """A real shared library in an ``nvidia/<package>/lib`` folder, as the CUDA 11 wheels lay them out."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the test library")
    for package, name in (("cudnn", "libcudnn_fake.so.8"), ("cuda_runtime", "libcudart_fake.so.11.0")):
        lib = tmp_path / "nvidia" / package / "lib"
        lib.mkdir(parents=True)
        source = tmp_path / f"{package}.c"
        source.write_text("int green_probe(void) { return 42; }\n")
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib / name), str(source)], check=True)
    (tmp_path / "nvidia" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("nvidia", None)
    assert load_cuda_libraries() == ["libcudart_fake.so.11.0", "libcudnn_fake.so.8"], "cudart before cuDNN"


def test_without_pip_cuda_libraries_nothing_is_loaded(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert load_cuda_libraries() == []


def test_the_compute_capability_comes_from_nvml():
    fake = FakeNvml()
    fake.capability = (9, 0)
    assert compute_capability(0, fake) == (9, 0)
    assert compute_capability(0, FakeNvml(init_error=RuntimeError("no driver"))) is None


@pytest.mark.slow
def test_mxnet_refuses_a_hopper_gpu_and_runs_on_ampere_and_ada():
    code = (
        "from green_mlflow.runtimes.mxnet_runtime import check_compute_capability as check\n"
        "for ok in [None, (7, 0), (8, 0), (8, 6), (8, 9)]: check(ok)\n"
        "try:\n    check((9, 0))\nexcept RuntimeError as err:\n    print(err)\n"
    )
    out = subprocess.run([require_env("mxnet"), "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "up to compute capability 8.x; this GPU is 9.0, so MXNet cannot run on it" in out.stdout
    assert "runtime=onnx runtime.source=mxnet" in out.stdout
