"""Runtime infrastructures: one module per runtime, each exposing ``load(spec) -> Session``.

Which module serves a runtime, and which providers and modes it offers, is the registry's
(``green_mlflow.registry``); ``load_session`` checks the spec against it once, so a session module
only builds and runs. Modules are imported lazily so that a runtime's environment never imports
another framework.
"""

from __future__ import annotations

import importlib

from green_mlflow.contract import JobSpec
from green_mlflow.registry import runtime
from green_mlflow.runtimes.base import Session


def load_session(spec: JobSpec) -> Session:
    """Build the model for ``spec`` in its runtime and return a ready-to-run session."""
    entry = runtime(spec.runtime)
    entry.check(spec.provider, spec.mode)
    return importlib.import_module(entry.session).load(spec)
