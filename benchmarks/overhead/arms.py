"""The two comparisons, run in interleaved rounds whose order alternates (A-B, then B-A)."""

from __future__ import annotations

import csv
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from green_mlflow.runtimes import load_session
from green_mlflow.worker.__main__ import measure_job
from green_mlflow.worker.protocol import run_protocol
from green_mlflow.worker.sampler import SamplerProcess

from .stats import compare, p50_ms, regime_mismatch

TOOL_TARGET = 1.02
SAMPLER_TARGET = 1.01


def minor_faults() -> int:
    """Minor page faults of this process so far (all its threads; not the sampler, a child process)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def read_latency_csv(path: Path) -> list[int]:
    with path.open() as fh:
        return [int(round(float(row["latency_ms"]) * 1e6)) for row in csv.DictReader(fh)]


def tool_measure(spec: dict, round_dir: Path) -> tuple[list[int], int, dict]:
    """``measure_job`` as the worker runs it; its latencies read back from the ``latency_ms.csv`` it wrote."""
    spec = dict(spec, output_dir=str(round_dir))
    result = measure_job(spec, progress=lambda _: None)
    latencies = read_latency_csv(Path(result["traces"]["latency"]))
    iterations = result["warmup"]["iterations"] + sum(w["iterations"] for w in result["windows"])
    facts = {
        "load_s": result["load_s"],
        "sampler_samples": result["sampler"]["samples"],
        "reported_p50_ms": result["latency"]["p50_ms"],
        "cpu_util_process_percent": result["utilisation"].get("cpu_util_process_percent"),
        "cpu_util_system_percent": result["utilisation"].get("cpu_util_system_percent"),
        "intra_op_threads": result["info"].get("intra_op_threads"),
        "malloc_env": result.get("malloc_env"),
    }
    return latencies, iterations, facts


def tool_vs_bare(bare, spec: dict, measure: dict, rounds: int, tmp: Path, say: Callable[[str], None]) -> dict:
    """Comparison 1: ``measure_job`` against the bare loop; target p50(tool) / p50(bare) ≤ TOOL_TARGET."""
    bare_rounds, tool_rounds, tool_facts, bare_build_s = [], [], [], []
    faults: dict[str, list[float]] = {"bare": [], "tool": []}
    for r in range(rounds):
        order = ("bare", "tool") if r % 2 == 0 else ("tool", "bare")
        for arm in order:
            f0 = minor_faults()
            if arm == "bare":
                lat, n = bare.measure(measure)
                bare_rounds.append(lat)
                bare_build_s.append(bare.build_s)
            else:
                lat, n, facts = tool_measure(spec, tmp / f"tool_round{r}")
                tool_rounds.append(lat)
                tool_facts.append(facts)
            faults[arm].append((minor_faults() - f0) / n)
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
    session = load_session(spec)
    run_protocol(session, [], dict(measure, windows=1))  # first-touch warm-up, discarded
    off_rounds, on_rounds, sampler_cpu = [], [], []
    faults: dict[str, list[float]] = {"off": [], "on": []}
    for r in range(rounds):
        order = ("off", "on") if r % 2 == 0 else ("on", "off")
        for arm in order:
            f0 = minor_faults()
            sampler = None
            if arm == "on":
                sampler = SamplerProcess(interval_s, tmp / f"sampler_round{r}.csv", None)
                child = psutil.Process(sampler.proc.pid)
                cpu0, t0 = sum(child.cpu_times()[:2]), time.monotonic()
            try:
                warm, windows = run_protocol(session, [], measure)
                if sampler is not None:
                    cpu1, t1 = sum(child.cpu_times()[:2]), time.monotonic()
            finally:
                if sampler is not None:
                    sampler.stop()
            (on_rounds if sampler else off_rounds).append([ns for w in windows for ns in w.latencies_ns])
            faults[arm].append((minor_faults() - f0) / (warm.iterations + sum(w.iterations for w in windows)))
            if sampler is not None:
                sampler_cpu.append(100.0 * (cpu1 - cpu0) / (t1 - t0))
        say(
            f"sampler round {r + 1}/{rounds}: off p50 {p50_ms(off_rounds[-1]):.2f} ms, "
            f"on p50 {p50_ms(on_rounds[-1]):.2f} ms"
        )
    del session
    result = compare("off", off_rounds, "on", on_rounds, SAMPLER_TARGET)
    result["minor_faults_per_iteration"] = faults
    result["fault_regime_mismatch"] = regime_mismatch(faults["off"], faults["on"])
    result["sampler_cpu_percent_of_one_core"] = statistics.mean(sampler_cpu)
    return result
