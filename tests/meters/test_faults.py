"""Meter faults through the whole measurement chain: real NVML and RAPL meters over doubles, the real
protocol, the worker's energy summary and the names MLflow gets. A fault gives the right value from
the windows that read cleanly, or ``unavailable`` — with a warning — and never a silent 0."""

from __future__ import annotations

import pathlib
from types import SimpleNamespace

import pytest

from green_mlflow.contract import MeasureSettings
from green_mlflow.meters.base import Trace
from green_mlflow.meters.nvml import probe_nvml
from green_mlflow.meters.rapl import probe_rapl
from green_mlflow.tracking.metrics import energy_metrics
from green_mlflow.worker.protocol import run_protocol
from green_mlflow.worker.summary import summarise_energy
from tests.helpers.fakes import MAX_RANGE_UJ, make_tree, set_energy

GPU_J_PER_RUN, CPU_J_PER_RUN, RUNS_PER_WINDOW = 2.0, 0.5, 4
MEASURE = MeasureSettings(
    warmup_min_iterations=RUNS_PER_WINDOW,
    warmup_min_s=0.0,
    windows=3,
    window_min_iterations=RUNS_PER_WINDOW,
    window_min_s=0.0,
    window_rest_s=0.0,
)


class ScriptedNvml:
    """NVML whose energy counter follows the work done; ``faults`` maps the n-th counter read to what happens."""

    def __init__(self, faults: dict[int, object] | None = None):
        self.energy_mj, self.reads, self.faults = 5_000_000, 0, faults or {}

    def nvmlInit(self):
        pass

    def nvmlDeviceGetCount(self):
        return 1

    def nvmlDeviceGetHandleByIndex(self, index):
        return "h"

    def nvmlDeviceGetName(self, handle):
        return "Fake H100"

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        self.reads += 1
        fault = self.faults.get(self.reads)
        if isinstance(fault, Exception):
            raise fault
        if fault == "reset":  # the driver restarted: the counter starts again from near 0
            self.energy_mj = 1_000
        return self.energy_mj


class Session:
    """Each run spends GPU_J_PER_RUN on the GPU counter and CPU_J_PER_RUN on the RAPL package counter."""

    batch_size = 8

    def __init__(self, nvml: ScriptedNvml, package: pathlib.Path, start_uj: int):
        self.nvml, self.package, self.uj = nvml, package, start_uj

    def run(self):
        self.nvml.energy_mj += int(GPU_J_PER_RUN * 1e3)
        self.uj = (self.uj + int(CPU_J_PER_RUN * 1e6)) % MAX_RANGE_UJ  # wraps like the hardware
        set_energy(self.package, self.uj)

    def sync(self):
        pass


def _measure(tmp_path, nvml: ScriptedNvml, start_uj: int = 1_000_000):
    root = make_tree(tmp_path / "powercap")
    set_energy(root / "intel-rapl:0", start_uj)
    gpu_meters, gpu_status = probe_nvml(0, nvml=nvml)
    rapl_meters, rapl_status = probe_rapl(root)
    meters = gpu_meters + [m for m in rapl_meters if m.domain == "cpu"]
    assert gpu_status == [] and [s for s in rapl_status if s.domain == "cpu"] == []
    warmup, windows = run_protocol(Session(nvml, root / "intel-rapl:0", start_uj), meters, MEASURE)
    energy = summarise_energy(meters, [], warmup, windows, Trace())
    return energy, energy_metrics(energy)


def test_clean_run_reads_exact_energy(tmp_path):
    energy, (metrics, tags) = _measure(tmp_path, ScriptedNvml())
    window_gpu_j = GPU_J_PER_RUN * RUNS_PER_WINDOW
    assert energy["gpu"].window_energy_j == [pytest.approx(window_gpu_j)] * 3
    assert metrics["gpu_energy_gross_j"] == pytest.approx(3 * window_gpu_j)
    assert metrics["cpu_energy_per_sample_gross_j"] == pytest.approx(CPU_J_PER_RUN / Session.batch_size)
    assert "energy.gpu.warnings" not in tags and "energy.cpu.warnings" not in tags


def test_nvml_error_in_the_middle_drops_that_window_and_warns(tmp_path):
    # counter reads: 1 probe, 2-3 warm-up, 4-5 window0, 6-7 window1, 8-9 window2
    nvml = ScriptedNvml({7: RuntimeError("NVMLError_GpuIsLost: GPU is lost")})
    energy, (metrics, tags) = _measure(tmp_path, nvml)
    assert energy["gpu"].window_energy_j[1] is None
    assert metrics["gpu_energy_gross_j"] == pytest.approx(2 * GPU_J_PER_RUN * RUNS_PER_WINDOW), "the clean windows"
    assert metrics["gpu_energy_per_sample_gross_j"] == pytest.approx(GPU_J_PER_RUN / Session.batch_size)
    assert "window1: RuntimeError: NVMLError_GpuIsLost: GPU is lost" in tags["energy.gpu.warnings"]
    assert tags["energy.gpu.method"] == "counter"


def test_a_counter_going_backwards_is_an_error_not_a_negative_or_zero(tmp_path):
    energy, (metrics, tags) = _measure(tmp_path, ScriptedNvml({9: "reset"}))
    assert energy["gpu"].window_energy_j[2] is None
    assert "went backwards" in tags["energy.gpu.warnings"]
    assert metrics["gpu_energy_gross_j"] == pytest.approx(2 * GPU_J_PER_RUN * RUNS_PER_WINDOW)
    assert all(v > 0 for k, v in metrics.items() if k.startswith("gpu_energy")), "no negative or zero energy"


def test_rapl_wrapping_inside_a_window_gives_the_right_value(tmp_path):
    start_uj = MAX_RANGE_UJ - int(5.2 * 1e6)  # wraps during the first window
    energy, (metrics, tags) = _measure(tmp_path, ScriptedNvml(), start_uj=start_uj)
    expected = CPU_J_PER_RUN * RUNS_PER_WINDOW
    assert energy["cpu"].window_energy_j == [pytest.approx(expected, abs=1e-6)] * 3
    assert "energy.cpu.warnings" not in tags


def test_rapl_permission_denied_mid_run_drops_windows_and_all_denied_is_unavailable(tmp_path, monkeypatch):
    real_read_text = pathlib.Path.read_text
    calls = SimpleNamespace(n=0, deny_from=None)

    def read_text(self, *args, **kwargs):
        if self.name == "energy_uj" and "intel-rapl:0" == self.parent.name:
            calls.n += 1
            if calls.deny_from is not None and calls.n >= calls.deny_from:
                raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "read_text", read_text)
    calls.deny_from = 7  # package reads: 1 probe, 2-3 warm-up, 4-5 window0, 6-7 window1 …: from window1's end on
    energy, (metrics, tags) = _measure(tmp_path, ScriptedNvml())
    assert energy["cpu"].window_energy_j[0] == pytest.approx(CPU_J_PER_RUN * RUNS_PER_WINDOW)
    assert energy["cpu"].window_energy_j[1:] == [None, None]
    assert "Permission denied" in tags["energy.cpu.warnings"] or "permission" in tags["energy.cpu.warnings"].lower()
    assert metrics["cpu_energy_gross_j"] == pytest.approx(CPU_J_PER_RUN * RUNS_PER_WINDOW)

    calls.n, calls.deny_from = 0, 2  # readable at probe time, denied from the first mark on
    energy, (metrics, tags) = _measure(tmp_path / "again", ScriptedNvml())
    assert energy["cpu"].method == "unavailable" and "no window could be read" in energy["cpu"].detail
    assert not any(k.startswith("cpu_") for k in metrics), "unavailable: no number at all, never 0"
    assert tags["energy.cpu.method"] == "unavailable" and tags["energy.cpu.warnings"]
