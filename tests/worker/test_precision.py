"""Precision-targeted windows on a fake runtime of known variance, on a fake clock (deterministic)."""

from __future__ import annotations

import numpy as np
import pytest

from green_mlflow.worker import protocol
from green_mlflow.worker.protocol import precision_of, run_protocol
from green_mlflow.worker.stats import ci_rel
from tests.worker.test_protocol import measure

PER_WINDOW = 5


class FakeTime:
    def __init__(self):
        self.ns = 0

    def perf_counter_ns(self) -> int:
        return self.ns

    def monotonic(self) -> float:
        return self.ns / 1e9

    def sleep(self, seconds: float) -> None:
        self.ns += int(seconds * 1e9)


class NoisySession:
    """Each window's iterations take 1 ms × (1 + cv · z), z drawn per window: a known window-to-window spread."""

    batch_size = 1

    def __init__(self, clock: FakeTime, cv: float, seed: int = 0):
        self.clock, self.runs = clock, 0
        self.factors = 1 + cv * np.random.default_rng(seed).standard_normal(1000)

    def run(self) -> None:
        self.clock.ns += int(1e6 * self.factors[self.runs // PER_WINDOW])
        self.runs += 1

    def sync(self) -> None:
        pass


def targeted(monkeypatch, cv: float, target: float | None, max_windows: int = 60, seed: int = 0):
    clock = FakeTime()
    monkeypatch.setattr(protocol, "time", clock)
    settings = measure(
        warmup_min_iterations=0,
        windows=3,
        window_min_iterations=PER_WINDOW,
        target_ci_rel=target,
        max_windows=max_windows,
    )
    _, windows = run_protocol(NoisySession(clock, cv, seed), [], settings)
    return windows, precision_of(windows, [], settings)


def test_windows_are_added_until_the_ci_is_within_the_target(monkeypatch):
    windows, precision = targeted(monkeypatch, cv=0.01, target=0.02)
    assert precision.outcome == f"reached after {len(windows)} windows" and precision.quantity == "latency p50"
    assert precision.ci_rel <= 0.02 and len(windows) >= 3
    # one window fewer would not have been enough (unless the minimum of 3 already was)
    values = [np.median(w.latencies_ns) / 1e6 for w in windows]
    assert len(windows) == 3 or ci_rel(values[:-1]) > 0.02


@pytest.mark.parametrize("seed", range(5))
def test_the_windows_needed_grow_with_the_variance_as_the_square_of_the_spread(monkeypatch, seed):
    low, _ = targeted(monkeypatch, cv=0.01, target=0.01, seed=seed)
    high, precision = targeted(monkeypatch, cv=0.03, target=0.01, seed=seed)
    # n ≈ (t · cv / target)²: about 4 and 36 windows; the t-quantile and the sample spread blur it a little
    assert len(low) <= 16 and 15 <= len(high) <= 60 and precision.ci_rel <= 0.01, (len(low), len(high))
    assert len(high) >= 2 * len(low), "three times the spread needs several times the windows"


def test_too_much_variance_ends_at_the_cap_and_says_so(monkeypatch):
    windows, precision = targeted(monkeypatch, cv=0.5, target=0.01, max_windows=8)
    assert len(windows) == 8 and precision.outcome == "cap reached at 8 windows" and precision.ci_rel > 0.01


def test_without_a_target_the_windows_are_fixed_and_precision_is_off(monkeypatch):
    windows, precision = targeted(monkeypatch, cv=0.5, target=None)
    assert len(windows) == 3 and precision.outcome == "off" and precision.ci_rel is not None
