"""A user's own model measured through the command line (README "Measure your own model"), each built by the test
itself: an ONNX file, a torchvision, Keras or Gluon architecture, a Python factory, a Hugging Face checkpoint, weights
of one's own (a state dict, a Keras weights file, Gluon parameters); and what cannot run refused cleanly."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.helpers.own_models import (
    HF_VOCAB,
    TEXT_INPUTS,
    VOCAB,
    model_proto,
    write_factory_module,
    write_gluon_params,
    write_hf_checkpoint,
    write_keras_weights,
    write_onnx_file,
    write_state_dict,
)
from tests.helpers.project import TINY_MEASURE, require_env, run_cli

pytestmark = pytest.mark.slow


def _children(uri: str) -> list:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("green_mlflow")
    if experiment is None:
        return []
    return [r for r in client.search_runs([experiment.experiment_id]) if "mlflow.parentRunId" in r.data.tags]


def _finished(proc, uri: str, count: int = 1) -> list:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    children = _children(uri)
    assert len(children) == count and all(c.info.status == "FINISHED" for c in children), children
    for child in children:
        assert child.data.metrics["latency_p50_ms"] > 0 and child.data.metrics["throughput_samples_per_s"] > 0
    return children


def _failed(proc, uri: str, says: str) -> None:
    """The one job's run FAILED with ``says`` in its one-line reason, nothing measured, no traceback shown."""
    assert proc.returncode != 0 and "Traceback" not in proc.stdout
    (child,) = _children(uri)
    reason = child.data.tags["green.status_reason"]
    assert child.info.status == "FAILED" and "\n" not in reason and len(reason) < 600, reason
    assert says in reason, reason
    assert "latency_p50_ms" not in child.data.metrics, "nothing was measured"


def _refused(proc, uri: str, says: str) -> None:
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text[-3000:]
    assert says in proc.stderr and "Traceback" not in text, text[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and len(errors[0]) < 400, errors
    assert not any(c.info.status == "FINISHED" for c in _children(uri)), "nothing is measured"


def test_an_onnx_file_of_your_own_is_measured_on_onnx_runtime(tmp_path: Path, sqlite_uri: str):
    require_env("torch"), require_env("onnx")
    path = write_onnx_file(tmp_path / "own.onnx")  # symbolic batch and sequence, int64 token ids and mask
    args = ["runtime=onnx", "model=onnx_file", f"model.path={path}", "+model.dims.sequence=16"]
    proc = run_cli([*args, f"model.vocab_size={VOCAB}", "batch_size=3", *TINY_MEASURE], tmp_path, sqlite_uri)
    (child,) = _finished(proc, sqlite_uri)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert child.data.tags["onnx.cache_key"] == digest[:20], "the file is recognised by its content"
    assert child.data.params["model"] == str(path) and child.data.params["model.dims.sequence"] == "16"
    assert child.data.params["runtime.source"] == "file", "no source framework: the report labels it onnx (from file)"
    assert child.data.tags["green.onnx.model_id"].startswith("m-"), "the user's file is an MLflow model too"
    assert child.data.tags["onnx.exporter"].startswith("none: the user's own ONNX file, not converted")
    assert "onnx.parity" not in child.data.tags, "nothing was converted: no parity to claim"
    client = MlflowClient(sqlite_uri)
    spec = json.loads(Path(client.download_artifacts(child.info.run_id, "spec.json", str(tmp_path))).read_text())
    assert spec["source"] is None and spec["model"]["sha256"] == digest and spec["batch_size"] == 3
    environment = client.download_artifacts(child.info.run_id, "environment.json", str(tmp_path))
    inputs = json.loads(Path(environment).read_text())["runtime"]["inputs"]
    assert inputs == "input_ids int64[3, 16], attention_mask int64[3, 16], features float32[3, 4]"
    assert child.data.metrics["measured_samples"] % 3 == 0


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["runtime=onnx", "model=onnx_file", "model.path=/nonexistent/own.onnx"], "does not exist"),
        (["runtime=onnx", "model=onnx_file", "model.path=<text>"], "is not an ONNX model"),
        (["runtime=torch", "model=onnx_file", "model.path=<file>"], "allowed: runtime=onnx"),
        (["runtime=onnx", "model=onnx_file", "model.path=<file>"], "model.dims={sequence:<size>}"),
    ],
)
def test_an_onnx_file_that_cannot_run_is_refused_before_anything_is_measured(
    tmp_path: Path, sqlite_uri: str, overrides: list[str], says: str
):
    (tmp_path / "own.onnx").write_bytes(model_proto(TEXT_INPUTS))
    (tmp_path / "notes.txt").write_text("not a model\n")
    fill = {"<file>": str(tmp_path / "own.onnx"), "<text>": str(tmp_path / "notes.txt")}
    overrides = [next((o.replace(k, v) for k, v in fill.items() if k in o), o) for o in overrides]
    _refused(run_cli([*overrides, *TINY_MEASURE], tmp_path, sqlite_uri, timeout=120), sqlite_uri, says)


def test_a_torchvision_architecture_is_measured_on_torch_and_on_onnx_from_torch(tmp_path: Path, sqlite_uri: str):
    require_env("torch"), require_env("onnx")
    args = ["-m", "runtime=torch,onnx", "model=torchvision", "model.arch=mobilenet_v3_small", "model.image_size=32"]
    proc = run_cli([*args, *TINY_MEASURE], tmp_path, sqlite_uri)
    children = _finished(proc, sqlite_uri, count=2)
    by_runtime = {c.data.params["runtime"]: c for c in children}
    torch_run, onnx_run = by_runtime["torch"], by_runtime["onnx"]
    assert torch_run.data.params["model"] == "mobilenet_v3_small", "the report groups by the architecture"
    assert torch_run.data.params["model.image_size"] == "32"
    assert torch_run.data.metrics["model_parameters"] == 2_542_856  # torchvision's mobilenet_v3_small
    assert onnx_run.data.tags["onnx.parity"] == "passed"


def test_a_python_factory_of_your_own_is_measured_on_torch_and_on_onnx_from_torch(tmp_path: Path, sqlite_uri: str):
    require_env("torch"), require_env("onnx")
    module = write_factory_module(tmp_path)  # in the cwd of the command: importable from there
    args = ["-m", "runtime=torch,onnx", "model=python", f"model.factory={module}:build", "model.vocab_size=30"]
    proc = run_cli([*args, "batch_size=2", *TINY_MEASURE], tmp_path, sqlite_uri)
    children = _finished(proc, sqlite_uri, count=2)
    by_runtime = {c.data.params["runtime"]: c for c in children}
    assert by_runtime["torch"].data.params["model"] == f"{module}:build"
    assert by_runtime["torch"].data.metrics["model_parameters"] == 30 * 8 + 11 * 5 + 5
    onnx_run = by_runtime["onnx"]
    assert onnx_run.data.tags["onnx.parity"] == "passed", "PyTorch and ONNX Runtime were fed the same inputs"


@pytest.mark.parametrize(
    ("function", "says"),
    [
        ("raises", "raises(batch_size=1) raised RuntimeError: the weights server is down"),
        ("wrong", "must return (torch.nn.Module, example inputs); it returned tuple of str, dict"),
        ("missing", "my_models has no function missing"),
    ],
)
def test_a_factory_that_raises_or_returns_the_wrong_thing_fails_its_run_with_that_reason(
    tmp_path: Path, sqlite_uri: str, function: str, says: str
):
    require_env("torch")
    module = write_factory_module(tmp_path)
    proc = run_cli(["model=python", f"model.factory={module}:{function}", *TINY_MEASURE], tmp_path, sqlite_uri)
    _failed(proc, sqlite_uri, says)


def test_a_factory_module_that_is_not_there_and_an_unknown_architecture_are_refused(tmp_path: Path, sqlite_uri: str):
    proc = run_cli(["model=python", "model.factory=not_here:build"], tmp_path, sqlite_uri, timeout=120)
    _refused(proc, sqlite_uri, "model.factory: no module not_here in the current directory")
    proc = run_cli(["model=torchvision", "model.arch=resnet_18"], tmp_path, sqlite_uri, timeout=120)
    _refused(proc, sqlite_uri, "model.arch=resnet_18 is not a torchvision 0.29 classification architecture")


def test_a_hugging_face_checkpoint_is_measured_with_its_weights_on_torch_and_on_onnx_from_torch(
    tmp_path: Path, sqlite_uri: str
):
    require_env("torch"), require_env("onnx")
    folder = write_hf_checkpoint(tmp_path / "tiny-bert")  # BertForSequenceClassification, vocabulary HF_VOCAB
    args = ["-m", "runtime=torch,onnx", "model=hf", f"model.path={folder}", "model.seq_len=16", "batch_size=2"]
    children = _finished(run_cli([*args, *TINY_MEASURE], tmp_path, sqlite_uri), sqlite_uri, count=2)
    by_runtime = {c.data.params["runtime"]: c for c in children}
    torch_run, onnx_run = by_runtime["torch"], by_runtime["onnx"]
    assert torch_run.data.params["model"] == str(folder) and torch_run.data.params["model.kind"] == "hf"
    assert torch_run.data.metrics["model_parameters"] == 37_922, "the checkpoint's classifier head is loaded too"
    assert onnx_run.data.tags["onnx.parity"] == "passed"
    client = MlflowClient(sqlite_uri)
    spec = json.loads(Path(client.download_artifacts(torch_run.info.run_id, "spec.json", str(tmp_path))).read_text())
    assert spec["model"]["vocab_size"] == HF_VOCAB and spec["model"]["modality"] == "text"
    parity = json.loads(
        Path(client.download_artifacts(onnx_run.info.run_id, "onnx/parity.json", str(tmp_path))).read_text()
    )
    assert list(parity["outputs"]) == ["logits"] and parity["outputs"]["logits"]["shape"] == [2, 2]
    environment = client.download_artifacts(onnx_run.info.run_id, "environment.json", str(tmp_path))
    inputs = json.loads(Path(environment).read_text())["runtime"]["inputs"]
    assert inputs == "input_ids int64[2, 16], attention_mask int64[2, 16], token_type_ids int64[2, 16]"


def test_a_folder_that_is_not_a_checkpoint_is_refused_before_anything_is_measured(tmp_path: Path, sqlite_uri: str):
    (tmp_path / "empty").mkdir()
    proc = run_cli(["model=hf", f"model.path={tmp_path / 'empty'}"], tmp_path, sqlite_uri, timeout=120)
    _refused(proc, sqlite_uri, "has no config.json, so it is not a Hugging Face checkpoint")
    proc = run_cli(["model=hf", "model.path=/nonexistent/checkpoint"], tmp_path, sqlite_uri, timeout=120)
    _refused(proc, sqlite_uri, "model.path=/nonexistent/checkpoint does not exist")


def test_weights_of_your_own_are_loaded_into_a_torchvision_architecture(tmp_path: Path, sqlite_uri: str):
    require_env("torch"), require_env("onnx")
    weights = write_state_dict(tmp_path / "mobilenet.pt")
    args = ["-m", "runtime=torch,onnx", "model=torchvision", "model.arch=mobilenet_v3_small", "model.image_size=32"]
    children = _finished(
        run_cli([*args, f"model.weights={weights}", *TINY_MEASURE], tmp_path, sqlite_uri), sqlite_uri, 2
    )
    by_runtime = {c.data.params["runtime"]: c for c in children}
    assert by_runtime["torch"].data.params["model.weights"] == str(weights)
    assert by_runtime["onnx"].data.tags["onnx.parity"] == "passed"
    spec = MlflowClient(sqlite_uri).download_artifacts(by_runtime["torch"].info.run_id, "spec.json", str(tmp_path))
    assert (
        json.loads(Path(spec).read_text())["model"]["weights_sha256"]
        == hashlib.sha256(weights.read_bytes()).hexdigest()
    )


def test_weights_that_do_not_fit_fail_the_run_with_one_line_and_a_missing_file_is_refused(
    tmp_path: Path, sqlite_uri: str
):
    require_env("torch")
    weights = write_state_dict(tmp_path / "resnet18.pt", arch="resnet18")
    args = ["model=torchvision", "model.arch=mobilenet_v3_small", "model.image_size=32", f"model.weights={weights}"]
    proc = run_cli([*args, *TINY_MEASURE], tmp_path, sqlite_uri)
    _failed(
        proc,
        sqlite_uri,
        f"WeightsError: model.weights={weights} does not fit mobilenet_v3_small: missing keys features.0.0",
    )
    proc = run_cli([*args[:3], "model.weights=/nonexistent/w.pt"], tmp_path, sqlite_uri, timeout=120)
    _refused(proc, sqlite_uri, "model.weights=/nonexistent/w.pt does not exist")


def test_a_keras_application_with_weights_of_your_own_is_measured_on_tf_and_on_onnx_from_tf(
    tmp_path: Path, sqlite_uri: str
):
    require_env("tf"), require_env("onnx")
    weights, parameters = write_keras_weights(tmp_path / "small.weights.h5", "MobileNetV3Small", 32)
    args = ["-m", "runtime=tf,onnx", "runtime.source=tf", "model=keras", "model.arch=MobileNetV3Small"]
    proc = run_cli([*args, "model.image_size=32", f"model.weights={weights}", *TINY_MEASURE], tmp_path, sqlite_uri)
    by_runtime = {c.data.params["runtime"]: c for c in _finished(proc, sqlite_uri, count=2)}
    tf_run, onnx_run = by_runtime["tf"], by_runtime["onnx"]
    assert tf_run.data.params["model"] == "MobileNetV3Small" and tf_run.data.params["model.weights"] == str(weights)
    assert tf_run.data.metrics["model_parameters"] == parameters, "Keras' own MobileNetV3Small was built"
    assert onnx_run.data.tags["onnx.parity"] == "passed" and onnx_run.data.params["runtime.source"] == "tf"
    spec = MlflowClient(sqlite_uri).download_artifacts(tf_run.info.run_id, "spec.json", str(tmp_path))
    planned = json.loads(Path(spec).read_text())["model"]
    assert planned["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    other = f"sqlite:///{tmp_path}/refused.db"  # a store of its own: nothing may be measured in it
    proc = run_cli(["runtime=tf", "model=keras", "model.arch=ResNet5"], tmp_path, other, timeout=120)
    _refused(proc, other, "model.arch=ResNet5 is not a Keras 3 (keras.applications) classification architecture")


def test_a_gluon_model_zoo_architecture_is_measured_on_mxnet_and_on_onnx_from_mxnet_with_its_own_parameters(
    tmp_path: Path, sqlite_uri: str
):
    require_env("mxnet"), require_env("onnx")
    params = write_gluon_params(tmp_path / "mobilenet.params", "mobilenet0.25", 32)
    args = ["model=gluon", "model.arch=mobilenet0.25", "model.image_size=32"]
    sweep = ["-m", "runtime=mxnet,onnx", "runtime.source=mxnet", *args, f"model.weights={params}", *TINY_MEASURE]
    by_runtime = {c.data.params["runtime"]: c for c in _finished(run_cli(sweep, tmp_path, sqlite_uri), sqlite_uri, 2)}
    assert by_runtime["mxnet"].data.params["model"] == "mobilenet0.25"
    assert by_runtime["mxnet"].data.params["model.weights"] == str(params)
    assert by_runtime["onnx"].data.tags["onnx.parity"] == "passed"


def test_gluon_parameters_of_another_architecture_fail_the_run_with_one_line(tmp_path: Path, sqlite_uri: str):
    require_env("mxnet")
    params = write_gluon_params(tmp_path / "resnet.params", "resnet18_v1", 32)
    args = ["runtime=mxnet", "model=gluon", "model.arch=mobilenet0.25", "model.image_size=32"]
    proc = run_cli([*args, f"model.weights={params}", *TINY_MEASURE], tmp_path, sqlite_uri)
    _failed(proc, sqlite_uri, f"WeightsError: model.weights={params} does not fit mobilenet0.25")
