"""NVML meters against a test double of the pynvml module."""

from __future__ import annotations

import math
import sys
from types import SimpleNamespace

import pytest

from green_mlflow.contract import Contention
from green_mlflow.meters.base import MeterError, Trace
from green_mlflow.meters.discover import discover_meters
from green_mlflow.meters.estimate import TdpEstimateMeter
from green_mlflow.meters.nvml import (
    NvmlCounterMeter,
    NvmlPolledMeter,
    device_handle,
    gpu_facts,
    integrate_power_j,
    other_gpu_processes,
    probe_nvml,
)
from green_mlflow.meters.thermometer import cpu_temperature_c, gpu_temperature_c
from green_mlflow.tracking.metrics import contention_tags
from green_mlflow.worker.protocol import Phase
from green_mlflow.worker.summary import summarise_contention
from tests.helpers.fakes import FakeNvml, NVMLError_NotSupported


def test_counter_meter_chosen_and_energy_is_delta_over_1000():
    nvml = FakeNvml(energy_mj=(5_000, 5_000, 17_345))  # probe read, start mark, end mark
    meters, statuses = probe_nvml(0, nvml=nvml)
    assert statuses == []
    assert len(meters) == 1
    meter = meters[0]
    assert isinstance(meter, NvmlCounterMeter)
    assert (meter.domain, meter.method) == ("gpu", "counter")
    assert "NVIDIA Fake A100" in meter.covers and "b'" not in meter.covers
    start, end = meter.mark(), meter.mark()
    assert (start, end) == (5_000, 17_345)
    assert meter.energy_j(start, end) == pytest.approx(12.345)
    assert meter.energy_j(7, 7) == 0.0
    assert meter.needs_power_trace_interval_s is None


def test_counter_going_backwards_raises():
    meters, _ = probe_nvml(0, nvml=FakeNvml())
    with pytest.raises(MeterError, match="backwards"):
        meters[0].energy_j(2_000, 1_999)


def test_polled_meter_chosen_when_counter_not_supported():
    meters, statuses = probe_nvml(0, nvml=FakeNvml(counter=False))
    assert statuses == []
    assert len(meters) == 1
    meter = meters[0]
    assert isinstance(meter, NvmlPolledMeter)
    assert (meter.domain, meter.method) == ("gpu", "polled")
    assert meter.needs_power_trace_interval_s == pytest.approx(0.05)


def sine_trace(origin_s, t0, t1, dt, base_w, amp_w, period_s):
    """Power base + amp·sin(2π(t - origin)/period) polled every ``dt`` from ``t0`` to ``t1``."""
    times = [t0 + i * dt for i in range(round((t1 - t0) / dt) + 1)]
    power = [base_w + amp_w * math.sin(2 * math.pi * (t - origin_s) / period_s) for t in times]
    return Trace({"t_s": times, "gpu_power_w": power})


def test_polled_integration_matches_analytic_value():
    meter = NvmlPolledMeter(0, "old GPU")
    # 250 W + 50 W·sin over a 1.3 s window: ∫ = 250·1.3 + 50·P/(2π)·(1 - cos(2π·1.3/P))
    t0, t1, period = 100.0, 101.3, 0.4
    # polls every 5 ms, offset so that no poll falls on a window edge
    trace = sine_trace(t0, t0 - 0.5025, t1 + 0.5, 0.005, base_w=250.0, amp_w=50.0, period_s=period)
    analytic = 250.0 * 1.3 + 50.0 * period / (2 * math.pi) * (1 - math.cos(2 * math.pi * 1.3 / period))
    assert analytic == pytest.approx(328.183, abs=1e-3)
    assert meter.energy_j(t0, t1, trace) == pytest.approx(analytic, rel=2e-3)
    # a constant trace whose polls fall between the edges is scaled to the window exactly
    const = Trace({"t_s": [10.02, 10.07, 10.12, 10.17], "gpu_power_w": [80.0] * 4})
    assert meter.energy_j(10.0, 10.2, const) == pytest.approx(80.0 * 0.2)
    # polls outside the window are not integrated
    spiky = Trace({"t_s": [9.0, 10.0, 10.1, 10.2, 11.0], "gpu_power_w": [1e6, 80.0, 80.0, 80.0, 1e6]})
    assert meter.energy_j(10.0, 10.2, spiky) == pytest.approx(16.0)


def test_polled_linear_ramp_trapezoid_is_exact():
    times = [0.0, 0.05, 0.1, 0.15, 0.2]
    power = [100.0 + 500.0 * t for t in times]  # 100 W → 200 W
    assert integrate_power_j(times, power) == pytest.approx(0.2 * 150.0)
    meter = NvmlPolledMeter(0, "g")
    assert meter.energy_j(0.0, 0.2, Trace({"t_s": times, "gpu_power_w": power})) == pytest.approx(30.0)


def test_polled_meter_refuses_a_thin_or_missing_trace():
    meter = NvmlPolledMeter(0, "g")
    with pytest.raises(MeterError, match="no power trace"):
        meter.energy_j(0.0, 1.0, None)
    thin = Trace({"t_s": [0.0, 0.1, 0.2], "gpu_power_w": [100.0, 100.0, 100.0]})
    with pytest.raises(MeterError, match="too little"):
        meter.energy_j(0.0, 1.0, thin)
    with pytest.raises(MeterError):
        meter.energy_j(0.0, 1.0, Trace({"t_s": [0.5], "gpu_power_w": [100.0]}))


def test_nvml_init_failure_is_unavailable_not_zero():
    meters, statuses = probe_nvml(0, nvml=FakeNvml(init_error=RuntimeError("Driver Not Loaded")))
    assert meters == []
    assert len(statuses) == 1
    assert (statuses[0].domain, statuses[0].method) == ("gpu", "unavailable")
    assert "NVML could not start" in statuses[0].detail and "Driver Not Loaded" in statuses[0].detail


def test_device_beyond_count_is_unavailable():
    nvml = FakeNvml(count=2)
    meters, statuses = probe_nvml(2, nvml=nvml)
    assert meters == []
    assert statuses[0].method == "unavailable"
    assert "GPU 2" in statuses[0].detail and "2 GPU(s)" in statuses[0].detail
    ok, _ = probe_nvml(1, nvml=nvml)
    assert len(ok) == 1 and "GPU 1" in ok[0].covers


def test_neither_energy_nor_power_is_unavailable():
    meters, statuses = probe_nvml(0, nvml=FakeNvml(counter=False, power=False))
    assert meters == []
    assert statuses[0].method == "unavailable"
    assert "neither energy nor power" in statuses[0].detail


def test_gpu_facts():
    facts = gpu_facts(0, nvml=FakeNvml())
    assert facts == {"gpu_name": "NVIDIA Fake A100", "gpu_driver": "550.54.15", "gpu_power_limit_w": "400"}
    assert gpu_facts(0, nvml=FakeNvml(init_error=RuntimeError("no driver"))) == {}


def test_discover_with_tdp_and_no_powercap_estimates_cpu(tmp_path):
    meters, statuses = discover_meters(0, cpu_tdp_w=65.0, nvml=FakeNvml(), powercap_root=tmp_path / "none")
    by_domain = {m.domain: m for m in meters}
    assert set(by_domain) == {"gpu", "cpu"}
    assert by_domain["gpu"].method == "counter"
    cpu = by_domain["cpu"]
    assert isinstance(cpu, TdpEstimateMeter)
    assert cpu.method == "estimated"
    assert cpu.tdp_w == 65.0
    assert "RAPL not used" in cpu.covers and "does not exist" in cpu.covers
    assert cpu.energy_j(1.0, 1.0 + cpu.logical_cpus) == pytest.approx(65.0)  # one CPU-second per logical CPU
    assert [(s.domain, s.method) for s in statuses] == [("dram", "unavailable")]


def test_discover_without_tdp_leaves_cpu_unavailable(tmp_path):
    meters, statuses = discover_meters(0, nvml=FakeNvml(counter=False), powercap_root=tmp_path / "none")
    assert [(m.domain, m.method) for m in meters] == [("gpu", "polled")]
    assert {s.domain: s.method for s in statuses} == {"cpu": "unavailable", "dram": "unavailable"}
    assert not any(isinstance(m, TdpEstimateMeter) for m in meters)


def test_discover_with_no_gpu_and_no_powercap(tmp_path):
    nvml = FakeNvml(init_error=RuntimeError("NVML Shared Library Not Found"))
    meters, statuses = discover_meters(0, nvml=nvml, powercap_root=tmp_path / "none")
    assert meters == []
    assert {s.domain for s in statuses} == {"gpu", "cpu", "dram"}
    assert all(s.method == "unavailable" for s in statuses)
    assert all(s.as_tags()[f"energy.{s.domain}.method"] == "unavailable" for s in statuses)


def _proc(pid, used=None):
    return SimpleNamespace(pid=pid, usedGpuMemory=used)


def test_other_gpu_processes_leave_out_our_own():
    nvml = FakeNvml()
    nvml.compute_processes = [_proc(100, 2 * 2**30), _proc(4242, 512 * 2**20)]
    nvml.graphics_processes = [_proc(101)]
    found = other_gpu_processes(nvml, ("handle", 0), own_pids={100, 101})
    assert found == {4242: 512.0}
    nvml.graphics_processes = [_proc(7)]
    assert other_gpu_processes(nvml, ("handle", 0), own_pids={100})[7] is None, "hidden memory is None, not 0"


def _sampler_trace(monkeypatch, nvml, schedule):
    """Drive the sampler's GPU reader with the NVML double; ``schedule`` gives the process list per tick."""
    from green_mlflow.worker import sampler

    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    gpu = sampler._Gpu(0, own_pids={100, 200})
    times, counts = [], []
    for tick, processes in enumerate(schedule):
        nvml.compute_processes = processes
        times.append(float(tick))
        counts.append(gpu.read()[-1])
    trace = Trace({"t_s": times, "gpu_other_processes": counts})
    return trace, {"other_processes": {str(k): v for k, v in gpu.others.items()}, "error": gpu.others_error}


def _windows(*spans):
    return [Phase(f"window{i}", a, b, 10, 10) for i, (a, b) in enumerate(spans)]


def test_contention_is_detected_in_the_window_it_happened_and_tagged(monkeypatch):
    nvml = FakeNvml()
    ours = [_proc(100, 2**30)]
    schedule = [ours, ours, ours + [_proc(999, 300 * 2**20)], ours, ours, ours]
    trace, processes = _sampler_trace(monkeypatch, nvml, schedule)
    result = summarise_contention(trace, _windows((0, 1), (2, 3), (4, 5)), processes, None)
    assert result == Contention(
        checked=True,
        reason=None,
        windows=3,
        windows_with_other_processes=1,
        other_processes={"999": 300.0},
    )
    tag = contention_tags(result)["green.gpu_contention"]
    assert tag.startswith("detected: pid 999 (300 MiB) used the GPU during 1 of 3 windows")


def test_a_quiet_gpu_is_tagged_none(monkeypatch):
    trace, processes = _sampler_trace(monkeypatch, FakeNvml(), [[_proc(100)], [_proc(200)], []])
    result = summarise_contention(trace, _windows((0, 2)), processes, None)
    assert result.checked is True and result.windows == 1
    assert result.windows_with_other_processes == 0
    assert result.other_processes == {}
    assert contention_tags(result) == {"green.gpu_contention": "none"}


def test_an_unreadable_process_list_is_not_checked_never_none(monkeypatch):
    nvml = FakeNvml()
    nvml.processes_error = NVMLError_NotSupported("Not Supported")
    trace, processes = _sampler_trace(monkeypatch, nvml, [[], [], []])
    result = summarise_contention(trace, _windows((0, 2)), processes, None)
    assert result.checked is False
    assert result.windows is None and result.windows_with_other_processes is None
    assert contention_tags(result)["green.gpu_contention"] == (
        "not checked: NVML process list unreadable: NVMLError_NotSupported: Not Supported"
    )
    no_gpu = summarise_contention(trace, _windows((0, 2)), None, "no GPU meter in this run")
    assert no_gpu == Contention(checked=False, reason="no GPU meter in this run")
    assert contention_tags(no_gpu)["green.gpu_contention"] == "not checked: no GPU meter in this run"


def test_temperatures_are_read_where_readable_and_absent_otherwise():
    assert gpu_temperature_c(0, nvml=FakeNvml()) == 61.0
    assert gpu_temperature_c(0, nvml=FakeNvml(init_error=RuntimeError("no driver"))) is None
    sensors = {"k10temp": [SimpleNamespace(label="Tctl", current=55.5), SimpleNamespace(label="Tccd1", current=49.0)]}
    assert cpu_temperature_c(sensors) == 55.5
    assert cpu_temperature_c({"acpitz": [SimpleNamespace(label="", current=30.0)]}) is None


def test_cuda_visible_devices_is_translated_to_nvml_numbering(monkeypatch):
    nvml = FakeNvml(count=4)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert device_handle(nvml, 1) == ("handle", 1)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert device_handle(nvml, 0) == ("handle", 2), "CUDA's device 0 is the physical GPU 2"
    assert device_handle(nvml, 1) == ("handle", 3)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-8f3c2d1e-aaaa-bbbb-cccc-0123456789ab")
    assert device_handle(nvml, 0) == ("uuid", b"GPU-8f3c2d1e-aaaa-bbbb-cccc-0123456789ab")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    meters, statuses = probe_nvml(1, nvml=nvml)
    assert meters == [] and "CUDA_VISIBLE_DEVICES=3 makes 1 visible" in statuses[0].detail
