"""Each runtime's deployment modes, its default first. Dependency-free: the orchestrator's plan and
the benchmarks (which run inside runtime environments) read the same table."""

MODES = {
    "torch": ("eager", "compile", "cuda_graph"),  # cuda_graph: provider=cuda only
    "tf": ("function", "eager", "xla"),
    "mxnet": ("hybrid", "imperative"),
    "onnx": ("ort_all", "ort_extended", "ort_basic", "ort_disabled"),
}
DEFAULT_MODE = {runtime: modes[0] for runtime, modes in MODES.items()}
