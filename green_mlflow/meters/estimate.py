"""CPU energy estimated from a TDP model, for hosts where RAPL cannot be read.

Model: energy = TDP × (CPU seconds used by the workload process / logical CPUs). It assumes power
scales linearly with utilisation and ignores idle and uncore power, so it is a rough figure. It is
only ever logged under ``*_estimated_j`` names with ``method=estimated`` and this model spelled out
(docs/method.md rule 4; CodeCarbon's silent TDP fallback is the counter-example).
"""

from __future__ import annotations

import os

import psutil

from green_mlflow.meters.base import EnergyMeter, Trace


class TdpEstimateMeter(EnergyMeter):
    domain = "cpu"
    method = "estimated"

    def __init__(self, tdp_w: float, pid: int | None = None):
        if tdp_w <= 0:
            raise ValueError(f"measure.cpu_tdp_w must be positive, got {tdp_w}")
        self.tdp_w = float(tdp_w)
        self.process = psutil.Process(pid)
        self.logical_cpus = os.cpu_count() or 1
        self.covers = (
            f"estimated: TDP {self.tdp_w:g} W × workload-process CPU seconds / {self.logical_cpus} logical CPUs "
            "(linear-in-utilisation model; not a measurement; set measure.cpu_tdp_w to this CPU's TDP)"
        )

    def mark(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def energy_j(self, start: float, end: float, trace: Trace | None = None) -> float:
        return self.tdp_w * (end - start) / self.logical_cpus
