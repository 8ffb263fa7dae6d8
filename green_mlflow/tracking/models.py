"""Converted ONNX models as MLflow models: logged once per conversion and experiment, linked from every job.

Each ONNX model a job runs is an MLflow ``onnx`` model (``mlflow.onnx.log_model``) with a signature read from
its graph and an input example, so it can be loaded with ``mlflow.pyfunc.load_model``, registered and served.
It is logged once per conversion (the ONNX cache key, or the content hash of a user's file) and experiment:
the first job that uses it logs it, with its run as the source; every job that runs it, that one included,
lists it among its outputs (the run page's "Logged models") and carries its id in ``green.onnx.model_id``.
Repetitions therefore upload the bytes once. ``register=true`` registers it in the Model Registry.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import mlflow
import numpy as np

from green_mlflow.tracking.store import Store

CACHE_KEY_TAG = "green.onnx.cache_key"  # on the logged model: the conversion it holds
MODEL_ID_TAG = "green.onnx.model_id"  # on a job run: the logged model it ran
MODEL_NAME = "onnx_model"
REGISTERED_PREFIX = "green-mlflow"
# What the logged model declares to whoever loads it (mlflow.pyfunc, `mlflow models serve`): the GPU where
# there is one, else the CPU; MLflow's own default, spelled out. Not the logging job's providers: the model is
# logged once per conversion and experiment and shared by the jobs of every provider, so what it declares
# must not depend on which job happened to log it first.
SERVING_PROVIDERS = ["CUDAExecutionProvider", "CPUExecutionProvider"]
_lock = threading.Lock()


def registered_name(model: str, source: str | None) -> str:
    """The Model Registry name of a measured ONNX model: ``green-mlflow-<model>-from-<source>``, or
    ``green-mlflow-<file name>-onnx-file`` for a user's file; ``model`` may be a path or ``pkg.mod:function``."""
    label = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(model).name if "/" in model else model).strip("-.") or "model"
    return f"{REGISTERED_PREFIX}-{label}-" + (f"from-{source}" if source else "onnx-file")


def signature_and_example(onnx_path: Path, seed: int = 0):
    """The model's signature from its graph (symbolic dimensions as -1) and a one-sample input example
    (seeded floats in [0, 1); zeros for integer inputs, valid as token ids, masks and type ids)."""
    import onnx
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    initialisers = {i.name for i in graph.initializer}
    rng = np.random.default_rng(seed)

    def specs(values, example: dict | None):
        out = []
        for value in values:
            if value.name in initialisers:
                continue
            tensor = value.type.tensor_type
            dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type))
            dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
            out.append(TensorSpec(dtype, tuple(dims), value.name))
            if example is not None:
                shape = [d if d > 0 else 1 for d in dims]
                if dims and dims[0] > 1:
                    shape[0] = dims[0]  # a model exported at a fixed batch takes only that batch
                is_float = np.issubdtype(dtype, np.floating)
                example[value.name] = rng.random(shape).astype(dtype) if is_float else np.zeros(shape, dtype=dtype)
        return out

    example: dict[str, np.ndarray] = {}
    inputs = specs(graph.input, example)
    outputs = specs(graph.output, None)
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs)), example


@contextmanager
def _tracking_uri(uri: str):
    """MLflow's model logging reads the process-wide tracking URI; ours is per store."""
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)


class _ProviderNotes(logging.Filter):
    """Takes MLflow's "declares execution providers … unavailable" lines off the terminal, to ``note``.

    MLflow loads the model once while logging it (to check the input example) with the orchestrator's own
    onnxruntime, CPU-only in ``.venv``, and says that CUDA is missing there. That onnxruntime measures
    nothing (the worker runs the job's, in ``.envs/``), so the line is noise in every CPU sweep's terminal.
    """

    def __init__(self, note: Callable[[str], None] | None):
        super().__init__()
        self.note = note

    def filter(self, record: logging.LogRecord) -> bool:
        if "execution providers" not in str(record.msg):
            return True
        if self.note is not None:
            self.note(f"MLflow, checking the logged model with this process's onnxruntime: {record.getMessage()}")
        return False


@contextmanager
def _provider_notes(note: Callable[[str], None] | None):
    logger, diverted = logging.getLogger("mlflow.onnx"), _ProviderNotes(note)
    logger.addFilter(diverted)
    try:
        yield
    finally:
        logger.removeFilter(diverted)


def find_logged(store: Store, key: str):
    """The experiment's logged model of this conversion, if one was logged (and finished uploading)."""
    found = store.client.search_logged_models(
        experiment_ids=[store.experiment_id], filter_string=f"tags.`{CACHE_KEY_TAG}` = '{key}'", max_results=10
    )
    ready = [m for m in found if str(m.status).upper().endswith("READY")]
    return (ready or [None])[0]


def log_once(
    store: Store,
    run_id: str,
    onnx_path: Path,
    key: str,
    tags: dict[str, str],
    note: Callable[[str], None] | None = None,
) -> tuple[str, bool]:
    """Log the model unless this experiment has it already; link it to the job's run either way.

    MLflow's remarks on execution providers missing in this process go to ``note`` (a job's log), never to
    the terminal. Returns ``(model id, logged now)``.
    """
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus

    with _lock:
        existing = find_logged(store, key)
        if existing is not None:
            model_id, logged = existing.model_id, False
        else:
            import onnx

            signature, example = signature_and_example(onnx_path)
            model = store.client.create_logged_model(
                store.experiment_id, name=MODEL_NAME, source_run_id=run_id, tags={CACHE_KEY_TAG: key, **tags}
            )
            with _tracking_uri(store.uri), _provider_notes(note):
                mlflow.onnx.log_model(
                    onnx.load(str(onnx_path)),
                    name=MODEL_NAME,
                    model_id=model.model_id,
                    signature=signature,
                    input_example=example,
                    save_as_external_data=False,
                    onnx_execution_providers=SERVING_PROVIDERS,
                )
            store.client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
            model_id, logged = model.model_id, True
    store.client.log_outputs(run_id, [LoggedModelOutput(model_id, step=0)])
    store.client.set_tag(run_id, MODEL_ID_TAG, model_id)
    return model_id, logged


def register(store: Store, run_id: str, model_id: str, name: str, tags: dict[str, str]) -> tuple[str, bool]:
    """The logged model as a version of ``name`` in the Model Registry, once: the first job that registers it
    tags the version with what it measured. Returns ``(version, registered now)``."""

    with _lock:
        for version in store.client.search_model_versions(f"name = '{name}'"):
            if getattr(version, "model_id", None) == model_id or version.source == f"models:/{model_id}":
                return version.version, False
        return _new_version(store, run_id, model_id, name, tags), True


def _new_version(store: Store, run_id: str, model_id: str, name: str, tags: dict[str, str]) -> str:
    from mlflow.exceptions import MlflowException

    try:
        store.client.create_registered_model(name, description="ONNX models measured by green_mlflow")
    except MlflowException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    version = store.client.create_model_version(
        name, source=f"models:/{model_id}", run_id=run_id, tags=tags, model_id=model_id
    )
    return version.version
