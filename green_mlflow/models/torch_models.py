"""PyTorch builders for the study's models, from their definitions, with seeded random weights.

Weights cannot be downloaded here and neither speed nor energy depends on their values
(docs/design.md, "Models without a model hub"). A user's own weights come from local files only: a Hugging Face
checkpoint folder (``model=hf``) or a state dict loaded into a torchvision or factory module (``model.weights``).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

from green_mlflow.models.catalog import close_names
from green_mlflow.models.weights import WeightsError, does_not_fit, listed, one_line, planned_weights


def _resnet50(model: dict) -> torch.nn.Module:
    from torchvision.models import resnet50

    return resnet50(weights=None)


def _mobilenet_v2(model: dict) -> torch.nn.Module:
    from torchvision.models import mobilenet_v2

    return mobilenet_v2(weights=None)


class _BertForInference(torch.nn.Module):
    """BertModel called with keyword arguments, returning plain tensors.

    Keywords matter: positional arguments collide with ``use_cache`` in the legacy ONNX exporter.
    """

    def __init__(self, bert: torch.nn.Module):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.bert(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            return_dict=True,
        )
        return out.last_hidden_state, out.pooler_output


def _bert_base(model: dict) -> torch.nn.Module:
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=int(model["vocab_size"]),
        hidden_size=int(model["hidden_size"]),
        num_hidden_layers=int(model["num_layers"]),
        num_attention_heads=int(model["num_heads"]),
        intermediate_size=int(model["intermediate_size"]),
        max_position_embeddings=max(512, int(model["seq_len"])),
        # eager attention exports to plain ONNX ops and is what every framework can implement
        attn_implementation="eager",
    )
    return _BertForInference(BertModel(config))


def _torchvision(model: dict) -> torch.nn.Module:
    """``model=torchvision``: any classification architecture of torchvision.models, without weights."""
    import torchvision
    from torchvision.models import get_model, list_models

    arch, size = model["arch"], int(model["image_size"])
    allowed = list_models(module=torchvision.models)
    if arch not in allowed:
        examples = close_names(arch, allowed) or allowed[:5]
        raise ValueError(
            f"model.arch={arch} is not a classification architecture of torchvision {torchvision.__version__}; "
            f"allowed: {', '.join(examples)}, … ({len(allowed)} in all: torchvision.models.list_models())"
        )
    # transformers fix their input size when built: give them the one measured
    sized = (
        {"image_size": size} if arch.startswith("vit_") else {"input_size": (size, size)} if arch == "maxvit_t" else {}
    )
    return get_model(arch, weights=None, **sized)


class HfLoadError(ValueError):
    """A checkpoint folder transformers cannot load as the class it names; one line."""


class _HfForInference(torch.nn.Module):
    """A transformers model called with its inputs by name (given positionally, in ``inputs``' order), returning its
    output tensors as a plain tuple (what the ONNX exporter traces); ``output_names`` are their names, e.g.
    ``logits``, known after the first call."""

    def __init__(self, model: torch.nn.Module, inputs: tuple[str, ...]):
        super().__init__()
        self.model, self.inputs = model, inputs
        self.output_names: list[str] = []

    def forward(self, *tensors):
        out = self.model(**dict(zip(self.inputs, tensors)), return_dict=True)
        named = [(k, v) for k, v in out.items() if isinstance(v, torch.Tensor)]
        self.output_names = [k for k, _ in named]
        return tuple(v for _, v in named)


def _hf(model: dict) -> torch.nn.Module:
    """``model=hf``: a local checkpoint folder with its weights, as the class its config.json names (its task head),
    never downloaded (``local_files_only``, ``HF_HUB_OFFLINE``)."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: huggingface_hub reads it then
    import transformers

    path = model["path"]
    try:
        config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
    except Exception as err:
        raise HfLoadError(f"model.path={path}: transformers cannot read its config.json: {one_line(err)}") from err
    name = (config.architectures or ["AutoModel"])[0]
    cls = getattr(transformers, name, None)
    if cls is None or not hasattr(cls, "from_pretrained"):
        raise HfLoadError(
            f"model.path={path}: config.json names the class {name}, which transformers {transformers.__version__} "
            "does not have; allowed: a checkpoint of a class transformers has (config.architectures)"
        )
    if hasattr(config, "use_cache"):
        config.use_cache = False  # no key/value cache among the outputs: one forward pass is what is measured
    try:
        # eager attention, as for bert_base: plain ONNX ops, and the same computation on torch and ONNX Runtime
        loaded = cls.from_pretrained(path, config=config, local_files_only=True, attn_implementation="eager")
    except Exception as err:
        raise HfLoadError(f"model.path={path}: {name}.from_pretrained failed: {one_line(err)}") from err
    if model["modality"] == "image":
        inputs: tuple[str, ...] = ("pixel_values",)
    else:
        inputs = (
            ("input_ids", "attention_mask", "token_type_ids")
            if model.get("type_vocab_size")
            else ("input_ids", "attention_mask")
        )
    return _HfForInference(loaded, inputs)


def load_weights(module: torch.nn.Module, model: dict, what: str) -> None:
    """Load ``model["weights"]`` into ``module`` (``what`` names it in messages): ``torch.load(weights_only=True)``,
    then ``load_state_dict(strict=True)``; WeightsError in one line when the file changed since it was planned, cannot
    be read, or does not fit (its missing, unexpected and mis-shaped keys)."""
    path = planned_weights(model)
    given = f"model.weights={path}"
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:
        raise WeightsError(f"{given} cannot be read with torch.load(weights_only=True): {one_line(err)}") from err
    if not (isinstance(state, dict) and state and all(isinstance(v, torch.Tensor) for v in state.values())):
        held = (
            f"a dict with keys {listed([str(k) for k in state])}" if isinstance(state, dict) else type(state).__name__
        )
        raise WeightsError(
            f"{given} is not a state dict (tensors by parameter name) but {held}; save it with "
            "torch.save(model.state_dict(), path)"
        )
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {list(state[k].shape)} for {list(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    problems = [
        f"{label} {listed(keys)}"
        for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("other shapes", shapes))
        if keys
    ]
    if problems:
        raise does_not_fit(path, what, "; ".join(problems))
    try:
        module.load_state_dict(state, strict=True)
    except Exception as err:
        raise does_not_fit(path, what, one_line(err)) from err


BUILDERS: dict[str, Callable[[dict], torch.nn.Module]] = {
    "resnet50": _resnet50,
    "mobilenet_v2": _mobilenet_v2,
    "bert_base": _bert_base,
    "torchvision": _torchvision,
    "hf": _hf,
}


def build_model(model: dict, seed: int) -> torch.nn.Module:
    """Build ``model['name']`` in eval mode with weights drawn from ``seed`` (``model=python``: see
    ``torch_factory.build_factory_model``, which also gives the inputs)."""
    architecture = model.get("architecture") or model["name"]
    if architecture not in BUILDERS:
        raise ValueError(f"PyTorch has no builder for model {architecture!r}; allowed: {', '.join(sorted(BUILDERS))}")
    torch.manual_seed(seed)
    module = BUILDERS[architecture](model)
    if model.get("weights"):
        load_weights(module, model, model.get("arch") or architecture)
    return module.eval()


def parameter_count(module: torch.nn.Module) -> int:
    """Number of trainable and frozen parameters (buffers such as BatchNorm statistics excluded)."""
    return sum(p.numel() for p in module.parameters())
