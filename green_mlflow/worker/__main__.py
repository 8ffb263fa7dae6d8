"""``python -m green_mlflow.worker spec.json result.json``: measure one job, standalone.

The spec names the runtime, model, provider, mode, batch size, seed and measurement settings;
the result (``WorkerResult``, green_mlflow.contract) has latency, throughput, energy per domain (with
its method), utilisation and the facts of the run. Any exception becomes a ``failed`` result with
the traceback and exit code 1, so the orchestrator can record the failure instead of losing it.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path

from green_mlflow.allocator import in_effect as allocator_in_effect
from green_mlflow.contract import JobSpec, PhaseSummary, SamplerFacts, Traces, WindowSummary, WorkerResult, serve
from green_mlflow.meters import Trace, discover_meters
from green_mlflow.meters.nvml import gpu_facts
from green_mlflow.meters.thermometer import gpu_temperature_c, read_temperatures_c
from green_mlflow.runtimes import load_session
from green_mlflow.worker import cpu_contention
from green_mlflow.worker.cooldown import cool_down
from green_mlflow.worker.host import host_facts
from green_mlflow.worker.protocol import measure_span, precision_of, run_protocol
from green_mlflow.worker.sampler import SamplerProcess, processes_path, read_trace, sampler_settings
from green_mlflow.worker.stats import latency_summary
from green_mlflow.worker.summary import summarise_contention, summarise_energy, summarise_utilisation


def _progress(message: str) -> None:
    print(f"[worker] {message}", file=sys.stderr, flush=True)


def measure_job(spec: JobSpec, progress=_progress) -> WorkerResult:
    """Run the whole measurement for ``spec`` in this process and return its result."""
    measure = spec.measure
    out_dir = Path(spec.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device_id = spec.device_id
    meters, unavailable = discover_meters(device_id=device_id, cpu_tdp_w=measure.cpu_tdp_w)
    interval_s, gpu_id = sampler_settings(meters, measure.sample_interval_s, device_id)
    gpu_in_trace = gpu_id is not None
    rest = cool_down(
        measure.cooldown_s,
        measure.cooldown_within_c,
        spec.idle_temp_c,
        measure.cooldown_max_s,
        lambda: gpu_temperature_c(device_id) if gpu_in_trace else None,
    )
    if rest.waited_s > 0:
        progress(f"cool-down {rest.waited_s:.1f} s: {rest.outcome}")
    temps_start = read_temperatures_c(gpu_id)
    sampler = SamplerProcess(interval_s, out_dir / "utilisation.csv", gpu_id)
    try:
        progress(f"loading {spec.model['name']} in {spec.runtime} ({spec.provider}, {spec.mode})")
        load, session = measure_span("load", meters, lambda: load_session(spec))
        info = {**session.info(), "allocator": allocator_in_effect()}  # docs/method.md rule 16
        cpu_before = cpu_contention.snapshot()
        warmup, windows = run_protocol(session, meters, measure, progress, spec.scenario)
        cpu_after = cpu_contention.snapshot()
        others = cpu_contention.summarise_cpu_contention(cpu_before, cpu_after, cpu_contention.own_pids())
        temps_end = read_temperatures_c(gpu_id)
    finally:
        trace_path = sampler.stop()
    trace = Trace(read_trace(trace_path))
    processes_file = processes_path(trace_path)
    processes = json.loads(processes_file.read_text()) if processes_file.exists() else None
    latencies = [ns for w in windows for ns in w.latencies_ns]
    latency_csv = _write_latencies(out_dir / "latency_ms.csv", windows) if latencies else None
    samples = sum(w.samples for w in windows)
    duration_s = sum(w.duration_s for w in windows)
    return WorkerResult(
        info=info,
        host=host_facts(),
        gpu=gpu_facts(device_id) if gpu_in_trace else {},
        clock_offset_s=time.time() - time.monotonic(),  # monotonic trace times → wall clock
        load_s=load.duration_s,
        cooldown=rest,
        warmup=PhaseSummary(iterations=warmup.iterations, duration_s=warmup.duration_s),
        windows=[
            WindowSummary(
                iterations=w.iterations,
                samples=w.samples,
                duration_s=w.duration_s,
                start_s=w.start_s,
                end_s=w.end_s,
                latency_p50_ms=latency_summary(w.latencies_ns).p50_ms if w.latencies_ns else None,
                minor_faults_per_iteration=w.minor_faults / w.iterations,
                batch_time_ms=w.batch_time_ms,
            )
            for w in windows
        ],
        latency=latency_summary(latencies) if latencies else None,
        throughput_samples_per_s=samples / duration_s,
        measured_samples=samples,
        measured_duration_s=duration_s,
        energy=summarise_energy(meters, unavailable, warmup, windows, trace, load),
        utilisation=summarise_utilisation(trace, windows),
        temperatures={
            **{k.replace("_temp_c", "_temp_start_c"): v for k, v in temps_start.items()},
            **{k.replace("_temp_c", "_temp_end_c"): v for k, v in temps_end.items()},
        },
        contention=summarise_contention(
            trace, windows, processes, None if gpu_in_trace else "no GPU meter in this run (no NVML or no GPU)"
        ),
        cpu_contention=others,
        precision=precision_of(windows, meters, measure),
        scenario_note=scenario_note(spec, session.queues_work),
        sampler=SamplerFacts(interval_s=interval_s, samples=len(trace.t_s)),
        malloc_env={k: v for k, v in sorted(os.environ.items()) if k.startswith("MALLOC_")},
        traces=Traces(utilisation=str(trace_path), latency=latency_csv),
    )


def _write_latencies(path: Path, windows) -> str:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["window", "iteration", "latency_ms"])
        for w_index, window in enumerate(windows):
            writer.writerows((w_index, i, f"{ns / 1e6:.6f}") for i, ns in enumerate(window.latencies_ns))
    return str(path)


def scenario_note(spec: JobSpec, queues_work: bool) -> str | None:
    """How the throughput scenario ran here: queued, or — where every inference returns when it is done — the same
    work as the latency scenario, said rather than pretended otherwise (None in the latency scenario)."""
    if spec.scenario == "latency":
        return None
    where = f"{spec.runtime} on {spec.provider}"
    if queues_work:
        return f"queued: {where} returns before the work is done; synchronised at window edges only"
    return (
        f"the same as latency: {where} returns from each inference when it is done, so nothing can be queued; only "
        "the per-iteration clock reads are left out"
    )


def main(argv: list[str] | None = None) -> int:
    return serve(measure_job, JobSpec, WorkerResult, argv)


if __name__ == "__main__":
    sys.exit(main())
