"""A user's own trained weights (``model.weights``), read the same way in every framework (standard library only).

The plan hashes the file; the worker reads it again and refuses it when it changed in between, so a run's
configuration hash always names the weights it measured. Every failure is one ``WeightsError`` line.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


class WeightsError(ValueError):
    """``model.weights`` cannot be read, changed since it was planned, or does not fit the model; one line."""


def one_line(err: BaseException, limit: int = 300) -> str:
    """An exception as one short line (load_state_dict, Keras and unpickling errors span many)."""
    text = " ".join(f"{type(err).__name__}: {err}".split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def listed(keys: list[str], limit: int = 3) -> str:
    return ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def does_not_fit(path: Path, what: str, detail: str) -> WeightsError:
    """The one refusal of a weights file the framework could read but not load into ``what``."""
    return WeightsError(f"model.weights={path} does not fit {what}: {detail}")


def planned_weights(model: dict) -> Path:
    """The weights file of ``model``, checked to be the one the sweep planned (its sha256)."""
    path = Path(model["weights"])
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as err:
        raise WeightsError(f"model.weights={path} cannot be read: {one_line(err)}") from err
    if model.get("weights_sha256") not in (None, digest):
        raise WeightsError(
            f"model.weights={path} changed after the sweep was planned (its sha256 differs): measure it again"
        )
    return path
