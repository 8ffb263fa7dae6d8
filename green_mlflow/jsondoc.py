"""Dataclasses from and to parsed JSON, field by field (standard library only): the machinery under
``green_mlflow.contract``'s documents. Unknown fields are refused by name; a missing required one too."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any


class ContractError(ValueError):
    """A spec or result does not match this version's contract; the message says what differs."""


def convert(hint: Any, value: Any, where: str) -> Any:
    """``value`` (parsed JSON) as the type ``hint`` describes: nested dataclasses, lists, dicts, optionals."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return convert(options[0], value, where) if len(options) == 1 else value
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ContractError(f"{where} must be an object, got {type(value).__name__}")
        return build(hint, value, where)
    if origin is list:
        (item,) = typing.get_args(hint)
        return [convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        _, item = typing.get_args(hint)
        return {k: convert(item, v, f"{where}.{k}") for k, v in value.items()}
    return value


def build(cls: type, data: dict, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ContractError(f"{where} has fields this version does not know: {', '.join(unknown)}")
    try:
        return cls(**{k: convert(hints[k], v, f"{where}.{k}") for k, v in data.items()})
    except TypeError as err:  # a required field is missing
        raise ContractError(f"{where}: {err}") from err


def plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value
