"""Temperatures at the edges of a run and for the cool-down (docs/method.md rule 10), where readable.

GPU temperature from NVML; CPU package temperature from the kernel's hwmon sensors via psutil
(``k10temp`` on AMD, ``coretemp`` on Intel). A VM usually has neither: then the reading is absent,
never a made-up number.
"""

from __future__ import annotations

from typing import Any

CPU_SENSORS = ("k10temp", "coretemp", "zenpower", "cpu_thermal")


def gpu_temperature_c(device_id: int, nvml: Any = None) -> float | None:
    """Core temperature of GPU ``device_id`` in °C, or None where NVML cannot tell."""
    from green_mlflow.meters.nvml import device_handle, load_nvml

    try:
        lib = load_nvml(nvml)
        handle = device_handle(lib, device_id)
        return float(lib.nvmlDeviceGetTemperature(handle, getattr(lib, "NVML_TEMPERATURE_GPU", 0)))
    except Exception:
        return None


def cpu_temperature_c(sensors: dict | None = None) -> float | None:
    """CPU package temperature in °C (the hottest reading of the first known sensor), or None."""
    if sensors is None:
        try:
            import psutil

            sensors = psutil.sensors_temperatures()
        except Exception:
            return None
    for name in CPU_SENSORS:
        readings = [r.current for r in sensors.get(name, []) if r.current is not None]
        if readings:
            return float(max(readings))
    return None


def read_temperatures_c(gpu_device_id: int | None, nvml: Any = None) -> dict[str, float]:
    """``{"gpu_temp_c": …, "cpu_temp_c": …}`` with only the readable ones."""
    readings = {"cpu_temp_c": cpu_temperature_c()}
    if gpu_device_id is not None:
        readings["gpu_temp_c"] = gpu_temperature_c(gpu_device_id, nvml)
    return {k: v for k, v in readings.items() if v is not None}
