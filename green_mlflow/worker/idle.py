"""``python -m green_mlflow.worker.idle spec.json result.json``: the host's idle power, standalone.

docs/method.md rule 9: before a sweep, with no model loaded, read every meter at the start and end of
``duration_s`` of doing nothing; idle power per domain = energy / seconds. The same meters (and
the same estimate model) as the jobs use, so that net = gross − idle power × time compares like
with like. The sampler records GPU temperature, the target of the cool-down.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from statistics import fmean

from green_mlflow.contract import IdlePower, IdleResult, IdleSpec, serve
from green_mlflow.meters import Trace, discover_meters
from green_mlflow.meters.nvml import gpu_facts
from green_mlflow.worker.host import host_facts
from green_mlflow.worker.protocol import measure_span
from green_mlflow.worker.sampler import SamplerProcess, read_trace, sampler_settings
from green_mlflow.worker.summary import phase_energy

CHUNK_S = 60.0  # well under the shortest RAPL wrap period (~262 s at the highest plausible package power)


def measure_idle(spec: IdleSpec, sleep=time.sleep) -> IdleResult:
    """Idle power of every domain this host can meter, over ``spec.duration_s`` seconds."""
    out_dir = Path(spec.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device_id = spec.device_id
    duration_s = spec.duration_s
    meters, unavailable = discover_meters(device_id=device_id, cpu_tdp_w=spec.cpu_tdp_w)
    interval_s, gpu_id = sampler_settings(meters, spec.sample_interval_s, device_id)
    sampler = SamplerProcess(interval_s, out_dir / "idle_trace.csv", gpu_id)
    pieces = []
    try:
        # read the meters at least every CHUNK_S: a RAPL counter can wrap twice in a 10-minute idle (rule 3)
        left_s = duration_s
        while left_s > 0 or not pieces:
            piece_s = min(left_s, CHUNK_S)
            pieces.append(measure_span(f"idle{len(pieces)}", meters, lambda s=piece_s: sleep(s))[0])
            left_s -= piece_s
    finally:
        trace_path = sampler.stop()
    trace = Trace(read_trace(trace_path))
    measured_s = sum(p.duration_s for p in pieces)
    domains = {s.domain: IdlePower(method="unavailable", detail=s.detail) for s in unavailable}
    for index, meter in enumerate(meters):
        readings = [phase_energy(meter, index, piece, trace) for piece in pieces]
        errors = [error for _, error in readings if error]
        if errors:  # idle power must cover the whole baseline: one failed piece makes it unavailable
            domains[meter.domain] = IdlePower("unavailable", f"{meter.covers}; idle read failed: {'; '.join(errors)}")
            continue
        energy_j = sum(j for j, _ in readings)
        domains[meter.domain] = IdlePower(meter.method, meter.covers, energy_j, energy_j / measured_s)
    temps = [v for v in trace.between("gpu_temp_c", pieces[0].start_s, pieces[-1].end_s)[1]]
    return IdleResult(
        duration_s=measured_s,
        domains=domains,
        gpu_temp_c=fmean(temps) if temps else None,
        device_id=device_id,
        host=host_facts(),
        gpu=gpu_facts(device_id) if gpu_id is not None else {},
        measured_at=time.time(),
    )


def main(argv: list[str] | None = None) -> int:
    return serve(measure_idle, IdleSpec, IdleResult, argv)


if __name__ == "__main__":
    sys.exit(main())
