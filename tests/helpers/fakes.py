"""Test doubles for hardware this machine does not have: an NVML module and a powercap RAPL tree.

Used where the real thing cannot exist here (no NVIDIA driver, no RAPL in a VM); the real paths run on a
lent GPU host (tests marked ``gpu``, benchmarks/gpu_validation.py).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace


class NVMLError_NotSupported(Exception):  # noqa: N801 — spelled like pynvml's
    pass


class FakeNvml:
    """Just enough of pynvml: energies in mJ, powers in mW, names as bytes like old bindings."""

    def __init__(self, count=1, energy_mj=(1_000_000,), power_mw=250_000, counter=True, power=True, init_error=None):
        self.count = count
        self.energies = list(energy_mj)
        self.power_mw = power_mw
        self.counter, self.power, self.init_error = counter, power, init_error
        self.energy_reads = 0
        self.inits = 0
        self.capability = (8, 0)  # an A100

    def nvmlInit(self):
        self.inits += 1
        if self.init_error:
            raise self.init_error

    def nvmlDeviceGetCount(self):
        return self.count

    def nvmlDeviceGetHandleByIndex(self, index):
        if not 0 <= index < self.count:
            raise RuntimeError("Invalid Argument")
        return ("handle", index)

    def nvmlDeviceGetHandleByUUID(self, uuid):
        return ("uuid", uuid)

    def nvmlDeviceGetName(self, handle):
        return b"NVIDIA Fake A100"

    def nvmlDeviceGetCudaComputeCapability(self, handle):
        return self.capability

    def nvmlSystemGetDriverVersion(self):
        return "550.54.15"

    def nvmlDeviceGetEnforcedPowerLimit(self, handle):
        return 400_000

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        if not self.counter:
            raise NVMLError_NotSupported("Not Supported")
        value = self.energies[min(self.energy_reads, len(self.energies) - 1)]
        self.energy_reads += 1
        return value

    def nvmlDeviceGetPowerUsage(self, handle):
        if not self.power:
            raise NVMLError_NotSupported("Not Supported")
        return self.power_mw

    # what the sampler reads each tick
    NVML_TEMPERATURE_GPU = 0
    compute_processes: list = []
    graphics_processes: list = []
    processes_error: Exception | None = None

    def nvmlDeviceGetUtilizationRates(self, handle):
        return SimpleNamespace(gpu=87, memory=40)

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(used=3 * 2**30, total=80 * 2**30)

    def nvmlDeviceGetTemperature(self, handle, sensor):
        return 61

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        if self.processes_error:
            raise self.processes_error
        return self.compute_processes

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle):
        if self.processes_error:
            raise self.processes_error
        return self.graphics_processes


MAX_RANGE_UJ = 262_143_328_850  # a real Intel package's max_energy_range_uj
DRAM_MAX_RANGE_UJ = 65_712_999_613


def write_zone(path: Path, name: str, energy_uj: int, max_range_uj: int) -> None:
    path.mkdir(parents=True)
    (path / "name").write_text(f"{name}\n")
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    (path / "max_energy_range_uj").write_text(f"{max_range_uj}\n")


def make_tree(root: Path, packages: int = 1) -> Path:
    """intel-rapl:N (package-N) with subzones :0 core and :1 dram, plus the top-level subzone links of sysfs."""
    root.mkdir(parents=True, exist_ok=True)
    for n in range(packages):
        pkg = root / f"intel-rapl:{n}"
        write_zone(pkg, f"package-{n}", 1_000_000 * (n + 1), MAX_RANGE_UJ)
        write_zone(pkg / f"intel-rapl:{n}:0", "core", 500_000, MAX_RANGE_UJ)
        write_zone(pkg / f"intel-rapl:{n}:1", "dram", 200_000 * (n + 1), DRAM_MAX_RANGE_UJ)
        for sub in (0, 1):  # sysfs also links every subzone at the top level
            (root / f"intel-rapl:{n}:{sub}").symlink_to(pkg / f"intel-rapl:{n}:{sub}")
    return root


def set_energy(zone_path: Path, value_uj: int) -> None:
    (zone_path / "energy_uj").write_text(f"{value_uj}\n")
