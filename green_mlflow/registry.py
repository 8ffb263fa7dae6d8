"""The runtime registry: everything the product knows about a runtime, in one table.

Standard library only: the orchestrator (plan, environments, conversion, resume) and the worker's
sessions read the same entries, so the providers, modes and defaults they check can never disagree.
Adding a runtime is one entry here, one session module, one environment spec and one config file
(docs/design.md, "Adding a runtime"; ``tests/test_registry.py`` keeps them consistent).
"""

from __future__ import annotations

from dataclasses import dataclass, field

PROVIDERS = ("cpu", "cuda", "tensorrt")  # the provider config group's options, in the order users see them
GPU_PROVIDERS = ("cuda", "tensorrt")  # the providers that run on (and measure) a GPU


@dataclass(frozen=True)
class Runtime:
    """One runtime infrastructure.

    ``modes`` lists its deployment modes, the default first; ``mode_providers`` restricts a mode to
    some providers (a CUDA graph needs CUDA). ``envs`` names, per provider, the managed environment
    (``green_mlflow/envs/specs/<name>.txt``) its worker runs in; ``converter`` is the module that
    exports a model of this framework to ONNX (None: it cannot be an ONNX source); ``distributions``
    are the installed packages whose versions identify the software (they key the ONNX cache).
    """

    name: str
    label: str  # how the user reads it: "PyTorch"
    session: str  # module with ``load(spec) -> Session``, run inside the runtime's environment
    envs: dict[str, str]  # provider → environment; its keys are the providers the runtime offers
    modes: tuple[str, ...]
    distributions: tuple[str, ...]
    converter: str | None = None
    mode_providers: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(self.envs)

    @property
    def default_mode(self) -> str:
        return self.modes[0]

    def check(self, provider: str, mode: str) -> None:
        """Raise ValueError, saying what is allowed, unless this runtime offers ``provider`` in ``mode``."""
        if provider not in self.providers:
            raise ValueError(
                f"provider={provider} is not available with runtime={self.name}; allowed: {', '.join(self.providers)}"
            )
        if mode not in self.modes:
            raise ValueError(f"mode={mode} is not available with runtime={self.name}; allowed: {', '.join(self.modes)}")
        allowed = self.mode_providers.get(mode)
        if allowed and provider not in allowed:
            raise ValueError(
                f"provider={provider} is not available with runtime={self.name} mode={mode}; allowed: {', '.join(allowed)}"
            )


RUNTIMES: dict[str, Runtime] = {
    runtime.name: runtime
    for runtime in (
        Runtime(
            name="torch",
            label="PyTorch",
            session="green_mlflow.runtimes.torch_runtime",
            envs={"cpu": "torch", "cuda": "torch"},  # torch's wheel already carries CUDA
            modes=("eager", "compile", "cuda_graph"),
            mode_providers={"cuda_graph": ("cuda",)},
            converter="green_mlflow.convert.torch_to_onnx",
            distributions=("torch", "torchvision", "transformers"),  # torchvision and transformers build the models
        ),
        Runtime(
            name="tf",
            label="TensorFlow",
            session="green_mlflow.runtimes.tf_runtime",
            envs={"cpu": "tf", "cuda": "tf-gpu"},
            modes=("function", "eager", "xla"),
            converter="green_mlflow.convert.tf_to_onnx",
            distributions=("tensorflow-cpu", "tensorflow", "tf2onnx"),
        ),
        Runtime(
            name="mxnet",
            label="MXNet",
            session="green_mlflow.runtimes.mxnet_runtime",
            envs={"cpu": "mxnet", "cuda": "mxnet-gpu"},
            modes=("hybrid", "imperative"),
            converter="green_mlflow.convert.mxnet_to_onnx",
            distributions=("mxnet", "mxnet-cu112", "onnx"),
        ),
        Runtime(
            name="onnx",
            label="ONNX Runtime",
            session="green_mlflow.runtimes.onnx_runtime",
            # TensorRT's libraries come from NVIDIA's own index: an environment of their own
            envs={"cpu": "onnx", "cuda": "onnx-gpu", "tensorrt": "onnx-tensorrt"},
            modes=("ort_all", "ort_extended", "ort_basic", "ort_disabled"),
            distributions=("onnxruntime", "onnxruntime-gpu"),
        ),
    )
}
ONNX_SOURCES = tuple(name for name, runtime in RUNTIMES.items() if runtime.converter)


def runtime(name: str) -> Runtime:
    """The registry entry of ``name``; ValueError listing the runtimes otherwise."""
    try:
        return RUNTIMES[name]
    except KeyError:
        raise ValueError(f"runtime={name} is not available; allowed: {', '.join(RUNTIMES)}") from None


def environments(gpu: bool = True) -> tuple[str, ...]:
    """Every managed environment some runtime uses, CPU ones first; only the CPU ones with ``gpu=False``."""
    names = [r.envs["cpu"] for r in RUNTIMES.values()]
    if gpu:
        names += [env for r in RUNTIMES.values() for provider, env in r.envs.items() if provider != "cpu"]
    return tuple(dict.fromkeys(names))
