"""The cuda_graph mode's logic, against a double of ``torch.cuda`` (a CPU host cannot capture a graph).

On a GPU host the real path runs in benchmarks/gpu_validation.py; here we check the recipe: warm up
on a side stream, fence the streams both ways, capture exactly one forward, and then replay only.
"""

from __future__ import annotations

from contextlib import contextmanager

from green_mlflow.runtimes.cuda_graph import WARMUP_ITERATIONS, GraphReplay


class FakeCuda:
    def __init__(self):
        self.log: list[tuple] = []
        self.main = self.Stream("main")
        self.current = self.main
        self.capturing = None

    def Stream(self, name="side"):  # noqa: N802 — spelled like torch.cuda
        cuda = self

        class _Stream:
            def __init__(self):
                self.name = name

            def wait_stream(self, other):
                cuda.log.append(("wait", self.name, other.name))

        return _Stream()

    def current_stream(self):
        return self.current

    @contextmanager
    def stream(self, s):
        previous, self.current = self.current, s
        self.log.append(("enter", s.name))
        yield
        self.current = previous

    def CUDAGraph(self):  # noqa: N802
        cuda = self

        class _Graph:
            replays = 0

            def replay(self):
                cuda.log.append(("replay",))
                self.replays += 1

        return _Graph()

    @contextmanager
    def graph(self, g):
        self.capturing = g
        self.log.append(("capture-begin",))
        yield
        self.log.append(("capture-end",))
        self.capturing = None


def test_warm_up_on_a_side_stream_then_one_capture_then_replay_only():
    cuda = FakeCuda()
    calls = []

    def forward():
        where = "capture" if cuda.capturing else cuda.current_stream().name
        calls.append(where)
        return {"logits": f"static buffer written during {where}"}

    graph = GraphReplay(forward, cuda)
    assert calls == ["side"] * WARMUP_ITERATIONS + ["capture"], "warm-up off the main stream, one captured call"
    assert cuda.log[0] == ("wait", "side", "main"), "side stream waits for queued main-stream work"
    assert ("wait", "main", "side") in cuda.log
    assert cuda.log.index(("wait", "main", "side")) < cuda.log.index(("capture-begin",)), "fenced before capture"
    assert graph.output == {"logits": "static buffer written during capture"}, "outputs are the captured buffers"

    for _ in range(5):
        graph.replay()
    assert calls.count("capture") == 1 and len(calls) == WARMUP_ITERATIONS + 1, "replay never re-runs Python"
    assert graph.graph.replays == 5


def test_warm_up_iterations_are_configurable():
    cuda = FakeCuda()
    calls = []
    GraphReplay(lambda: calls.append(cuda.current_stream().name), cuda, warmup_iterations=11)
    assert calls.count("side") == 11
