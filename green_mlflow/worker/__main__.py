"""``python -m green_mlflow.worker spec.json result.json``: measure one job, standalone.

The spec names the runtime, model, provider, mode, batch size, seed and measurement settings;
the result is JSON with latency, throughput, energy per domain (with its method), utilisation and
the facts of the run. Any exception becomes ``{"status": "failed", "error": <traceback>}`` and
exit code 1, so the orchestrator can record the failure instead of losing it.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
import traceback
from pathlib import Path

from green_mlflow.meters import Trace, discover_meters
from green_mlflow.meters.nvml import gpu_facts
from green_mlflow.meters.thermometer import gpu_temperature_c, read_temperatures_c
from green_mlflow.runtimes import load_session
from green_mlflow.worker.cooldown import cool_down
from green_mlflow.worker.host import host_facts
from green_mlflow.worker.protocol import measure_span, run_protocol
from green_mlflow.worker.sampler import SamplerProcess, processes_path, read_trace, sampler_settings
from green_mlflow.worker.stats import LatencyStats
from green_mlflow.worker.summary import summarise_contention, summarise_energy, summarise_utilisation


def _progress(message: str) -> None:
    print(f"[worker] {message}", file=sys.stderr, flush=True)


def measure_job(spec: dict, progress=_progress) -> dict:
    """Run the whole measurement for ``spec`` in this process and return the result dict."""
    measure = spec["measure"]
    out_dir = Path(spec["output_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    device_id = int(spec.get("device_id", 0))
    meters, unavailable = discover_meters(device_id=device_id, cpu_tdp_w=measure.get("cpu_tdp_w"))
    interval_s, gpu_id = sampler_settings(meters, measure["sample_interval_s"], device_id)
    gpu_in_trace = gpu_id is not None
    rest = cool_down(
        float(measure.get("cooldown_s", 0.0)),
        measure.get("cooldown_within_c"),
        spec.get("idle_temp_c"),
        float(measure.get("cooldown_max_s", 0.0)),
        lambda: gpu_temperature_c(device_id) if gpu_in_trace else None,
    )
    if rest.waited_s > 0:
        progress(f"cool-down {rest.waited_s:.1f} s: {rest.outcome}")
    temps_start = read_temperatures_c(gpu_id)
    sampler = SamplerProcess(interval_s, out_dir / "utilisation.csv", gpu_id)
    try:
        progress(f"loading {spec['model']['name']} in {spec['runtime']} ({spec['provider']}, {spec['mode']})")
        load, session = measure_span("load", meters, lambda: load_session(spec))
        info = session.info()
        warmup, windows = run_protocol(session, meters, measure, progress)
        temps_end = read_temperatures_c(gpu_id)
    finally:
        trace_path = sampler.stop()
    trace = Trace(read_trace(trace_path))
    processes_file = processes_path(trace_path)
    processes = json.loads(processes_file.read_text()) if processes_file.exists() else None
    latencies = [ns for w in windows for ns in w.latencies_ns]
    with (out_dir / "latency_ms.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["window", "iteration", "latency_ms"])
        for w_index, window in enumerate(windows):
            writer.writerows((w_index, i, f"{ns / 1e6:.6f}") for i, ns in enumerate(window.latencies_ns))
    samples = sum(w.samples for w in windows)
    duration_s = sum(w.duration_s for w in windows)
    return {
        "status": "ok",
        "info": info,
        "host": host_facts(),
        "gpu": gpu_facts(device_id) if gpu_in_trace else {},
        "clock_offset_s": time.time() - time.monotonic(),  # monotonic trace times → wall clock
        "load_s": load.duration_s,
        "cooldown": rest.as_dict(),
        "warmup": {"iterations": warmup.iterations, "duration_s": warmup.duration_s},
        "windows": [
            {
                "iterations": w.iterations,
                "samples": w.samples,
                "duration_s": w.duration_s,
                "start_s": w.start_s,  # time.monotonic(), comparable with the trace's t_s
                "end_s": w.end_s,
                "latency_p50_ms": LatencyStats.from_ns(w.latencies_ns).p50_ms,
                "minor_faults_per_iteration": w.minor_faults / w.iterations,
            }
            for w in windows
        ],
        "latency": LatencyStats.from_ns(latencies).as_dict(),
        "throughput_samples_per_s": samples / duration_s,
        "measured_samples": samples,
        "measured_duration_s": duration_s,
        "energy": summarise_energy(meters, unavailable, warmup, windows, trace, load),
        "utilisation": summarise_utilisation(trace, windows),
        "temperatures": {
            **{k.replace("_temp_c", "_temp_start_c"): v for k, v in temps_start.items()},
            **{k.replace("_temp_c", "_temp_end_c"): v for k, v in temps_end.items()},
        },
        "contention": summarise_contention(
            trace, windows, processes, None if gpu_in_trace else "no GPU meter in this run (no NVML or no GPU)"
        ),
        "sampler": {"interval_s": interval_s, "samples": len(trace.t_s)},
        "malloc_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("MALLOC_")},
        "traces": {"utilisation": str(trace_path), "latency": str(out_dir / "latency_ms.csv")},
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m green_mlflow.worker SPEC.json RESULT.json", file=sys.stderr)
        return 2
    spec_path, result_path = Path(argv[0]), Path(argv[1])
    try:
        result = measure_job(json.loads(spec_path.read_text()))
        code = 0
    except BaseException as err:  # noqa: BLE001 — every failure must reach the orchestrator
        result = {"status": "failed", "error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
        code = 1
    tmp = result_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(result_path)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
