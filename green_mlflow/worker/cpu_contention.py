"""Did other processes use the CPU while the workload was measured (docs/method.md rule 5, for the CPU)?

Every process's CPU time is read before the warm-up and after the last window; the CPU time that processes
other than the worker, its sampler and the orchestrator that started it used in between, divided by the
span, is their average load in cores. Above ``THRESHOLD_CORES`` the run is flagged, naming the top ones:
they compete with the workload for cores, caches and memory bandwidth, so latency, throughput and any CPU
energy figure include their effect.
"""

from __future__ import annotations

import os
import time

import psutil

from green_mlflow.contract import CpuContention

THRESHOLD_CORES = 0.2  # others' average load, in cores, above which a run is flagged
TOP = 3


def snapshot() -> tuple[float, dict[int, tuple[str, float]]]:
    """``(monotonic time, {pid: (name, CPU seconds so far)})`` of every process that can be read."""
    processes: dict[int, tuple[str, float]] = {}
    for process in psutil.process_iter(["name", "cpu_times"]):
        times = process.info.get("cpu_times")
        if times is not None:
            processes[process.pid] = (process.info.get("name") or "?", times.user + times.system)
    return time.monotonic(), processes


def own_pids() -> set[int]:
    """The worker, everything it started (the sampler) and the orchestrator that started it."""
    me = psutil.Process()
    pids = {me.pid, os.getppid()}
    pids.update(child.pid for child in me.children(recursive=True))
    return pids


def summarise_cpu_contention(
    before: tuple[float, dict[int, tuple[str, float]]],
    after: tuple[float, dict[int, tuple[str, float]]],
    own: set[int],
    threshold_cores: float = THRESHOLD_CORES,
) -> CpuContention:
    """Others' CPU time between the two snapshots, as cores on average, and the top ones by name and pid."""
    (t0, start), (t1, end) = before, after
    span_s = t1 - t0
    if span_s <= 0:
        return CpuContention(checked=False, reason="no time passed between the two readings")
    used: dict[str, float] = {}
    for pid, (name, cpu_s) in end.items():
        if pid in own:
            continue
        earlier = start.get(pid, (name, 0.0))[1]  # a process started in between used all its time in the span
        delta = cpu_s - earlier
        if delta > 0:
            used[f"{name} (pid {pid})"] = delta / span_s
    others = sum(used.values())
    top = dict(sorted(used.items(), key=lambda kv: -kv[1])[:TOP])
    return CpuContention(
        checked=True,
        span_s=span_s,
        other_cores=others,
        threshold_cores=threshold_cores,
        detected=others > threshold_cores,
        top_processes={k: round(v, 3) for k, v in top.items()},
    )
