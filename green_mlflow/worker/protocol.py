"""The measurement protocol (docs/method.md rules 6–8, 12), framework-agnostic.

Warm-up runs until both a minimum iteration count and a minimum duration are reached. Each window
then runs until it has both a minimum iteration count and a minimum duration. In the latency scenario
(the default) the device is synchronised after every iteration, so each latency and each window edge
closes when the work is done, not when it was queued; the loop body is a clock read, a run, a sync, a
clock read and a list append. In the throughput scenario iterations are queued back to back and the
device is synchronised at the window's edges only (MLPerf's Offline scenario): no per-iteration latency,
the loop body is a run and a count. Meters are read at window edges only — nothing else runs inside the
measured loop.
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from green_mlflow.contract import SCENARIOS, MeasureSettings, Precision
from green_mlflow.meters.base import EnergyMeter, MeterError
from green_mlflow.runtimes.base import Session
from green_mlflow.worker.stats import ci_rel

QUEUE_DEPTH = 32  # throughput scenario: the most iterations queued before the device is synchronised


@dataclass
class Phase:
    """One measured stretch of work: the warm-up or a window."""

    name: str
    start_s: float  # time.monotonic() at the first edge
    end_s: float
    iterations: int
    samples: int
    latencies_ns: list[int] = field(default_factory=list, repr=False)
    marks: list[tuple[Any, Any]] = field(default_factory=list, repr=False)  # (start, end) per meter
    mark_errors: list[str | None] = field(default_factory=list)
    minor_faults: int = 0  # page faults of the workload process during the phase (allocator churn)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def batch_time_ms(self) -> float:
        """The phase's duration over its iterations: the time per batch (the throughput scenario's only timing)."""
        return self.duration_s * 1e3 / self.iterations


def _mark_all(meters: list[EnergyMeter]) -> tuple[list[Any], list[str | None]]:
    marks, errors = [], []
    for meter in meters:
        try:
            marks.append(meter.mark())
            errors.append(None)
        except MeterError as err:
            marks.append(None)
            errors.append(str(err))
        except Exception as err:  # a driver error mid-run must not end the measurement
            marks.append(None)
            errors.append(f"{type(err).__name__}: {err}")
    return marks, errors


def measure_span(name: str, meters: list[EnergyMeter], work: Callable[[], Any]) -> tuple[Phase, Any]:
    """Meter a one-off stretch of work (loading the model): marks before and after, no iterations."""
    start_marks, start_errors = _mark_all(meters)
    start_s = time.monotonic()
    value = work()
    end_s = time.monotonic()
    end_marks, end_errors = _mark_all(meters)
    phase = Phase(
        name=name,
        start_s=start_s,
        end_s=end_s,
        iterations=0,
        samples=0,
        marks=list(zip(start_marks, end_marks)),
        mark_errors=[a or b for a, b in zip(start_errors, end_errors)],
    )
    return phase, value


def _phase(
    name: str,
    session: Session,
    meters: list[EnergyMeter],
    min_iterations: int,
    min_s: float,
    record_latency: bool,
    each_iteration: bool = True,
) -> Phase:
    """``each_iteration``: synchronise and time every iteration (latency scenario); else queue them back to back and
    synchronise once, at the end (throughput scenario: the window's edge waits for the queued work)."""
    run, sync, clock = session.run, session.sync, time.perf_counter_ns
    sync()
    start_marks, start_errors = _mark_all(meters)
    start_faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start_s = time.monotonic()
    min_ns = int(min_s * 1e9)
    latencies: list[int] = []
    append = latencies.append
    began = clock()
    iterations = 0
    if each_iteration:
        while iterations < min_iterations or clock() - began < min_ns:
            t0 = clock()
            run()
            sync()
            append(clock() - t0)
            iterations += 1
    else:
        # Queued in rounds, each ending with a sync: the first of min_iterations, the next sized from the time per
        # iteration so far, so the window ends just past both minimums. (Queuing until the clock says min_s would
        # measure how fast work is queued, and MXNet's engine queues without bound.) Within a round a sync every
        # QUEUE_DEPTH iterations bounds the work in flight.
        while iterations < min_iterations or clock() - began < min_ns:
            elapsed = clock() - began
            rest = math.ceil((min_ns - elapsed) * iterations / elapsed) if iterations and elapsed > 0 else 0
            for _ in range(max(min_iterations - iterations, rest, 1)):
                run()
                iterations += 1
                if iterations % QUEUE_DEPTH == 0:
                    sync()
            sync()
    end_s = time.monotonic()
    end_faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    end_marks, end_errors = _mark_all(meters)
    return Phase(
        name=name,
        start_s=start_s,
        end_s=end_s,
        iterations=iterations,
        samples=iterations * session.batch_size,
        latencies_ns=latencies if record_latency and each_iteration else [],
        marks=list(zip(start_marks, end_marks)),
        mark_errors=[a or b for a, b in zip(start_errors, end_errors)],
        minor_faults=end_faults - start_faults,
    )


def primary_values(windows: list[Phase], meters: list[EnergyMeter]) -> tuple[str, list[float]]:
    """What precision targeting watches: energy per sample from an energy *counter* (readable between marks,
    without the trace) where every window read it, else each window's median latency (its time per batch in the
    throughput scenario, which times no single iteration)."""
    for index, meter in enumerate(meters):
        if meter.method != "counter":
            continue
        try:
            values = [meter.energy_j(*w.marks[index]) / w.samples for w in windows if None not in w.marks[index]]
        except Exception:  # an unreadable counter: latency decides
            continue
        if len(values) == len(windows):
            return f"{meter.domain} energy per sample", values
    if all(w.latencies_ns for w in windows):
        return "latency p50", [median(w.latencies_ns) / 1e6 for w in windows]
    return "time per batch", [w.batch_time_ms for w in windows]


def precision_of(windows: list[Phase], meters: list[EnergyMeter], measure: MeasureSettings) -> Precision:
    quantity, values = primary_values(windows, meters)
    achieved = ci_rel(values)
    target = measure.target_ci_rel
    if target is None:
        outcome = "off"
    elif achieved is not None and achieved <= target:
        outcome = f"reached after {len(windows)} windows"
    else:
        outcome = f"cap reached at {len(windows)} windows"
    return Precision(outcome=outcome, quantity=quantity, ci_rel=achieved, target_ci_rel=target)


def run_protocol(
    session: Session,
    meters: list[EnergyMeter],
    measure: MeasureSettings,
    progress: Callable[[str], None] = lambda _: None,
    scenario: str = "latency",
) -> tuple[Phase, list[Phase]]:
    """Warm up, then measure ``measure.windows`` windows; with ``measure.target_ci_rel``, more windows until the
    primary quantity's 95 % CI is that tight or ``measure.max_windows`` is reached. Returns (warm-up, windows).
    ``scenario``: ``latency`` (synchronise every iteration) or ``throughput`` (at window edges only)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario={scenario} is not available; allowed: {', '.join(SCENARIOS)}")
    each = scenario == "latency"
    progress(f"warm-up: ≥{measure.warmup_min_iterations} iterations and ≥{measure.warmup_min_s} s")
    warmup = _phase("warmup", session, meters, measure.warmup_min_iterations, measure.warmup_min_s, False, each)
    windows: list[Phase] = []
    target = measure.target_ci_rel
    cap = max(measure.windows, measure.max_windows) if target is not None else measure.windows
    while len(windows) < cap:
        if len(windows) >= measure.windows:
            achieved = ci_rel(primary_values(windows, meters)[1])
            if achieved is not None and achieved <= target:
                break
        if windows and measure.window_rest_s > 0:
            time.sleep(measure.window_rest_s)
        index = len(windows)
        window = _phase(
            f"window{index}", session, meters, measure.window_min_iterations, measure.window_min_s, True, each
        )
        windows.append(window)
        timing = (
            f"latency p50 {median(window.latencies_ns) / 1e6:.2f} ms"
            if each
            else f"{window.batch_time_ms:.2f} ms per batch, queued"
        )
        total = f"{measure.windows}" if target is None else f"{measure.windows}+ (≤{cap}, target CI ±{target:.1%})"
        progress(f"window {index + 1}/{total}: {window.iterations} iterations in {window.duration_s:.2f} s, {timing}")
    return warmup, windows
