"""The scenario axis in the measurement loop: latency synchronises after every iteration and times each one;
throughput queues iterations back to back and synchronises at window edges only (docs/method.md rule 18)."""

from __future__ import annotations

import time

import pytest

from green_mlflow.contract import JobSpec
from green_mlflow.worker.__main__ import scenario_note
from green_mlflow.worker.protocol import QUEUE_DEPTH, precision_of, run_protocol
from tests.worker.test_protocol import FakeSession, measure


class QueueingSession(FakeSession):
    """Like a GPU stream: run() spends ``host_s`` launching, then queues ``run_s`` of device work and returns; the
    device works through its queue meanwhile; sync() waits until it is empty."""

    queues_work = True

    def __init__(self, run_s: float, host_s: float):
        super().__init__(run_s)
        self.host_s, self.device_free_at = host_s, 0.0

    def run(self) -> None:
        time.sleep(self.host_s)  # the caller's side of each call
        self.device_free_at = max(time.monotonic(), self.device_free_at) + self.run_s
        self.events.append("run")

    def sync(self) -> None:
        time.sleep(max(self.device_free_at - time.monotonic(), 0.0))
        self.events.append("sync")


def test_throughput_synchronises_at_window_edges_only_and_times_no_single_iteration():
    session = FakeSession()
    warmup, windows = run_protocol(session, [], measure(windows=2, window_min_iterations=20), scenario="throughput")
    assert session.syncs == 2 * (1 + 2), "one sync before and one after each phase, none between iterations"
    assert all(w.iterations == 20 and w.latencies_ns == [] for w in windows)
    precision = precision_of(windows, [], measure(windows=2))
    assert precision.quantity == "time per batch" and precision.ci_rel is not None


def test_throughput_queues_in_rounds_that_end_just_past_both_minimums_and_never_more_than_the_queue_depth():
    session = QueueingSession(run_s=0.002, host_s=0.0)
    settings = measure(warmup_min_iterations=1, windows=1, window_min_iterations=5, window_min_s=0.3)
    _, (window,) = run_protocol(session, [], settings, scenario="throughput")
    assert 0.3 <= window.duration_s < 0.36, "rounds sized from the time per iteration: no long overshoot"
    assert 140 <= window.iterations <= 180  # ~2 ms each
    queued = 0
    for event in session.events:
        queued = queued + 1 if event == "run" else 0
        assert queued <= QUEUE_DEPTH


def test_latency_synchronises_after_every_iteration():
    session = FakeSession()
    warmup, windows = run_protocol(session, [], measure(windows=2, window_min_iterations=20), scenario="latency")
    assert session.syncs == 3 + session.runs, "one before each phase, then one after every iteration"
    assert all(len(w.latencies_ns) == w.iterations for w in windows)
    assert precision_of(windows, [], measure(windows=2)).quantity == "latency p50"


def test_on_a_runtime_that_queues_work_throughput_overlaps_what_latency_serialises():
    settings = measure(warmup_min_iterations=1, windows=1, window_min_iterations=30)
    per_batch = {}
    for scenario in ("latency", "throughput"):
        _, (window,) = run_protocol(QueueingSession(run_s=0.004, host_s=0.002), [], settings, scenario=scenario)
        per_batch[scenario] = window.duration_s / window.iterations
    # latency pays launch + device per batch (~6 ms); queued, the launches hide behind the device (~4 ms)
    assert per_batch["throughput"] < 0.85 * per_batch["latency"], per_batch


def test_an_unknown_scenario_is_refused_with_the_allowed_ones():
    with pytest.raises(ValueError, match="scenario=offline is not available; allowed: latency, throughput"):
        run_protocol(FakeSession(), [], measure(), scenario="offline")


def test_the_note_says_when_throughput_is_the_latency_scenarios_work():
    spec = JobSpec(runtime="torch", provider="cpu", scenario="throughput")
    assert scenario_note(spec, queues_work=False).startswith("the same as latency: torch on cpu returns from each")
    assert scenario_note(JobSpec(runtime="mxnet", scenario="throughput"), queues_work=True).startswith(
        "queued: mxnet on cpu returns before the work is done"
    )
    assert scenario_note(JobSpec(runtime="torch", scenario="latency"), queues_work=False) is None
