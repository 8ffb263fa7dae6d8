"""Small models of a user's own, made by the tests themselves: an ONNX file built with ``onnx.helper`` and a
PyTorch factory module (README "Measure your own model")."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

from tests.helpers.project import ROOT, require_env

VOCAB = 50  # the ONNX file's embedding rows: token ids must stay below it (model.vocab_size)

# A text-like model: int64 token ids and mask [batch, sequence] (both symbolic), a float input [batch, 4];
# output = mean over the sequence of the masked embeddings of the ids, plus the float input.
ONNX_FILE_SCRIPT = f"""
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(0)
table = numpy_helper.from_array(rng.random(({VOCAB}, 4), dtype=np.float32), "table")
axes = numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")
nodes = [
    helper.make_node("Gather", ["table", "input_ids"], ["embedded"]),
    helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
    helper.make_node("Unsqueeze", ["mask_f", "minus_one"], ["mask_3d"]),
    helper.make_node("Mul", ["embedded", "mask_3d"], ["masked"]),
    helper.make_node("ReduceMean", ["masked"], ["pooled"], axes=[1], keepdims=0),
    helper.make_node("Add", ["pooled", "features"], ["output"]),
]
minus_one = numpy_helper.from_array(np.array([-1], dtype=np.int64), "minus_one")
graph = helper.make_graph(
    nodes,
    "own_model",
    [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 4]),
    ],
    [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 4])],
    initializer=[table, minus_one],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="green_mlflow tests")
model.ir_version = 8
onnx.checker.check_model(model, full_check=True)
onnx.save(model, sys.argv[1])
"""


def write_onnx_file(path: Path) -> Path:
    """The ONNX model above, written to ``path`` with onnx in the torch environment (the only one that has it)."""
    subprocess.run([require_env("torch"), "-c", ONNX_FILE_SCRIPT, str(path)], check=True, timeout=120)
    return path


FACTORY_MODULE = '''
"""A user's own PyTorch model: two inputs by name, one a mask of token type ids."""
import torch


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(30, 8)
        self.proj = torch.nn.Linear(8 + 3, 5)

    def forward(self, tokens, extra):
        return self.proj(torch.cat([self.embed(tokens).mean(dim=1), extra], dim=1))


def build(batch_size):
    return Tiny(), {"tokens": torch.zeros(batch_size, 6, dtype=torch.int64), "extra": torch.zeros(batch_size, 3)}


def positional(batch_size):
    """A vision-like model with inputs as a tuple."""
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1))
    return net, (torch.zeros(batch_size, 3, 16, 16),)


def raises(batch_size):
    raise RuntimeError("the weights server is down")


def wrong(batch_size):
    return "not a module", {}
'''


def write_factory_module(folder: Path, name: str = "my_models") -> str:
    """A module of factories in ``folder`` (importable from there); returns the module's name."""
    (folder / f"{name}.py").write_text(textwrap.dedent(FACTORY_MODULE))
    return name


# -- an ONNX ModelProto encoded by hand (no onnx package in the orchestrator): enough for the plan's checks --


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, value: int | bytes | str) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def model_proto(inputs: list[tuple[str, int, list]], weights: tuple[str, ...] = ()) -> bytes:
    """A ModelProto (IR 8, opset 17) whose graph declares ``inputs``: (name, ONNX element type, dims), a dim an
    int (fixed) or a str (symbolic), and float initializers named ``weights`` (4 floats each). It has no nodes:
    the plan reads it, ONNX Runtime would refuse it."""
    values = b"".join(_field(5, _field(1, 4) + _field(2, 1) + _field(8, w) + _field(9, bytes(16))) for w in weights)
    for name, elem, dims in inputs:
        shape = b"".join(_field(1, _field(1 if isinstance(d, int) else 2, d)) for d in dims)
        tensor = _field(1, elem) + _field(2, shape)
        values += _field(11, _field(1, name) + _field(2, _field(1, tensor)))
    graph = _field(2, "hand_made") + values
    return _field(1, 8) + _field(2, "tests") + _field(7, graph) + _field(8, _field(1, "") + _field(2, 17))


TEXT_INPUTS = [("input_ids", 7, ["batch", "sequence"]), ("attention_mask", 7, ["batch", "sequence"])]


HF_VOCAB = 100  # the tiny checkpoint's vocabulary: token ids must stay below it
# A tiny BERT with a sequence-classification head (2 labels), saved with its weights as save_pretrained writes it
HF_CHECKPOINT_SCRIPT = f"""
import sys
import torch
from transformers import BertConfig, BertForSequenceClassification

torch.manual_seed(0)
config = BertConfig(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, vocab_size={HF_VOCAB}
)
BertForSequenceClassification(config).save_pretrained(sys.argv[1])
"""


def write_hf_checkpoint(folder: Path) -> Path:
    """The tiny checkpoint above, written to ``folder`` with transformers in the torch environment."""
    subprocess.run([require_env("torch"), "-c", HF_CHECKPOINT_SCRIPT, str(folder)], check=True, timeout=300)
    return folder


# A state dict of mobilenet_v3_small (its own seed, not the one green_mlflow builds with), or of resnet18: one that
# does not fit mobilenet_v3_small
STATE_DICT_SCRIPT = """
import sys
import torch
from torchvision.models import get_model

torch.manual_seed(1234)
torch.save(get_model(sys.argv[2], weights=None).state_dict(), sys.argv[1])
"""


def write_state_dict(path: Path, arch: str = "mobilenet_v3_small") -> Path:
    """A torchvision architecture's state dict, saved with ``torch.save`` in the torch environment."""
    subprocess.run([require_env("torch"), "-c", STATE_DICT_SCRIPT, str(path), arch], check=True, timeout=300)
    return path


KERAS_WEIGHTS_SCRIPT = """
import sys
import keras
import numpy as np

keras.utils.set_random_seed(1234)
path, arch, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = getattr(keras.applications, arch)(weights=None, input_shape=(size, size, 3), classifier_activation=None)
model.save_weights(path)
print(int(sum(np.prod(w.shape) for w in model.trainable_weights)))
"""


def write_keras_weights(path: Path, arch: str, size: int) -> tuple[Path, int]:
    """A keras.applications architecture's weights (``save_weights``) and its trainable parameter count, in the tf
    environment."""
    proc = subprocess.run(
        [require_env("tf"), "-c", KERAS_WEIGHTS_SCRIPT, str(path), arch, str(size)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return path, int(proc.stdout.strip().splitlines()[-1])


GLUON_PARAMS_SCRIPT = """
import sys
from green_mlflow.models.mxnet_shim import import_mxnet

mx = import_mxnet()
from mxnet.gluon.model_zoo import vision

mx.random.seed(1234)
path, arch, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
net = vision.get_model(arch, pretrained=False)
net.initialize(mx.init.Xavier())
net(mx.nd.zeros((1, 3, size, size)))  # Gluon infers the shapes it defers on the first call
net.save_parameters(path)
"""


def write_gluon_params(path: Path, arch: str, size: int) -> Path:
    """A Gluon model-zoo architecture's parameters (``save_parameters``), in the mxnet environment."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [require_env("mxnet"), "-c", GLUON_PARAMS_SCRIPT, str(path), arch, str(size)],
        check=True, capture_output=True, timeout=300, env=env,
    )  # fmt: skip
    return path
