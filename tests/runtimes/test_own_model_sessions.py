"""A user's own model in the worker, standalone: an ONNX file's inputs sized from its graph, a torchvision
architecture, a Python factory (with a state dict of weights), and the factory's and the weights' failures as one-line
failed results."""

from __future__ import annotations

import subprocess

import pytest

from tests.helpers.own_models import VOCAB, write_factory_module, write_onnx_file
from tests.helpers.project import require_env, run_worker
from tests.runtimes.test_sessions import TINY, measure

pytestmark = pytest.mark.slow


def test_onnx_runtime_feeds_an_onnx_file_from_its_graph(tmp_path):
    path = write_onnx_file(tmp_path / "own.onnx")
    model = {"name": str(path), "kind": "onnx_file", "path": str(path), "dims": {"sequence": 5}, "vocab_size": VOCAB}
    spec = {"onnx_path": str(path)}
    result = measure_with("onnx", "onnx", "ort_basic", model, tmp_path, batch_size=3, **spec)
    assert result["info"]["inputs"] == "input_ids int64[3, 5], attention_mask int64[3, 5], features float32[3, 4]"


def test_onnx_runtime_refuses_an_onnx_file_with_an_unsized_dimension_in_one_line(tmp_path):
    path = write_onnx_file(tmp_path / "own.onnx")
    model = {"name": str(path), "kind": "onnx_file", "path": str(path), "vocab_size": VOCAB}
    _, result = run_worker("onnx", _spec("onnx", "ort_all", model, tmp_path, onnx_path=str(path)), tmp_path)
    assert result["status"] == "failed"
    assert "symbolic dimensions without a size: sequence (in input_ids, attention_mask)" in result["error"]


def test_torch_builds_a_torchvision_architecture_at_the_size_given(tmp_path):
    model = {"name": "resnet18", "kind": "image", "architecture": "torchvision", "arch": "resnet18", "image_size": 32}
    result = measure("torch", "torch", "eager", model, tmp_path)
    assert result["info"]["parameter_count"] == 11_689_512  # torchvision's resnet18


def test_a_vision_transformer_is_built_for_the_size_given(tmp_path):
    model = {"name": "vit_b_32", "kind": "image", "architecture": "torchvision", "arch": "vit_b_32", "image_size": 64}
    assert measure("torch", "torch", "eager", model, tmp_path, batch_size=1)["info"]["parameter_count"] > 8e7


def test_torch_runs_a_python_factory_with_positional_inputs(tmp_path):
    module = write_factory_module(tmp_path)
    model = {"name": "f", "kind": "python", "factory": f"{module}:positional", "factory_dir": str(tmp_path)}
    model["vocab_size"] = 30
    assert measure("torch", "torch", "eager", model, tmp_path)["info"]["parameter_count"] == 3 * 4 * 9 + 4


@pytest.mark.parametrize(
    ("function", "says"),
    [
        ("raises", "FactoryError: model.factory=my_models:raises: raises(batch_size=2) raised RuntimeError: the "),
        ("wrong", "must return (torch.nn.Module, example inputs); it returned tuple of str, dict"),
        ("nothing_here", "my_models has no function nothing_here"),
    ],
)
def test_a_factory_that_fails_is_a_failed_result_saying_why(tmp_path, function, says):
    module = write_factory_module(tmp_path)
    model = {"name": "f", "kind": "python", "factory": f"{module}:{function}", "factory_dir": str(tmp_path)}
    proc, result = run_worker("torch", _spec("torch", "eager", {**model, "vocab_size": 30}, tmp_path), tmp_path)
    assert proc.returncode == 1 and result["status"] == "failed"
    assert says in result["error"] and "\n" not in result["error"]


def _spec(runtime: str, mode: str, model: dict, tmp_path, batch_size: int = 2, **extra) -> dict:
    return {
        "runtime": runtime,
        "provider": "cpu",
        "mode": mode,
        "batch_size": batch_size,
        "seed": 0,
        "device_id": 0,
        "model": model,
        "measure": TINY,
        "output_dir": str(tmp_path / "out"),
        **extra,
    }


def measure_with(env: str, runtime: str, mode: str, model: dict, tmp_path, batch_size: int = 2, **extra) -> dict:
    proc, result = run_worker(env, _spec(runtime, mode, model, tmp_path, batch_size, **extra), tmp_path)
    assert proc.returncode == 0 and result["status"] == "ok", result.get("traceback") or proc.stderr[-3000:]
    assert result["latency"]["p50_ms"] > 0 and result["measured_samples"] == batch_size * result["latency"]["count"]
    return result


SAVE_FACTORY_WEIGHTS = """
import sys
import torch
sys.path.insert(0, sys.argv[1])
import my_models
module, _ = getattr(my_models, sys.argv[2])(batch_size=1)
state = module.state_dict() if sys.argv[4] == "state_dict" else {"epoch": 3, "state_dict": module.state_dict()}
torch.save(state, sys.argv[3])
"""


def _factory_weights(tmp_path, function: str, shape: str = "state_dict") -> str:
    path = tmp_path / f"{function}-{shape}.pt"
    script = [require_env("torch"), "-c", SAVE_FACTORY_WEIGHTS, str(tmp_path), function, str(path), shape]
    subprocess.run(script, check=True, timeout=120)
    return str(path)


def test_torch_loads_a_state_dict_into_a_python_factorys_module(tmp_path):
    module = write_factory_module(tmp_path)
    model = {"name": "f", "kind": "python", "factory": f"{module}:positional", "factory_dir": str(tmp_path)}
    model.update(vocab_size=30, weights=_factory_weights(tmp_path, "positional"))
    assert measure("torch", "torch", "eager", model, tmp_path)["info"]["parameter_count"] == 3 * 4 * 9 + 4


@pytest.mark.parametrize(
    ("saved_from", "shape", "says"),
    [
        ("build", "state_dict", "does not fit the module of model.factory=my_models:positional: missing keys 0.weight, "
         "0.bias; unexpected keys embed.weight, proj.weight, proj.bias"),
        ("positional", "checkpoint", "is not a state dict (tensors by parameter name) but a dict with keys epoch, "
         "state_dict; save it with torch.save(model.state_dict(), path)"),
    ],
)  # fmt: skip
def test_weights_that_do_not_fit_are_a_failed_result_in_one_line(tmp_path, saved_from, shape, says):
    module = write_factory_module(tmp_path)
    model = {"name": "f", "kind": "python", "factory": f"{module}:positional", "factory_dir": str(tmp_path)}
    model.update(vocab_size=30, weights=_factory_weights(tmp_path, saved_from, shape))
    proc, result = run_worker("torch", _spec("torch", "eager", model, tmp_path), tmp_path)
    assert proc.returncode == 1 and result["status"] == "failed"
    assert f"WeightsError: model.weights={model['weights']} {says}" in result["error"], result["error"]
    assert "\n" not in result["error"]
