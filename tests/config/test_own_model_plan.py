"""A user's own model in the plan (README "Measure your own model"): what each kind needs, which runtimes may run
it, and a configuration hash that tells two files apart while the study's models keep theirs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from green_mlflow.plan import PlanError, plan_job
from tests.helpers.own_models import TEXT_INPUTS, model_proto, write_factory_module


@pytest.fixture
def onnx_file(tmp_path: Path) -> Path:
    path = tmp_path / "own.onnx"
    path.write_bytes(model_proto(TEXT_INPUTS))
    return path


def _file(path: Path, *more: str) -> list[str]:
    return ["runtime=onnx", "model=onnx_file", f"model.path={path}", *more]


def test_the_study_models_keep_the_configuration_hashes_of_earlier_stores(compose_config):
    """Resume finds runs by this hash: the own-model fields, unset, must not change it (values from before them)."""
    expected = {
        (): "565f65bb70b133f0",
        ("model=resnet50",): "1c171f7415f551cf",
        ("model=bert_base", "runtime=onnx"): "03a0ea0fe484fb47",
        ("runtime=onnx", "runtime.source=tf", "batch_size=64"): "74326d9b7140f86f",
    }
    assert {o: plan_job(compose_config(list(o))).config_hash() for o in expected} == expected


def test_an_onnx_file_runs_on_onnx_runtime_with_no_source_and_its_dims(compose_config, onnx_file: Path):
    job = plan_job(compose_config(_file(onnx_file, "+model.dims.sequence=128", "batch_size=4")))
    assert job.source is None and job.runtime == "onnx" and job.label == "onnx(file) own.onnx bs=4 cpu ort_all"
    assert job.model["path"] == str(onnx_file) and job.model["dims"] == {"sequence": 128}
    assert len(job.model["sha256"]) == 64
    for dims in ("model.dims={sequence:128}", "model.dims.sequence=128"):  # without Hydra's "+" too
        assert plan_job(compose_config(_file(onnx_file, dims, "batch_size=4"))).config_hash() == job.config_hash()


def test_a_relative_path_is_made_absolute(compose_config, onnx_file: Path, monkeypatch):
    monkeypatch.chdir(onnx_file.parent)
    job = plan_job(compose_config(_file(Path("own.onnx"), "+model.dims.sequence=8")))
    assert job.model["path"] == str(onnx_file)


def test_another_file_at_the_same_path_is_another_configuration(compose_config, onnx_file: Path):
    overrides = _file(onnx_file, "+model.dims.sequence=8")
    before = plan_job(compose_config(overrides)).config_hash()
    assert plan_job(compose_config(overrides)).config_hash() == before
    onnx_file.write_bytes(model_proto([*TEXT_INPUTS, ("extra", 1, ["batch", 2])]))
    assert plan_job(compose_config(overrides)).config_hash() != before


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=onnx_file"], "model=onnx_file needs the file: model.path=/abs/path/model.onnx"),
        (_file(Path("/nonexistent/own.onnx")), "model.path=/nonexistent/own.onnx does not exist"),
        (["runtime=torch", "model=onnx_file", "model.path=<file>"], "allowed: runtime=onnx"),
        (["runtime=tf", "model=onnx_file", "model.path=<file>"], "model=onnx_file is not available with runtime=tf"),
        (
            _file(Path("<file>")),
            "symbolic dimensions without a size: sequence (in input_ids, attention_mask); give them with "
            "model.dims={sequence:<size>}",
        ),
        (_file(Path("<file>"), "+model.dims.sequence=0"), "model.dims: sequence=0: each must be 1 or more"),
        (_file(Path("<text>")), "is not an ONNX model"),
        (["model=torchvision"], "model=torchvision needs an architecture: model.arch=<name>"),
        (
            ["model=torchvision", "model.arch=resnet_18"],
            "model.arch=resnet_18 is not a torchvision 0.29 classification architecture; allowed: resnet101",
        ),
        (["model=torchvision", "model.arch=resnet18", "runtime=mxnet"], "allowed: runtime=torch, runtime=onnx runtime"),
        (
            ["model=torchvision", "model.arch=resnet18", "runtime=onnx", "runtime.source=tf"],
            "model=torchvision is not available with runtime=onnx runtime.source=tf: it is built in PyTorch",
        ),
        (["model=keras", "runtime=tf"], "model=keras needs an architecture: model.arch=<name> (e.g. MobileNetV3Small"),
        (
            ["model=keras", "model.arch=ResNet5", "runtime=tf"],
            "model.arch=ResNet5 is not a Keras 3 (keras.applications) classification architecture; allowed: ResNet101",
        ),
        (
            ["model=keras", "model.arch=ResNet50", "runtime=torch"],
            "model=keras is not available with runtime=torch: it is built in TensorFlow; allowed: runtime=tf, "
            "runtime=onnx runtime.source=tf",
        ),
        (
            ["model=keras", "model.arch=ResNet50", "runtime=tf", "model.weights=/nonexistent/r.weights.h5"],
            "model.weights=/nonexistent/r.weights.h5 does not exist; allowed: a Keras weights file (model.save_weights",
        ),
        (["model=gluon", "runtime=mxnet"], "model=gluon needs an architecture: model.arch=<name>"),
        (
            ["model=gluon", "model.arch=resnet19", "runtime=mxnet"],
            "model.arch=resnet19 is not a Gluon model zoo (mxnet 1.9.1) classification architecture; allowed: "
            "resnet101_v1",
        ),
        (
            ["model=gluon", "model.arch=resnet18_v1", "runtime=onnx", "runtime.source=torch"],
            "model=gluon is not available with runtime=onnx runtime.source=torch: it is built in MXNet; allowed: "
            "runtime=mxnet, runtime=onnx runtime.source=mxnet",
        ),
        (
            ["model=gluon", "model.arch=resnet18_v1", "runtime=mxnet", "model.weights=/nonexistent/r.params"],
            "allowed: a Gluon parameters file (net.save_parameters(path))",
        ),
        (["model=python"], "model=python needs your function: model.factory=package.module:function"),
        (["model=python", "model.factory=my_models.build"], "is not of the form package.module:function"),
        (["model=python", "model.factory=m:build", "runtime=tf"], "model=python is not available with runtime=tf"),
        (
            ["model.image_size=null"],
            "model.image_size=null is only for model=torchvision, model=keras, model=gluon (the architecture's documented size), not model=mobilenet_v2",
        ),
    ],
)
def test_a_users_model_that_cannot_run_is_refused_saying_what_is_allowed(
    compose_config, onnx_file: Path, overrides, message
):
    text = onnx_file.parent / "notes.onnx"
    text.write_text("not a model\n")
    overrides = [o.replace("<file>", str(onnx_file)).replace("<text>", str(text)) for o in overrides]
    with pytest.raises(PlanError) as err:
        plan_job(compose_config(overrides))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_torchvision_architecture_gets_its_documented_size_unless_given(compose_config):
    def model(*more):
        return plan_job(compose_config(["model=torchvision", *more])).model

    assert model("model.arch=resnet18")["image_size"] == 224
    assert model("model.arch=inception_v3")["image_size"] == 299
    assert model("model.arch=efficientnet_b3", "model.image_size=64")["image_size"] == 64
    job = plan_job(compose_config(["model=torchvision", "model.arch=vit_b_16", "runtime=onnx"]))
    assert (job.model["name"], job.model["arch"], job.source, job.label) == (
        "vit_b_16", "vit_b_16", "torch", "onnx(from torch) vit_b_16 bs=1 cpu ort_all"
    )  # fmt: skip


def test_keras_and_gluon_architectures_get_their_documented_sizes_and_their_framework_as_source(compose_config):
    def job(*overrides):
        return plan_job(compose_config(list(overrides)))

    assert job("model=keras", "model.arch=Xception", "runtime=tf").model["image_size"] == 299
    assert job("model=keras", "model.arch=MobileNetV3Small", "runtime=tf").model["image_size"] == 224
    assert job("model=gluon", "model.arch=inceptionv3", "runtime=mxnet").model["image_size"] == 299
    onnx = job("model=keras", "model.arch=EfficientNetB3", "runtime=onnx", "runtime.source=tf")
    assert (onnx.model["name"], onnx.model["arch"], onnx.model["image_size"], onnx.source) == (
        "EfficientNetB3", "EfficientNetB3", 300, "tf"
    )  # fmt: skip
    gluon = job(
        "model=gluon", "model.arch=mobilenet0.25", "runtime=onnx", "runtime.source=mxnet", "model.image_size=32"
    )
    assert (gluon.model["name"], gluon.model["image_size"], gluon.source) == ("mobilenet0.25", 32, "mxnet")
    assert gluon.label == "onnx(from mxnet) mobilenet0.25 bs=1 cpu ort_all"


def test_an_interpreter_of_your_own_may_know_architectures_the_catalogue_does_not(compose_config):
    job = plan_job(compose_config(["model=torchvision", "model.arch=future_net", "runtime.python=/usr/bin/python3"]))
    assert job.model["arch"] == "future_net"


def test_a_python_factory_is_found_from_the_current_directory_and_hashed_with_its_code(
    compose_config, tmp_path: Path, monkeypatch
):
    module = write_factory_module(tmp_path)
    monkeypatch.chdir(tmp_path)
    overrides = ["model=python", f"model.factory={module}:build", "runtime=onnx"]
    job = plan_job(compose_config(overrides))
    assert job.model["name"] == "my_models:build" and job.model["factory"] == "my_models:build"
    assert job.source == "torch" and job.model["kind"] == "python" and job.model["factory_dir"] == str(tmp_path)
    (tmp_path / "my_models.py").write_text((tmp_path / "my_models.py").read_text() + "\n# changed\n")
    assert plan_job(compose_config(overrides)).config_hash() != job.config_hash(), "other code, other model"
    monkeypatch.chdir(tmp_path.parent)
    with pytest.raises(PlanError, match="model.factory: no module my_models in the current directory"):
        plan_job(compose_config(overrides))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert plan_job(compose_config(overrides)).model["factory_dir"] == str(tmp_path)


def _checkpoint(folder: Path, **config) -> Path:
    """A checkpoint folder as the plan sees it: config.json and a weights file (the plan hashes, never parses it)."""
    folder.mkdir(exist_ok=True)
    settings = {"architectures": ["BertForSequenceClassification"], "vocab_size": 100, "type_vocab_size": 2}
    (folder / "config.json").write_text(json.dumps({**settings, **config}))
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "tokenizer.json").write_text("{}")
    return folder


def test_a_hugging_face_checkpoint_is_sized_from_its_config_and_hashed_with_its_weights(compose_config, tmp_path):
    folder = _checkpoint(tmp_path / "tiny-bert", max_position_embeddings=512)
    overrides = ["model=hf", f"model.path={folder}", "model.seq_len=16", "runtime=onnx"]
    job = plan_job(compose_config(overrides))
    assert job.source == "torch" and job.label == "onnx(from torch) tiny-bert bs=1 cpu ort_all"
    assert (job.model["modality"], job.model["vocab_size"], job.model["type_vocab_size"]) == ("text", 100, 2)
    assert job.model["path"] == str(folder) and len(job.model["sha256"]) == 64
    (folder / "tokenizer.json").write_text('{"changed": true}')
    assert plan_job(compose_config(overrides)).config_hash() == job.config_hash(), "the tokenizer is not the model"
    (folder / "model.safetensors").write_bytes(b"fine-tuned weights")
    assert plan_job(compose_config(overrides)).config_hash() != job.config_hash(), "other weights, other model"
    vision = _checkpoint(tmp_path / "tiny-vit", vocab_size=None, image_size=32, num_channels=3)
    model = plan_job(compose_config(["model=hf", f"model.path={vision}"])).model
    assert (model["modality"], model["image_size"], model["num_channels"]) == ("image", 32, 3)


def test_a_weights_file_is_found_and_hashed_into_the_configuration(compose_config, tmp_path):
    weights = tmp_path / "resnet18.pt"
    weights.write_bytes(b"a state dict")
    overrides = ["model=torchvision", "model.arch=resnet18", f"model.weights={weights}"]
    job = plan_job(compose_config(overrides))
    assert job.model["weights"] == str(weights) and len(job.model["weights_sha256"]) == 64
    assert "weights" not in plan_job(compose_config(overrides[:2])).model, "unset, it leaves the hash as it was"
    weights.write_bytes(b"another state dict")
    assert plan_job(compose_config(overrides)).config_hash() != job.config_hash()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=hf"], "model=hf needs the checkpoint: model.path=/abs/path/folder"),
        (["model=hf", "model.path=/nonexistent/ckpt"], "model.path=/nonexistent/ckpt does not exist"),
        (["model=hf", "model.path=<empty>"], "has no config.json, so it is not a Hugging Face checkpoint"),
        (["model=hf", "model.path=<no-weights>"], "has config.json but no weights (*.safetensors, *.bin"),
        (["model=hf", "model.path=<bad-json>"], "config.json cannot be read as JSON"),
        (["model=hf", "model.path=<ckpt>", "runtime=tf"], "model=hf is not available with runtime=tf"),
        (["model=hf", "model.path=<ckpt>", "model.seq_len=1024"], "longer than the checkpoint takes"),
        (["model=hf", "model.path=<audio>"], "has neither vocab_size (a text model) nor image_size or num_channels"),
        (["model=torchvision", "model.arch=resnet18", "model.weights=/nonexistent/w.pt"], "does not exist"),
        (["model=resnet50", "model.weights=/tmp/w.pt"], "model.weights is not available for model=resnet50"),
    ],
)
def test_a_checkpoint_or_weights_that_cannot_be_used_are_refused_in_one_line(
    compose_config, tmp_path, overrides, message
):
    (tmp_path / "empty").mkdir()
    (tmp_path / "no-weights").mkdir()
    (tmp_path / "no-weights" / "config.json").write_text("{}")
    _checkpoint(tmp_path / "bad-json").joinpath("config.json").write_text("{not json")
    _checkpoint(tmp_path / "ckpt", max_position_embeddings=512)
    _checkpoint(tmp_path / "audio", vocab_size=None)
    overrides = [o.replace("=<", f"={tmp_path}/").rstrip(">") for o in overrides]
    with pytest.raises(PlanError) as err:
        plan_job(compose_config(overrides))
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)
