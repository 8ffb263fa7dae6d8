"""``model=hf``: what a local Hugging Face checkpoint folder holds, read without transformers (standard library only).

The orchestrator has no transformers, yet it refuses a folder that is not a checkpoint before anything runs, hashes
the checkpoint into the configuration, and gives every runtime the same inputs: it reads ``config.json`` (the file
``save_pretrained`` writes and ``AutoConfig`` reads). A text model (``vocab_size``) gets ``input_ids`` in
[0, vocab_size), ``attention_mask`` of ones and, where the config has ``type_vocab_size``, ``token_type_ids`` of
zeros, of length ``model.seq_len``; a vision model (``image_size`` or ``num_channels``) gets ``pixel_values`` at its
image size (``model.image_size`` where the config has none). The model itself is loaded in the torch environment
(``torch_models._hf``).
"""

from __future__ import annotations

import json
from pathlib import Path

# the files whose content defines the model: the config and the weights (tokenizer files do not change a measurement)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


def model_files(folder: Path) -> list[Path]:
    """``config.json`` and the weight files (and their shard indexes) of the checkpoint, sorted by name."""
    weights = [p for p in folder.iterdir() if p.is_file() and (p.suffix in WEIGHT_SUFFIXES or p.name in WEIGHT_INDEXES)]
    return [folder / "config.json", *sorted(weights)]


def read_checkpoint(folder: Path) -> dict:
    """The checkpoint's ``config.json``; ValueError in one line when ``folder`` is not a checkpoint folder."""
    given = f"model.path={folder}"
    if not folder.exists():
        raise ValueError(f"{given} does not exist; allowed: a folder written by save_pretrained (with config.json)")
    if not folder.is_dir():
        raise ValueError(f"{given} is not a folder; allowed: a folder written by save_pretrained (with config.json)")
    if not (folder / "config.json").is_file():
        raise ValueError(
            f"{given} has no config.json, so it is not a Hugging Face checkpoint; allowed: a folder written by "
            "save_pretrained"
        )
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{given}: config.json cannot be read as JSON: {err}") from err
    if not isinstance(config, dict):
        raise ValueError(f"{given}: config.json holds {type(config).__name__}, not a model configuration")
    if len(model_files(folder)) == 1:
        raise ValueError(
            f"{given} has config.json but no weights ({', '.join(f'*{s}' for s in WEIGHT_SUFFIXES)}); allowed: a "
            "folder written by save_pretrained"
        )
    return config


def checkpoint_inputs(folder: Path, config: dict, seq_len: int, image_size: int | None) -> dict:
    """What the job's model needs to make the checkpoint's inputs (``models.inputs.make_inputs``, kind hf)."""
    if isinstance(config.get("vocab_size"), int):
        limit = config.get("max_position_embeddings")
        if isinstance(limit, int) and seq_len > limit:
            raise ValueError(
                f"model.seq_len={seq_len} is longer than the checkpoint takes (max_position_embeddings={limit}); "
                f"allowed: 1 to {limit}"
            )
        return {
            "modality": "text",
            "vocab_size": config["vocab_size"],
            "type_vocab_size": config.get("type_vocab_size"),
        }
    if isinstance(config.get("image_size"), int) or isinstance(config.get("num_channels"), int):
        size = config["image_size"] if isinstance(config.get("image_size"), int) else image_size
        return {"modality": "image", "image_size": size, "num_channels": config.get("num_channels", 3)}
    raise ValueError(
        f"model.path={folder}: its config.json has neither vocab_size (a text model) nor image_size or num_channels (a "
        "vision model); allowed: a text or vision checkpoint"
    )
