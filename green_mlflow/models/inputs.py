"""Seeded synthetic inputs, shared by every runtime so that all see identical data.

Images are NCHW float32 in [0, 1) (the layout PyTorch and ONNX exported from PyTorch use);
text inputs follow BERT's three int64 tensors. A Hugging Face checkpoint (``model=hf``) gets the same, sized from
its config.json (``models.hf_checkpoint``): ``pixel_values`` of its channels and size, or token ids below its
vocabulary, with ``token_type_ids`` only where it has token types. A user's own model (``model=onnx_file``, ``model=python``)
declares its inputs — names, dtypes, shapes — and ``declared_inputs`` fills them: floats in [0, 1),
integers (token ids) in [0, ``model.vocab_size``), or [0, 2) where the name holds "mask" or "type".
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

IMAGE_INPUT = "input"
TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
HF_IMAGE_INPUT = "pixel_values"  # what transformers' vision models are called with
# every framework's model returns these, in this order
OUTPUT_NAMES = {"image": ["logits"], "text": ["last_hidden_state", "pooler_output"]}


def make_inputs(model: dict, batch_size: int, seed: int) -> dict[str, np.ndarray]:
    """Return the named input arrays for ``model`` (a model config dict) at ``batch_size``."""
    rng = np.random.default_rng(seed)
    if model["kind"] == "hf" and model["modality"] == "image":
        size, channels = int(model["image_size"]), int(model["num_channels"])
        return {HF_IMAGE_INPUT: rng.random((batch_size, channels, size, size), dtype=np.float32)}
    if model["kind"] == "hf":
        text = make_inputs({**model, "kind": "text"}, batch_size, seed)
        return text if model.get("type_vocab_size") else {k: v for k, v in text.items() if k != "token_type_ids"}
    if model["kind"] == "image":
        size = int(model["image_size"])
        return {IMAGE_INPUT: rng.random((batch_size, 3, size, size), dtype=np.float32)}
    if model["kind"] == "text":
        seq_len = int(model["seq_len"])
        input_ids = rng.integers(0, int(model["vocab_size"]), (batch_size, seq_len), dtype=np.int64)
        return {
            "input_ids": input_ids,
            "attention_mask": np.ones((batch_size, seq_len), dtype=np.int64),
            "token_type_ids": np.zeros((batch_size, seq_len), dtype=np.int64),
        }
    raise ValueError(f"unknown model kind {model['kind']!r}; allowed: image, text, hf")


# ONNX Runtime's input types and the numpy dtypes they are filled with
ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(uint16)": "uint16",
    "tensor(uint32)": "uint32",
    "tensor(uint64)": "uint64",
    "tensor(bool)": "bool",
}
Dim = int | str | None  # a size, a symbolic dimension's name, or an unnamed dynamic dimension


def resolve_shapes(
    declared: Sequence[tuple[str, Sequence[Dim]]], batch_size: int, dims: dict[str, int]
) -> dict[str, tuple[int, ...]]:
    """Concrete shapes for inputs declared as (name, shape): a symbolic first dimension is ``batch_size`` (that
    name is the batch wherever it appears), other symbolic dimensions come from ``dims`` by name.

    ValueError, in one line, listing every dimension that has no size (and how to give it), or a fixed first
    dimension that ``batch_size`` contradicts.
    """
    sizes = dict(dims)
    for _, shape in declared:
        if shape and isinstance(shape[0], str) and shape[0]:
            sizes[shape[0]] = batch_size
    shapes: dict[str, tuple[int, ...]] = {}
    unsized: dict[str, list[str]] = {}
    unnamed: list[str] = []
    for name, shape in declared:
        resolved = []
        for axis, dim in enumerate(shape):
            if isinstance(dim, int) and dim >= 0:
                resolved.append(dim)
            elif axis == 0:
                resolved.append(batch_size)
            elif isinstance(dim, str) and dim:
                if dim not in sizes:
                    unsized.setdefault(dim, []).append(name)
                resolved.append(sizes.get(dim, 0))
            else:
                unnamed.append(f"{name} axis {axis}")
        if shape and isinstance(shape[0], int) and shape[0] >= 0 and shape[0] != batch_size:
            raise ValueError(
                f"input {name} has a fixed first dimension of {shape[0]} (shape {list(shape)}), so batch_size="
                f"{batch_size} cannot be measured; allowed: batch_size={shape[0]} (or export with a dynamic batch axis)"
            )
        shapes[name] = tuple(resolved)
    if unnamed:
        raise ValueError(
            f"the model's inputs have dynamic dimensions without a name or a size ({', '.join(unnamed)}): export the "
            "model with fixed sizes there, or with named dynamic axes that model.dims can size"
        )
    if unsized:
        listed = ", ".join(f"{dim} (in {', '.join(names)})" for dim, names in sorted(unsized.items()))
        example = ",".join(f"{dim}:<size>" for dim in sorted(unsized))
        raise ValueError(
            f"the model's inputs have symbolic dimensions without a size: {listed}; give them with "
            f"model.dims={{{example}}}"
        )
    return shapes


def declared_inputs(
    declared: Sequence[tuple[str, str, Sequence[Dim]]], model: dict, batch_size: int, seed: int
) -> dict[str, np.ndarray]:
    """Seeded values for inputs declared as (name, numpy dtype name, shape), sized by ``resolve_shapes``.

    Each input draws from its own generator, seeded by ``seed`` and its name: the same name, dtype and shape
    get the same values whatever the order of the inputs (a PyTorch model and its ONNX export agree).
    """
    shapes = resolve_shapes([(n, shape) for n, _, shape in declared], batch_size, model.get("dims") or {})
    arrays = {}
    for name, dtype_name, _ in declared:
        shape, dtype = shapes[name], np.dtype(dtype_name)
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        if dtype.kind == "f":
            arrays[name] = rng.random(shape, dtype=np.float64).astype(dtype)
        elif dtype.kind == "b":
            arrays[name] = rng.integers(0, 2, shape).astype(bool)
        elif dtype.kind in "iu":
            high = 2 if any(word in name.lower() for word in ("mask", "type")) else int(model["vocab_size"])
            high = min(high, int(np.iinfo(dtype).max) + 1)
            arrays[name] = rng.integers(0, high, shape, dtype=np.int64).astype(dtype)
        else:
            raise ValueError(
                f"input {name} has dtype {dtype_name}, which cannot be filled; allowed: floats, ints, bool"
            )
    return arrays
