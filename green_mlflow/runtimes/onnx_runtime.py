"""ONNX Runtime with an execution provider, checked to be the provider really in use.

ONNX Runtime falls back to the CPU provider silently when a requested provider cannot load
(missing CUDA libraries, a CPU-only wheel); a measurement labelled "cuda" that ran on the CPU
would be a false result, so the session refuses to start instead.
"""

from __future__ import annotations

import base64
import os

import numpy as np
import onnxruntime as ort

from green_mlflow.contract import JobSpec
from green_mlflow.models.inputs import ORT_DTYPES, declared_inputs, make_inputs

PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
MODES = {
    "ort_all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    "ort_extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "ort_basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "ort_disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
}


def load_gpu_libraries(provider: str) -> list[str]:
    """Make the CUDA, cuDNN (and TensorRT) libraries that pip installed into this environment loadable.

    The GPU environments get them as pip packages (``envs/specs/onnx-gpu.txt``), under site-packages, where the
    dynamic loader does not look: ``onnxruntime.preload_dlls()`` loads CUDA and cuDNN from there (a library it
    cannot find is printed, not raised), then the ``tensorrt_libs`` package loads TensorRT's. Returns what
    could not be loaded; the provider check that follows says whether the session really runs where asked.
    """
    problems = []
    if provider == "cpu":
        return problems
    if hasattr(ort, "preload_dlls"):
        try:
            ort.preload_dlls(cuda=True, cudnn=True, msvc=False)
        except Exception as err:  # a system CUDA may still serve: the provider check decides
            problems.append(f"onnxruntime.preload_dlls: {err}")
    if provider == "tensorrt":
        try:
            import tensorrt_libs  # noqa: F401 — its import loads libnvinfer and libnvonnxparser
        except ImportError as err:
            problems.append(f"TensorRT libraries (tensorrt-cu13-libs, environment onnx-tensorrt): {err}")
    return problems


class ProviderNotInUse(RuntimeError):
    """The requested execution provider is not the one ONNX Runtime actually uses."""


def provider_chain(provider: str, device_id: int, cache_dir: str | None) -> list:
    """Providers to pass to ONNX Runtime, most preferred first."""
    if provider not in PROVIDERS:
        raise ValueError(f"runtime=onnx supports provider {', '.join(PROVIDERS)}, not {provider!r}")
    if provider == "cpu":
        return ["CPUExecutionProvider"]
    cuda = ("CUDAExecutionProvider", {"device_id": device_id})
    if provider == "cuda":
        return [cuda, "CPUExecutionProvider"]
    trt_options = {"device_id": device_id}
    if cache_dir:
        # engine builds take minutes; the cache keeps them out of later runs as well as out of the window
        os.makedirs(cache_dir, exist_ok=True)
        trt_options.update(trt_engine_cache_enable=True, trt_engine_cache_path=cache_dir)
    return [("TensorrtExecutionProvider", trt_options), cuda, "CPUExecutionProvider"]


def verify_provider(requested: str, available: list[str], in_use: list[str]) -> None:
    """Raise ProviderNotInUse unless ``requested`` is ONNX Runtime's first provider in use."""
    wanted = PROVIDERS[requested]
    if wanted not in available:
        raise ProviderNotInUse(
            f"provider={requested} needs {wanted}, but this onnxruntime build offers only "
            f"{', '.join(available)}; on a GPU host it runs in the environment "
            f"'{'onnx-tensorrt' if requested == 'tensorrt' else 'onnx-gpu'}' (python -m green_mlflow.envs doctor)"
        )
    if not in_use or in_use[0] != wanted:
        raise ProviderNotInUse(
            f"provider={requested} asked for {wanted}, but ONNX Runtime is using {', '.join(in_use)} "
            "(it fell back, usually because CUDA/cuDNN/TensorRT libraries could not be loaded)"
        )


# models whose inputs the graph declares (the user's own): filled by name, dtype and shape (models.inputs)
GRAPH_INPUT_KINDS = ("onnx_file", "python")


def graph_inputs(session: ort.InferenceSession) -> list[tuple[str, str, list]]:
    """The graph's inputs as (name, numpy dtype, shape with symbolic names); ValueError for a type that cannot be fed."""
    declared = []
    for item in session.get_inputs():
        if item.type not in ORT_DTYPES:
            raise ValueError(
                f"input {item.name} has type {item.type}, which green_mlflow cannot fill; allowed: "
                f"{', '.join(ORT_DTYPES)}"
            )
        declared.append((item.name, ORT_DTYPES[item.type], list(item.shape)))
    return declared


class OnnxSession:
    def __init__(self, spec: JobSpec):
        if not spec.onnx_path:
            raise ValueError("runtime=onnx needs the converted model: the spec has no onnx_path")
        self.batch_size = spec.batch_size
        self.queues_work = False  # InferenceSession.run returns with the outputs on the host
        self.requested = spec.provider
        options = ort.SessionOptions()
        options.graph_optimization_level = MODES[spec.mode]
        self.library_problems = load_gpu_libraries(self.requested)
        providers = provider_chain(self.requested, spec.device_id, spec.trt_cache_dir)
        self.session = ort.InferenceSession(spec.onnx_path, sess_options=options, providers=providers)
        verify_provider(self.requested, ort.get_available_providers(), self.session.get_providers())
        if spec.model["kind"] in GRAPH_INPUT_KINDS:
            arrays = declared_inputs(graph_inputs(self.session), spec.model, self.batch_size, spec.seed)
        else:
            arrays = make_inputs(spec.model, self.batch_size, spec.seed)
        wanted = {i.name for i in self.session.get_inputs()}
        self.feeds = {k: v for k, v in arrays.items() if k in wanted}
        missing = wanted - set(self.feeds)
        if missing:
            raise ValueError(f"the ONNX model expects inputs {sorted(missing)} that the model config does not make")
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.input_shapes = ", ".join(f"{k} {v.dtype}{list(v.shape)}" for k, v in self.feeds.items())

    def run(self) -> None:
        self.session.run(None, self.feeds)

    def sync(self) -> None:
        """``InferenceSession.run`` returns only once outputs are on the host: nothing is queued."""

    def outputs(self) -> dict[str, np.ndarray]:
        return dict(zip(self.output_names, self.session.run(None, self.feeds)))

    def info(self) -> dict:
        return {
            "framework": "onnxruntime",
            "framework_version": ort.__version__,
            "provider_in_use": self.session.get_providers()[0],
            "providers_available": ",".join(ort.get_available_providers()),
            "graph_optimization_level": str(self.session.get_session_options().graph_optimization_level),
            "inputs": self.input_shapes,
            **({"gpu_library_problems": "; ".join(self.library_problems)} if self.library_problems else {}),
        }


def load(spec: JobSpec) -> OnnxSession:
    return OnnxSession(spec)


# A one-node model (Relu on a float[1]), serialised: the doctor checks that a provider really runs a session
# in an environment that has onnxruntime but not the onnx package
PROBE_MODEL = base64.b64decode(
    "CAg6NwoMCgF4EgF5IgRSZWx1EgVwcm9iZVoPCgF4EgoKCAgBEgQKAggBYg8KAXkSCgoICAESBAoCCAFCBAoAEA0="
)


def devices() -> dict:
    """What this environment's ONNX Runtime can run on (for ``python -m green_mlflow.envs doctor``): per GPU
    provider, whether a session really runs on it (ONNX Runtime lists providers it then cannot load)."""
    available = ort.get_available_providers()
    problems: dict[str, list[str]] = {}
    for provider in ("cuda", "tensorrt"):
        if PROVIDERS[provider] not in available:
            continue
        problems[provider] = load_gpu_libraries(provider)
        try:
            session = ort.InferenceSession(PROBE_MODEL, providers=provider_chain(provider, 0, None))
            verify_provider(provider, available, session.get_providers())
        except Exception as err:
            problems[provider].append(f"a session does not run on {PROVIDERS[provider]}: {err}"[:600])
    return {"framework_version": ort.__version__, "providers_available": available, "library_problems": problems}
