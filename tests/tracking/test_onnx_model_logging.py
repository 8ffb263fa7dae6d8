"""The ONNX model a job ran, logged as an MLflow model: what it declares, and what MLflow says meanwhile."""

from __future__ import annotations

from pathlib import Path

import onnx
import onnxruntime
import yaml
from onnx import TensorProto, helper

from green_mlflow.tracking import models, runs
from green_mlflow.tracking.store import open_store


def tiny_onnx(path: Path) -> Path:
    """y = relu(x), x of shape [batch, 4]: the smallest model MLflow logs with a signature and an example."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_logging_the_model_of_a_cpu_job_keeps_mlflows_missing_provider_warning_off_the_terminal(
    tmp_path, sqlite_uri, capfd
):
    store = open_store(sqlite_uri, "onnx models")
    run_id = runs.start_child(store, runs.start_parent(store, "sweep", {}), "onnx job", {}, {})
    capfd.readouterr()
    notes: list[str] = []

    model_id, logged = models.log_once(
        store, run_id, tiny_onnx(tmp_path / "tiny.onnx"), "conversion-1", {}, notes.append
    )

    out, err = capfd.readouterr()
    assert logged
    assert "execution providers" not in out and "execution providers" not in err
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():  # a CPU-only orchestrator
        assert len(notes) == 1 and "['CUDAExecutionProvider'] are unavailable" in notes[0]
    # the model still declares the GPU for whoever serves it: it is shared by the jobs of every provider
    location = store.client.get_logged_model(model_id).artifact_location
    mlmodel = yaml.safe_load((Path(location.removeprefix("file://")) / "MLmodel").read_text())
    assert mlmodel["flavors"]["onnx"]["providers"] == ["CUDAExecutionProvider", "CPUExecutionProvider"]
