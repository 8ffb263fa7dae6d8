"""Turn raw phases, marks and the sampler trace into the worker's result numbers."""

from __future__ import annotations

from statistics import fmean

from green_mlflow.contract import Contention, DomainEnergy
from green_mlflow.meters.base import EnergyMeter, MeterError, MeterStatus, Trace
from green_mlflow.worker.protocol import Phase


def phase_energy(meter: EnergyMeter, index: int, phase: Phase, trace: Trace) -> tuple[float | None, str | None]:
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
    load: Phase | None = None,
) -> dict[str, DomainEnergy]:
    """Per domain: method, what it covers, window energies, and totals over the windows that read cleanly.

    A window whose reading failed is left out of the totals (its samples too) and listed in
    ``errors``; if no window read cleanly the domain is ``unavailable`` — never 0.
    """
    energy = {status.domain: DomainEnergy(method="unavailable", detail=status.detail) for status in unavailable}
    for index, meter in enumerate(meters):
        window_j, errors = [], []
        for window in windows:
            value, error = phase_energy(meter, index, window, trace)
            window_j.append(value)
            if error:
                errors.append(error)
        warmup_j, warmup_error = phase_energy(meter, index, warmup, trace)
        load_j, load_error = phase_energy(meter, index, load, trace) if load else (None, None)
        good = [(w, j) for w, j in zip(windows, window_j) if j is not None]
        entry = DomainEnergy(
            method=meter.method,
            detail=meter.covers,
            window_energy_j=window_j,
            errors=errors + [e for e in (warmup_error, load_error) if e],
            warmup_energy_j=warmup_j,
            load_energy_j=load_j,
        )
        if good:
            entry.energy_j = sum(j for _, j in good)
            entry.samples = sum(w.samples for w, _ in good)
            entry.duration_s = sum(w.duration_s for w, _ in good)
            entry.per_sample_j = entry.energy_j / entry.samples
            entry.mean_power_w = entry.energy_j / entry.duration_s
        else:
            entry.method = "unavailable"
            entry.detail = f"{meter.covers}; no window could be read: {'; '.join(errors)}"
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


def summarise_contention(trace: Trace, windows: list[Phase], processes: dict | None, reason: str | None) -> Contention:
    """Did any other process use the GPU during a measured window? (docs/method.md rule 5)

    ``processes`` is what the sampler listed (pid → MiB, and an error if the list was unreadable);
    ``reason`` says why the GPU was not watched at all.
    """
    if reason is not None:
        return Contention(checked=False, reason=reason)
    counts = [trace.between("gpu_other_processes", w.start_s, w.end_s)[1] for w in windows]
    if processes is None or (processes.get("error") and not any(counts)):
        detail = (processes or {}).get("error") or "the sampler recorded no process list"
        return Contention(checked=False, reason=f"NVML process list unreadable: {detail}")
    busy = sum(1 for c in counts if c and max(c) > 0)
    return Contention(
        checked=True,
        windows=len(windows),
        windows_with_other_processes=busy,
        other_processes=processes.get("other_processes", {}) if busy else {},
    )
