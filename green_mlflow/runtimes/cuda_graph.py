"""Capture one inference as a CUDA graph and replay it (torch ``mode=cuda_graph``).

At batch 1 a GPU is launch-bound: the CPU spends longer queuing hundreds of small kernels than the
GPU spends running them. Replaying a captured graph launches them all at once, which measures how
much of a runtime's batch-1 cost is launch overhead (docs/design.md decision 8). Shapes and input buffers
are static: the graph reads the tensors it was captured with and writes the same output tensors.

Follows PyTorch's documented recipe (torch.cuda.graphs): warm up on a side stream so that lazy
initialisation and cuDNN autotuning stay out of the graph, then capture once. ``api`` is
``torch.cuda`` (tests pass a double: a CPU host cannot capture).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

WARMUP_ITERATIONS = 3  # PyTorch's examples use 3 side-stream iterations before capture


class GraphReplay:
    """``forward()`` captured once; ``replay()`` reruns it on the same static buffers."""

    def __init__(self, forward: Callable[[], Any], api: Any, warmup_iterations: int = WARMUP_ITERATIONS):
        side = api.Stream()
        side.wait_stream(api.current_stream())
        with api.stream(side):
            for _ in range(warmup_iterations):
                forward()
        api.current_stream().wait_stream(side)
        self.graph = api.CUDAGraph()
        with api.graph(self.graph):
            self.output = forward()  # the static output buffers every replay overwrites
        self.warmup_iterations = warmup_iterations

    def replay(self) -> None:
        self.graph.replay()
