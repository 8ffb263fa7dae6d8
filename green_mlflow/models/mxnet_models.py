"""MXNet Gluon builders: model-zoo ResNet-50 v1 and MobileNetV2 1.0, any model-zoo architecture (``model=gluon``), and
BERT-base as a HybridBlock.

Seeded random initialisation (Xavier for weights, as the model zoo's own training scripts use).
Gluon's BERT here mirrors BertModel: embeddings + LayerNorm, 12 post-LN encoder layers with exact
(erf) GELU, and a tanh pooler over the first token.
"""

from __future__ import annotations

import math

from green_mlflow.models.mxnet_shim import import_mxnet
from green_mlflow.models.weights import does_not_fit, one_line, planned_weights

mx = import_mxnet()
from mxnet.gluon import HybridBlock, nn  # noqa: E402


class BertLayer(HybridBlock):
    def __init__(self, hidden: int, heads: int, intermediate: int, seq_len: int, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.head_dim, self.seq_len = heads, hidden // heads, seq_len
        with self.name_scope():
            self.qkv = nn.Dense(3 * hidden, flatten=False, in_units=hidden)
            self.attention_out = nn.Dense(hidden, flatten=False, in_units=hidden)
            self.attention_norm = nn.LayerNorm(epsilon=1e-12, in_channels=hidden)
            self.intermediate = nn.Dense(intermediate, flatten=False, in_units=hidden)
            self.output_dense = nn.Dense(hidden, flatten=False, in_units=intermediate)
            self.output_norm = nn.LayerNorm(epsilon=1e-12, in_channels=hidden)

    def hybrid_forward(self, F, x, mask_bias):
        # reshapes use only 0 (copy), -1 (infer) and known sizes: mxnet.onnx cannot export -3/-4
        heads, seq, dim = self.heads, self.seq_len, self.head_dim
        qkv = self.qkv(x).reshape((0, 0, 3, heads, dim))  # (B, S, 3, H, D)

        def part(index):
            t = F.squeeze(F.slice_axis(qkv, axis=2, begin=index, end=index + 1), axis=2)  # (B, S, H, D)
            return F.transpose(t, axes=(0, 2, 1, 3)).reshape((-1, seq, dim))  # (B*H, S, D)

        q, k, v = part(0), part(1), part(2)
        scores = F.batch_dot(q, k, transpose_b=True) / math.sqrt(dim)
        scores = F.broadcast_add(scores.reshape((-1, heads, seq, seq)), mask_bias).reshape((-1, seq, seq))
        context = F.batch_dot(F.softmax(scores, axis=-1), v)  # (B*H, S, D)
        context = F.transpose(context.reshape((-1, heads, seq, dim)), axes=(0, 2, 1, 3)).reshape((0, 0, -1))
        x = self.attention_norm(x + self.attention_out(context))
        # MXNet's own exact (erf) GELU, as GluonNLP's BERT uses; mxnet.onnx converts it (not a bare erf)
        h = F.LeakyReLU(self.intermediate(x), act_type="gelu")
        return self.output_norm(x + self.output_dense(h))


class GluonBert(HybridBlock):
    """(input_ids, attention_mask, token_type_ids) → (last_hidden_state, pooler_output)."""

    def __init__(self, model: dict, **kwargs):
        super().__init__(**kwargs)
        hidden, seq_len = int(model["hidden_size"]), int(model["seq_len"])
        self.seq_len = seq_len
        with self.name_scope():
            self.word = nn.Embedding(int(model["vocab_size"]), hidden)
            self.position = nn.Embedding(max(512, seq_len), hidden)
            self.segment = nn.Embedding(2, hidden)
            self.norm = nn.LayerNorm(epsilon=1e-12, in_channels=hidden)
            self.encoder = nn.HybridSequential()
            for _ in range(int(model["num_layers"])):
                self.encoder.add(BertLayer(hidden, int(model["num_heads"]), int(model["intermediate_size"]), seq_len))
            self.pooler = nn.Dense(hidden, activation="tanh", flatten=False, in_units=hidden)

    def hybrid_forward(self, F, input_ids, attention_mask, token_type_ids):
        positions = F.arange(self.seq_len).reshape((1, -1))
        x = F.broadcast_add(self.word(input_ids), self.position(positions)) + self.segment(token_type_ids)
        x = self.norm(x)
        mask_bias = ((1.0 - attention_mask.astype("float32")) * -10000.0).reshape((0, 1, 1, -1))  # (B,1,1,S)
        for layer in self.encoder:
            x = layer(x, mask_bias)
        first = F.squeeze(F.slice_axis(x, axis=1, begin=0, end=1), axis=1)
        return x, self.pooler(first)


def build_model(model: dict, seed: int):
    """Build and initialise ``model['name']`` with weights drawn from ``seed``."""
    from mxnet.gluon.model_zoo import vision

    mx.random.seed(seed)
    architecture = model.get("architecture") or model["name"]
    if architecture == "resnet50":
        net = vision.resnet50_v1(pretrained=False)
    elif architecture == "mobilenet_v2":
        net = vision.mobilenet_v2_1_0(pretrained=False)
    elif architecture == "gluon":
        net = _zoo_model(model["arch"])
    elif architecture == "bert_base":
        net = GluonBert(model)
    else:
        raise ValueError(
            f"MXNet has no builder for model {architecture!r}; allowed: bert_base, gluon, mobilenet_v2, resnet50"
        )
    if model.get("weights"):
        path = planned_weights(model)
        try:  # every parameter from the file, none left over (load_parameters' defaults)
            net.load_parameters(str(path), ctx=mx.cpu())
        except Exception as err:
            raise does_not_fit(path, model["arch"], one_line(err)) from err
    else:
        net.initialize(mx.init.Xavier(magnitude=2.24), ctx=mx.cpu())
    return net


def _zoo_model(arch: str):
    """``model=gluon``: a Gluon model-zoo architecture by its get_model name, without weights."""
    from mxnet.gluon.model_zoo import vision

    try:
        return vision.get_model(arch, pretrained=False)
    except ValueError:  # its message lists every name, over many lines
        raise ValueError(
            f"model.arch={arch} is not in the Gluon model zoo of mxnet {mx.__version__}; allowed: a name "
            "mxnet.gluon.model_zoo.vision.get_model takes, e.g. resnet18_v1, mobilenet0.25, mobilenetv2_1.0"
        ) from None


def parameter_count(net) -> int:
    """Learnable parameters (BatchNorm running statistics excluded, as in torch and Keras' trainable count)."""
    return int(sum(p.data().size for p in net.collect_params().values() if p.grad_req != "null"))
