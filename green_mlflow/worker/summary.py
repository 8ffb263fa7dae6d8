"""Turn raw phases, marks and the sampler trace into the worker's result numbers."""

from __future__ import annotations

from statistics import fmean

from green_mlflow.meters.base import EnergyMeter, MeterError, MeterStatus, Trace
from green_mlflow.worker.protocol import Phase


def _phase_energy(meter: EnergyMeter, index: int, phase: Phase, trace: Trace) -> tuple[float | None, str | None]:
    start, end = phase.marks[index]
    if phase.mark_errors[index]:
        return None, f"{phase.name}: {phase.mark_errors[index]}"
    try:
        return meter.energy_j(start, end, trace), None
    except MeterError as err:
        return None, f"{phase.name}: {err}"


def summarise_energy(
    meters: list[EnergyMeter],
    unavailable: list[MeterStatus],
    warmup: Phase,
    windows: list[Phase],
    trace: Trace,
) -> dict[str, dict]:
    """Per domain: method, what it covers, window energies, and totals over the windows that read cleanly.

    A window whose reading failed is left out of the totals (its samples too) and listed in
    ``errors``; if no window read cleanly the domain is ``unavailable`` — never 0.
    """
    energy: dict[str, dict] = {}
    for status in unavailable:
        energy[status.domain] = {"method": "unavailable", "detail": status.detail}
    for index, meter in enumerate(meters):
        window_j, errors = [], []
        for window in windows:
            value, error = _phase_energy(meter, index, window, trace)
            window_j.append(value)
            if error:
                errors.append(error)
        warmup_j, warmup_error = _phase_energy(meter, index, warmup, trace)
        good = [(w, j) for w, j in zip(windows, window_j) if j is not None]
        entry = {
            "method": meter.method,
            "detail": meter.covers,
            "window_energy_j": window_j,
            "errors": errors + ([warmup_error] if warmup_error else []),
            "warmup_energy_j": warmup_j,
        }
        if good:
            total_j = sum(j for _, j in good)
            samples = sum(w.samples for w, _ in good)
            duration_s = sum(w.duration_s for w, _ in good)
            entry.update(
                energy_j=total_j,
                samples=samples,
                duration_s=duration_s,
                per_sample_j=total_j / samples,
                mean_power_w=total_j / duration_s,
            )
        else:
            entry["method"] = "unavailable"
            entry["detail"] = f"{meter.covers}; no window could be read: {'; '.join(errors)}"
        energy[meter.domain] = entry
    return energy


def summarise_utilisation(trace: Trace, windows: list[Phase]) -> dict[str, float]:
    """Means (and peaks of memory) of the sampler's columns over the measured windows only."""
    result: dict[str, float] = {}
    spans = [(w.start_s, w.end_s) for w in windows]
    for column, key, reduce in (
        ("process_cpu_percent", "cpu_util_process_percent", fmean),
        ("system_cpu_percent", "cpu_util_system_percent", fmean),
        ("process_rss_mb", "process_rss_peak_mb", max),
        ("gpu_util_percent", "gpu_util_percent", fmean),
        ("gpu_mem_used_mb", "gpu_mem_used_peak_mb", max),
        ("gpu_power_w", "gpu_power_mean_w", fmean),
    ):
        values = [v for t0, t1 in spans for v in trace.between(column, t0, t1)[1]]
        if values:
            result[key] = float(reduce(values))
    return result


def temperatures(trace: Trace) -> dict[str, float]:
    temps = [v for v in trace.columns.get("gpu_temp_c", []) if v is not None]
    return {"gpu_temp_start_c": temps[0], "gpu_temp_end_c": temps[-1]} if temps else {}
