"""PyTorch builders for the study's models, from their definitions, with seeded random weights.

Weights cannot be downloaded here and neither speed nor energy depends on their values
(docs/design.md, "Models without a model hub").
"""

from __future__ import annotations

from collections.abc import Callable

import torch


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
        examples = [a for a in allowed if a.startswith(arch[:3].lower())][:5] or allowed[:5]
        raise ValueError(
            f"model.arch={arch} is not a classification architecture of torchvision {torchvision.__version__}; "
            f"allowed: {', '.join(examples)}, … ({len(allowed)} in all: torchvision.models.list_models())"
        )
    # transformers fix their input size when built: give them the one measured
    sized = (
        {"image_size": size} if arch.startswith("vit_") else {"input_size": (size, size)} if arch == "maxvit_t" else {}
    )
    return get_model(arch, weights=None, **sized)


BUILDERS: dict[str, Callable[[dict], torch.nn.Module]] = {
    "resnet50": _resnet50,
    "mobilenet_v2": _mobilenet_v2,
    "bert_base": _bert_base,
    "torchvision": _torchvision,
}


def build_model(model: dict, seed: int) -> torch.nn.Module:
    """Build ``model['name']`` in eval mode with weights drawn from ``seed`` (``model=python``: see
    ``torch_factory.build_factory_model``, which also gives the inputs)."""
    architecture = model.get("architecture") or model["name"]
    if architecture not in BUILDERS:
        raise ValueError(f"PyTorch has no builder for model {architecture!r}; allowed: {', '.join(sorted(BUILDERS))}")
    torch.manual_seed(seed)
    return BUILDERS[architecture](model).eval()


def parameter_count(module: torch.nn.Module) -> int:
    """Number of trainable and frozen parameters (buffers such as BatchNorm statistics excluded)."""
    return sum(p.numel() for p in module.parameters())
