"""Runtime infrastructures: one module per runtime, each exposing ``load(spec) -> Session``.

Modules are imported lazily so that a runtime's environment never imports another framework.
"""

from __future__ import annotations

import importlib

from green_mlflow.runtimes.base import Session

MODULES = {
    "torch": "green_mlflow.runtimes.torch_runtime",
    "tf": "green_mlflow.runtimes.tf_runtime",
    "mxnet": "green_mlflow.runtimes.mxnet_runtime",
    "onnx": "green_mlflow.runtimes.onnx_runtime",
}


def load_session(spec: dict) -> Session:
    """Build the model for ``spec`` in its runtime and return a ready-to-run session."""
    runtime = spec["runtime"]
    if runtime not in MODULES:
        raise ValueError(f"unknown runtime {runtime!r}; allowed: {', '.join(sorted(MODULES))}")
    return importlib.import_module(MODULES[runtime]).load(spec)
