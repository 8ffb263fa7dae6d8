"""GPU energy through NVML (nvidia-ml-py, NVIDIA's maintained bindings).

Volta and newer expose a cumulative energy counter in millijoules
(``nvmlDeviceGetTotalEnergyConsumption``), read at window edges (docs/method.md rule 1). Older GPUs
only report instantaneous power: then the out-of-process sampler polls it every ≤ 50 ms and the
window's energy is the trapezoidal integral of that trace, tagged ``polled``.

The NVML module is passed in (``nvml=``) so that tests can use a double; by default it is ``pynvml``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from green_mlflow.meters.base import EnergyMeter, MeterError, MeterStatus, Trace

POLL_INTERVAL_S = 0.05  # at least two polls per ~100 ms NVML power update


def load_nvml(nvml: Any = None) -> Any:
    """Return an initialised NVML module, or raise MeterError saying why there is none."""
    if nvml is None:
        try:
            import pynvml as nvml
        except ImportError as err:
            raise MeterError("nvidia-ml-py (pynvml) is not installed in this environment") from err
    try:
        nvml.nvmlInit()
    except Exception as err:  # NVMLError_LibraryNotFound, _DriverNotLoaded, ...
        raise MeterError(f"NVML could not start (no NVIDIA driver on this host?): {err}") from err
    return nvml


def device_handle(nvml: Any, device_id: int) -> Any:
    """NVML handle of the GPU that CUDA calls ``device_id`` in this process.

    NVML numbers GPUs physically and ignores ``CUDA_VISIBLE_DEVICES``; CUDA (and so torch, TF, ORT)
    numbers only the visible ones. Under SLURM or a shared host a job's ``cuda:0`` is often another
    board, so the visible list (indices or ``GPU-…``/``MIG-…`` UUIDs) is translated first — else the
    meters would read a neighbour's energy.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None or not visible.strip():
        return nvml.nvmlDeviceGetHandleByIndex(device_id)
    entries = [e.strip() for e in visible.split(",") if e.strip()]
    if not 0 <= device_id < len(entries):
        raise MeterError(f"GPU {device_id} asked for, but CUDA_VISIBLE_DEVICES={visible} makes {len(entries)} visible")
    entry = entries[device_id]
    if entry.isdigit():
        return nvml.nvmlDeviceGetHandleByIndex(int(entry))
    return nvml.nvmlDeviceGetHandleByUUID(entry.encode() if isinstance(entry, str) else entry)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class NvmlCounterMeter(EnergyMeter):
    """GPU board energy from NVML's total-energy counter."""

    domain = "gpu"
    method = "counter"

    def __init__(self, nvml: Any, handle: Any, device_id: int, name: str):
        self.nvml, self.handle = nvml, handle
        self.covers = f"GPU {device_id} ({name}) board energy, NVML total-energy counter (all processes on the GPU)"

    def mark(self) -> int:
        return int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))

    def energy_j(self, start: int, end: int, trace: Trace | None = None) -> float:
        if end < start:
            raise MeterError(f"NVML energy counter went backwards ({start} mJ → {end} mJ)")
        return (end - start) / 1e3


def integrate_power_j(times_s: list[float], power_w: list[float]) -> float:
    """Trapezoidal integral of a power trace, in joules."""
    return sum((t1 - t0) * (p0 + p1) / 2 for t0, t1, p0, p1 in zip(times_s, times_s[1:], power_w, power_w[1:]))


class NvmlPolledMeter(EnergyMeter):
    """GPU board energy integrated from power polled by the sampler process (no counter on this GPU)."""

    domain = "gpu"
    method = "polled"
    needs_power_trace_interval_s = POLL_INTERVAL_S

    def __init__(self, device_id: int, name: str):
        self.covers = (
            f"GPU {device_id} ({name}) board power polled every {POLL_INTERVAL_S * 1e3:.0f} ms "
            "and integrated (no energy counter on this GPU)"
        )

    def mark(self) -> float:
        return time.monotonic()

    def energy_j(self, start: float, end: float, trace: Trace | None) -> float:
        if trace is None:
            raise MeterError("no power trace was recorded for the polled GPU meter")
        times, power = trace.between("gpu_power_w", start, end)
        if len(times) < 2 or (end - start) > 0 and (times[-1] - times[0]) < 0.5 * (end - start):
            raise MeterError(f"power trace covers too little of the {end - start:.2f} s window to integrate")
        # scale up the covered span to the window (edges fall between polls)
        return integrate_power_j(times, power) * (end - start) / (times[-1] - times[0])


def probe_nvml(device_id: int, nvml: Any = None) -> tuple[list[EnergyMeter], list[MeterStatus]]:
    """The best GPU meter for ``device_id``: counter, else polled, else an unavailable status."""
    try:
        lib = load_nvml(nvml)
        count = lib.nvmlDeviceGetCount()
        if device_id >= count:
            raise MeterError(f"GPU {device_id} asked for, but NVML sees {count} GPU(s)")
        handle = device_handle(lib, device_id)
        name = _text(lib.nvmlDeviceGetName(handle))
    except MeterError as err:
        return [], [MeterStatus("gpu", "unavailable", str(err))]
    except Exception as err:
        return [], [MeterStatus("gpu", "unavailable", f"NVML error: {err}")]
    try:
        lib.nvmlDeviceGetTotalEnergyConsumption(handle)
        return [NvmlCounterMeter(lib, handle, device_id, name)], []
    except Exception:  # NVMLError_NotSupported before Volta
        pass
    try:
        lib.nvmlDeviceGetPowerUsage(handle)
        return [NvmlPolledMeter(device_id, name)], []
    except Exception as err:
        return [], [
            MeterStatus("gpu", "unavailable", f"GPU {device_id} ({name}) reports neither energy nor power: {err}")
        ]


def other_gpu_processes(nvml: Any, handle: Any, own_pids: set[int]) -> dict[int, float | None]:
    """Processes other than ``own_pids`` using the GPU now: pid → used memory in MiB (None where hidden).

    GPU energy is per device, not per process (docs/method.md rule 5): anything listed here during a
    window shares the reading. Raises whatever NVML raises where the list cannot be read.
    """
    found: dict[int, float | None] = {}
    for query in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
        for proc in getattr(nvml, query)(handle):
            if proc.pid not in own_pids:
                used = getattr(proc, "usedGpuMemory", None)
                found[int(proc.pid)] = used / 2**20 if isinstance(used, int) else None
    return found


def gpu_facts(device_id: int, nvml: Any = None) -> dict[str, str]:
    """Name, driver and power limit of the GPU, for run metadata; empty where there is no NVML."""
    try:
        lib = load_nvml(nvml)
        handle = device_handle(lib, device_id)
        facts = {
            "gpu_name": _text(lib.nvmlDeviceGetName(handle)),
            "gpu_driver": _text(lib.nvmlSystemGetDriverVersion()),
        }
        try:
            facts["gpu_power_limit_w"] = f"{lib.nvmlDeviceGetEnforcedPowerLimit(handle) / 1e3:.0f}"
        except Exception:
            pass
        return facts
    except Exception:
        return {}


def visible_gpus(nvml: Any = None) -> tuple[list[str], str | None]:
    """Names of the NVIDIA GPUs a CUDA program here would see (``CUDA_VISIBLE_DEVICES`` applied), in CUDA's
    order; with none, the reason. Fast where there is no driver: NVML fails to load in milliseconds."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1", "none", "NoDevFiles"):
        return [], f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU"
    try:
        lib = load_nvml(nvml)
        count = lib.nvmlDeviceGetCount()
        if visible is None or not visible.strip():
            wanted = range(count)
        else:
            wanted = range(len([e for e in visible.split(",") if e.strip()]))
        names = [_text(lib.nvmlDeviceGetName(device_handle(lib, index))) for index in wanted]
    except MeterError as err:
        return [], str(err)
    except Exception as err:  # an NVML error on a handle: the GPU exists but cannot be used
        return [], f"NVML error: {err}"
    return names, None if names else "NVML sees no GPU"


def compute_capability(device_id: int, nvml: Any = None) -> tuple[int, int] | None:
    """CUDA compute capability (major, minor) of the GPU CUDA calls ``device_id``; None where NVML cannot tell."""
    try:
        lib = load_nvml(nvml)
        major, minor = lib.nvmlDeviceGetCudaComputeCapability(device_handle(lib, device_id))
        return int(major), int(minor)
    except Exception:
        return None
