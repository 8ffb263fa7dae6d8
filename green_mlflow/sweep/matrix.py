"""The study's matrix as one sweep: ``runtime.source`` varies ONNX's source framework only.

``-m runtime=torch,tf,mxnet,onnx runtime.source=torch,tf,mxnet`` would otherwise be the full product: torch
three times (once per source, the same job) and two of those pruned for a source a native runtime does not
have. Here a native runtime's job drops its ``runtime.source`` override and is kept once; ONNX keeps one job
per source. A single run (no ``-m``) that gives a native runtime a source is still refused by the plan.
"""

from __future__ import annotations

from collections.abc import Callable

SOURCE_KEY = "runtime.source"


def _is_source(override: str) -> bool:
    return override.split("=", 1)[0].lstrip("+~") == SOURCE_KEY


def without_native_sources(combinations: list[list[str]], runtime_of: Callable[[list[str]], str]) -> list[list[str]]:
    """The combinations with ``runtime.source`` dropped where the runtime is not ``onnx``, each kept once, in
    their first order. ``runtime_of`` names the runtime a combination composes to (it may come from defaults)."""
    kept: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    for combination in combinations:
        if any(map(_is_source, combination)) and runtime_of(combination) != "onnx":
            combination = [override for override in combination if not _is_source(override)]
        if tuple(combination) not in seen:
            seen.add(tuple(combination))
            kept.append(combination)
    return kept
