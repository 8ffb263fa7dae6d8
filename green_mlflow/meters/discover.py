"""Choose, per energy domain, the best meter this host can really read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from green_mlflow.meters.base import EnergyMeter, MeterStatus
from green_mlflow.meters.estimate import TdpEstimateMeter
from green_mlflow.meters.nvml import probe_nvml
from green_mlflow.meters.rapl import POWERCAP_ROOT, probe_rapl


def discover_meters(
    device_id: int = 0,
    cpu_tdp_w: float | None = None,
    nvml: Any = None,
    powercap_root: Path = POWERCAP_ROOT,
) -> tuple[list[EnergyMeter], list[MeterStatus]]:
    """Meters to read, and the statuses of domains that have no meter (method ``unavailable``).

    CPU energy falls back to a TDP estimate only when ``cpu_tdp_w`` is given; the estimate's
    status still says why RAPL was not used.
    """
    gpu_meters, statuses = probe_nvml(device_id, nvml)
    rapl_meters, rapl_statuses = probe_rapl(powercap_root)
    meters: list[EnergyMeter] = [*gpu_meters, *rapl_meters]
    for status in rapl_statuses:
        if status.domain == "cpu" and cpu_tdp_w:
            estimate = TdpEstimateMeter(cpu_tdp_w)
            estimate.covers = f"{estimate.covers}; RAPL not used: {status.detail}"
            meters.append(estimate)
        else:
            statuses.append(status)
    return meters, statuses
