"""The two comparisons, run in interleaved rounds whose order alternates (A-B, then B-A).

Minor page faults are counted over the measured windows only, in every arm (the protocol's own
``Phase.minor_faults`` for the tool and the sampler comparison, ``getrusage`` around the same windows
for the bare loop), so that building a model, which faults in its weights, is not counted.
"""

from __future__ import annotations

import contextlib
import csv
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import psutil

import green_mlflow.worker.__main__ as worker_main
from green_mlflow.contract import JobSpec, MeasureSettings
from green_mlflow.runtimes import load_session
from green_mlflow.worker.protocol import run_protocol
from green_mlflow.worker.sampler import SamplerProcess

from .stats import compare, p50_ms, regime_mismatch

TOOL_TARGET = 1.02
SAMPLER_TARGET = 1.01


def read_latency_csv(path: Path) -> list[int]:
    with path.open() as fh:
        return [int(round(float(row["latency_ms"]) * 1e6)) for row in csv.DictReader(fh)]


@contextlib.contextmanager
def captured_phases(phases: list):
    """Keep the phases ``measure_job``'s ``run_protocol`` returns (its result does not carry their page faults).

    Only the outer call is wrapped, once per job: nothing changes inside the measured loop.
    """
    original = worker_main.run_protocol

    def recording(*args, **kwargs):
        warmup, windows = original(*args, **kwargs)
        phases[:] = [warmup, *windows]
        return warmup, windows

    worker_main.run_protocol = recording
    try:
        yield phases
    finally:
        worker_main.run_protocol = original


def job_spec(spec: dict, **changes) -> JobSpec:
    """The worker's typed spec from the benchmark's plain settings."""
    return JobSpec(**{**spec, "measure": MeasureSettings(**spec["measure"]), **changes})


def tool_measure(spec: dict, round_dir: Path) -> tuple[list[int], int, dict]:
    """``measure_job`` as the worker runs it; its latencies read back from the ``latency_ms.csv`` it wrote."""
    with captured_phases([]) as phases:
        result = worker_main.measure_job(job_spec(spec, output_dir=str(round_dir)), progress=lambda _: None)
    latencies = read_latency_csv(Path(result.traces.latency))
    facts = {
        "load_s": result.load_s,
        "sampler_samples": result.sampler.samples,
        "reported_p50_ms": result.latency.p50_ms,
        "cpu_util_process_percent": result.utilisation.get("cpu_util_process_percent"),
        "cpu_util_system_percent": result.utilisation.get("cpu_util_system_percent"),
        "intra_op_threads": result.info.get("intra_op_threads"),
        "malloc_env": result.malloc_env,
    }
    return latencies, sum(p.minor_faults for p in phases[1:]), facts


def tool_vs_bare(bare, spec: dict, measure: dict, rounds: int, tmp: Path, say: Callable[[str], None]) -> dict:
    """Comparison 1: ``measure_job`` against the bare loop; target p50(tool) / p50(bare) ≤ TOOL_TARGET."""
    bare_rounds, tool_rounds, tool_facts, bare_build_s = [], [], [], []
    faults: dict[str, list[float]] = {"bare": [], "tool": []}
    for r in range(rounds):
        order = ("bare", "tool") if r % 2 == 0 else ("tool", "bare")
        for arm in order:
            if arm == "bare":
                lat, window_faults = bare.measure(measure)
                bare_rounds.append(lat)
                bare_build_s.append(bare.build_s)
            else:
                lat, window_faults, facts = tool_measure(spec, tmp / f"tool_round{r}")
                tool_rounds.append(lat)
                tool_facts.append(facts)
            faults[arm].append(window_faults / len(lat))
        say(
            f"tool vs bare round {r + 1}/{rounds}: bare p50 {p50_ms(bare_rounds[-1]):.2f} ms, "
            f"tool p50 {p50_ms(tool_rounds[-1]):.2f} ms"
        )
    result = compare("bare", bare_rounds, "tool", tool_rounds, TOOL_TARGET)
    result["minor_faults_per_iteration"] = faults
    result["fault_regime_mismatch"] = regime_mismatch(faults["bare"], faults["tool"])
    result["tool_rounds"] = tool_facts
    result["bare_build_s"] = bare_build_s  # the bare arm's counterpart of the tool's load_s
    return result


def sampler_on_vs_off(spec: dict, measure: dict, rounds: int, interval_s: float, tmp: Path, say) -> dict:
    """Comparison 2: one warm session, ``run_protocol`` with no meters, a ``SamplerProcess`` beside it or not."""
    session = load_session(job_spec(spec))
    settings = MeasureSettings(**measure)
    run_protocol(session, [], MeasureSettings(**dict(measure, windows=1)))  # first-touch warm-up, discarded
    latencies: dict[str, list[list[int]]] = {"off": [], "on": []}
    faults: dict[str, list[float]] = {"off": [], "on": []}
    sampler_cpu = []
    for r in range(rounds):
        order = ("off", "on") if r % 2 == 0 else ("on", "off")
        for arm in order:
            sampler = None
            if arm == "on":
                sampler = SamplerProcess(interval_s, tmp / f"sampler_round{r}.csv", None)
                child = psutil.Process(sampler.proc.pid)
                cpu0, t0 = sum(child.cpu_times()[:2]), time.monotonic()
            try:
                _, windows = run_protocol(session, [], settings)
                if sampler is not None:
                    sampler_cpu.append(100.0 * (sum(child.cpu_times()[:2]) - cpu0) / (time.monotonic() - t0))
            finally:
                if sampler is not None:
                    sampler.stop()
            latencies[arm].append([ns for w in windows for ns in w.latencies_ns])
            faults[arm].append(sum(w.minor_faults for w in windows) / sum(w.iterations for w in windows))
        say(
            f"sampler round {r + 1}/{rounds}: off p50 {p50_ms(latencies['off'][-1]):.2f} ms, "
            f"on p50 {p50_ms(latencies['on'][-1]):.2f} ms"
        )
    del session
    result = compare("off", latencies["off"], "on", latencies["on"], SAMPLER_TARGET)
    result["minor_faults_per_iteration"] = faults
    result["fault_regime_mismatch"] = regime_mismatch(faults["off"], faults["on"])
    result["sampler_cpu_percent_of_one_core"] = statistics.mean(sampler_cpu)
    return result
