"""Bare loops: each runtime's own way to run the model, with nothing of the tool around it.

Every bare loop builds the same model, from the same seed, with the same inputs as the tool's session
(``green_mlflow.models``), in the same mode, and times each call with ``time.perf_counter_ns`` under
the protocol's stopping rule (≥ N iterations and ≥ S seconds). Per runtime, one timed step is:

- torch: ``model(x)``, with ``torch.inference_mode`` entered once around all the loops;
- tf: ``fn(x)``, where ``fn`` is ``tf.function`` of the model's forward call (mode ``function``;
  ``xla`` adds ``jit_compile=True``, ``eager`` calls the model directly);
- mxnet: ``net(x)`` then ``mx.nd.waitall()`` (the tool syncs every iteration too), the net
  hybridized with ``static_alloc`` and ``static_shape`` (mode ``hybrid``; ``imperative``: not);
- onnx: ``InferenceSession.run(None, feeds)`` on the CPU provider at the mode's optimisation level.

What the tool adds around a step (a method call for ``run`` and one for ``sync``, ``tf.device`` and
``torch.inference_mode`` entered per call, the sampler process, the meters at window edges) is what
the comparison measures.
"""

from __future__ import annotations

import contextlib
import resource
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from green_mlflow.models.inputs import OUTPUT_NAMES, make_inputs


def minor_faults() -> int:
    """Minor page faults of this process so far (all its threads; not the sampler, a child process)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def stopping_loop(step: Callable[[], object], min_iterations: int, min_s: float) -> list[int]:
    """The protocol's stopping rule (≥ iterations and ≥ seconds), nothing else; returns latencies (ns)."""
    clock = time.perf_counter_ns
    min_ns = int(min_s * 1e9)
    latencies: list[int] = []
    append = latencies.append
    began = clock()
    while len(latencies) < min_iterations or clock() - began < min_ns:
        t0 = clock()
        step()
        append(clock() - t0)
    return latencies


class Bare(ABC):
    """One runtime's bare loop. Subclasses build the model and return its timed step."""

    def __init__(self, model_cfg: dict, batch_size: int, seed: int, mode: str, reuse: bool = False):
        self.cfg, self.batch_size, self.seed, self.mode, self.reuse = model_cfg, batch_size, seed, mode, reuse
        self.step: Callable[[], object] | None = None
        self._build()

    def _build(self) -> None:
        # free the previous model first, as the tool's previous session is gone before it loads the next:
        # the heap the new model and its activations land in must have the same history in both arms
        self.step = None
        began = time.monotonic()
        self.step = self.make_step()
        self.build_s = time.monotonic() - began
        self.fresh = True  # built and not yet run: the first round uses it

    @abstractmethod
    def make_step(self) -> Callable[[], object]:
        """Build the model and return one synchronised inference step (each runtime's subclass)."""

    def context(self) -> contextlib.AbstractContextManager:
        """Entered once around all the loops of a round."""
        return contextlib.nullcontext()

    def inputs(self) -> dict:
        return make_inputs(self.cfg, self.batch_size, self.seed)

    def measure(self, measure: dict) -> tuple[list[int], int]:
        """Latencies of the windows, and the minor page faults during the windows (as the protocol counts them)."""
        if not (self.reuse or self.fresh):
            self._build()  # outside the timed loops, as measure_job's load_session is
        self.fresh = False
        step = self.step
        out: list[int] = []
        faults = 0
        with self.context():
            stopping_loop(step, measure["warmup_min_iterations"], measure["warmup_min_s"])
            for _ in range(measure["windows"]):
                f0 = minor_faults()
                out += stopping_loop(step, measure["window_min_iterations"], measure["window_min_s"])
                faults += minor_faults() - f0
        return out, faults


class BareTorch(Bare):
    def make_step(self):
        import torch

        from green_mlflow.models.torch_models import build_model

        self.torch = torch
        model = build_model(self.cfg, self.seed)
        tensors = {k: torch.from_numpy(v) for k, v in self.inputs().items()}
        args = tuple(tensors.values()) if self.cfg["kind"] == "image" else ()
        kwargs = {} if args else tensors
        return lambda: model(*args, **kwargs)

    def context(self):
        return self.torch.inference_mode()


class BareTf(Bare):
    def make_step(self):
        import tensorflow as tf

        from green_mlflow.models.tf_models import build_model, to_tf_layout

        model = build_model(self.cfg, self.seed)
        xs = [tf.constant(a) for a in to_tf_layout(self.cfg, self.inputs())]

        def forward(*inputs):
            return model(*inputs, training=False) if len(inputs) > 1 else model(inputs[0], training=False)

        fn = forward if self.mode == "eager" else tf.function(forward, jit_compile=self.mode == "xla")
        return lambda: fn(*xs)


class BareMxnet(Bare):
    def make_step(self):
        from green_mlflow.models.mxnet_shim import import_mxnet

        mx = import_mxnet()
        from green_mlflow.models.mxnet_models import build_model

        net = build_model(self.cfg, self.seed)
        if self.mode == "hybrid":
            net.hybridize(static_alloc=True, static_shape=True)
        xs = [mx.nd.array(a, dtype=a.dtype) for a in self.inputs().values()]
        waitall = mx.nd.waitall
        net(*xs)  # Gluon's deferred initialisation (and the cached graph's build), as the tool's load does
        waitall()

        def step():
            net(*xs)
            waitall()

        return step


class BareOnnx(Bare):
    def __init__(self, onnx_path: str, *args, **kwargs):
        self.path = onnx_path
        super().__init__(*args, **kwargs)

    def make_step(self):
        import onnxruntime as ort

        levels = {
            "ort_all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
            "ort_extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "ort_basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "ort_disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        }
        options = ort.SessionOptions()
        options.graph_optimization_level = levels[self.mode]
        session = ort.InferenceSession(self.path, sess_options=options, providers=["CPUExecutionProvider"])
        wanted = {i.name for i in session.get_inputs()}
        feeds = {k: v for k, v in self.inputs().items() if k in wanted}
        run = session.run
        return lambda: run(None, feeds)


def make_bare(runtime: str, model_cfg: dict, batch_size: int, seed: int, mode: str, reuse: bool, onnx_path=None):
    if runtime == "onnx":
        return BareOnnx(str(onnx_path), model_cfg, batch_size, seed, mode, reuse)
    cls = {"torch": BareTorch, "tf": BareTf, "mxnet": BareMxnet}[runtime]
    return cls(model_cfg, batch_size, seed, mode, reuse)


def export_onnx(model_cfg: dict, batch_size: int, seed: int, path: Path, opset: int) -> float:
    """The torch model exported as the package's torch→ONNX converter does (needs torch and onnx); seconds."""
    from green_mlflow.convert.torch_to_onnx import export
    from green_mlflow.models.torch_models import build_model

    began = time.monotonic()
    module = build_model(model_cfg, seed)
    export(module, make_inputs(model_cfg, batch_size, seed), path, opset, OUTPUT_NAMES[model_cfg["kind"]])
    return time.monotonic() - began
