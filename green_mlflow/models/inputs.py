"""Seeded synthetic inputs, shared by every runtime so that all see identical data.

Images are NCHW float32 in [0, 1) (the layout PyTorch and ONNX exported from PyTorch use);
text inputs follow BERT's three int64 tensors.
"""

from __future__ import annotations

import numpy as np

IMAGE_INPUT = "input"
TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# every framework's model returns these, in this order
OUTPUT_NAMES = {"image": ["logits"], "text": ["last_hidden_state", "pooler_output"]}


def make_inputs(model: dict, batch_size: int, seed: int) -> dict[str, np.ndarray]:
    """Return the named input arrays for ``model`` (a model config dict) at ``batch_size``."""
    rng = np.random.default_rng(seed)
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
    raise ValueError(f"unknown model kind {model['kind']!r}; allowed: image, text")
