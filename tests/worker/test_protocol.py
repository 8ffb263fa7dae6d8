"""The measurement protocol and its summary, with a fake session and fake meters."""

from __future__ import annotations

import time

import pytest

from green_mlflow.contract import DomainEnergy, MeasureSettings
from green_mlflow.meters.base import EnergyMeter, MeterError, MeterStatus, Trace
from green_mlflow.worker.protocol import Phase, run_protocol
from green_mlflow.worker.summary import summarise_energy, summarise_utilisation


class FakeSession:
    """Sleeps ~1 ms per run; records the order of runs and syncs."""

    batch_size = 4

    def __init__(self, run_s: float = 0.001):
        self.run_s = run_s
        self.events: list[str] = []

    def run(self) -> None:
        time.sleep(self.run_s)
        self.events.append("run")

    def sync(self) -> None:
        self.events.append("sync")

    @property
    def runs(self) -> int:
        return self.events.count("run")

    @property
    def syncs(self) -> int:
        return self.events.count("sync")


class FakeMeter(EnergyMeter):
    """A counter that gains 1 J per mark; raises on the mark calls listed in ``fail_on`` (0-based)."""

    domain = "gpu"
    method = "counter"
    covers = "a fake GPU counter"

    def __init__(self, fail_on=(), error: Exception | None = None):
        self.calls = 0
        self.fail_on = set(fail_on)
        self.error = error or MeterError("driver hiccup")

    def mark(self) -> float:
        call = self.calls
        self.calls += 1
        if call in self.fail_on:
            raise self.error
        return float(call)

    def energy_j(self, start, end, trace=None) -> float:
        return 10.0 * (end - start)


def measure(**overrides) -> MeasureSettings:
    base = {
        "warmup_min_iterations": 3,
        "warmup_min_s": 0.0,
        "windows": 3,
        "window_min_iterations": 3,
        "window_min_s": 0.0,
        "window_rest_s": 0.0,
    }
    return MeasureSettings(**{**base, **overrides})


def test_warmup_respects_min_iterations_when_seconds_are_short():
    session = FakeSession()
    warmup, windows = run_protocol(session, [], measure(warmup_min_iterations=40, warmup_min_s=0.005, windows=1))
    assert warmup.name == "warmup"
    assert warmup.iterations == 40  # 40 runs of ~1 ms outlast 5 ms: it stops as soon as both are met
    assert warmup.latencies_ns == []  # warm-up latencies are not recorded
    assert warmup.samples == warmup.iterations * FakeSession.batch_size


def test_warmup_respects_min_seconds_when_iterations_are_few():
    session = FakeSession()
    warmup, _ = run_protocol(session, [], measure(warmup_min_iterations=2, warmup_min_s=0.08, windows=1))
    assert warmup.duration_s >= 0.08
    assert warmup.iterations > 2  # ~1 ms each: far more than 2 needed to fill 80 ms


@pytest.mark.parametrize(("min_iterations", "min_s"), [(60, 0.002), (2, 0.06)])
def test_each_window_respects_both_minimums(min_iterations, min_s):
    session = FakeSession()
    progress: list[str] = []
    warmup, windows = run_protocol(
        session, [], measure(windows=3, window_min_iterations=min_iterations, window_min_s=min_s), progress.append
    )
    assert [w.name for w in windows] == ["window0", "window1", "window2"]
    for window in windows:
        assert window.iterations >= min_iterations
        assert window.duration_s >= min_s
        if min_iterations * 0.001 > min_s:
            assert window.iterations == min_iterations
        else:
            assert window.iterations > min_iterations
        assert len(window.latencies_ns) == window.iterations
        assert all(lat >= 0.5e6 for lat in window.latencies_ns)  # each run sleeps ~1 ms
        assert window.samples == window.iterations * 4
    assert session.runs == warmup.iterations + sum(w.iterations for w in windows)
    assert len(progress) == 1 + 3


def test_sync_after_every_run_and_before_each_phase():
    session = FakeSession()
    warmup, windows = run_protocol(session, [], measure(windows=2))
    events = session.events
    assert events[0] == "sync"
    for i, event in enumerate(events):
        if event == "run":
            assert events[i + 1] == "sync", f"run #{i} was not followed by a sync"
    phases = 1 + len(windows)
    assert session.syncs == session.runs + phases


def test_windows_do_not_overlap_and_rest_is_applied():
    session = FakeSession()
    _, windows = run_protocol(session, [], measure(windows=2, window_rest_s=0.05))
    assert windows[0].end_s <= windows[1].start_s
    assert windows[1].start_s - windows[0].end_s >= 0.05


def test_meter_marks_only_at_window_edges():
    meter = FakeMeter()
    warmup, windows = run_protocol(FakeSession(), [meter], measure(windows=3))
    assert meter.calls == 2 * (1 + 3)
    assert warmup.marks == [(0.0, 1.0)]
    assert [w.marks for w in windows] == [[(2.0, 3.0)], [(4.0, 5.0)], [(6.0, 7.0)]]
    assert all(w.mark_errors == [None] for w in windows)


def test_one_failed_edge_drops_only_that_window():
    meter = FakeMeter(fail_on={5})  # marks: warm-up 0,1; window0 2,3; window1 4,5 (fails); window2 6,7
    warmup, windows = run_protocol(FakeSession(), [meter], measure(windows=3))
    assert windows[1].mark_errors == ["driver hiccup"]
    energy = summarise_energy([meter], [], warmup, windows, Trace())
    gpu = energy["gpu"]
    assert gpu.method == "counter"
    assert gpu.window_energy_j == [10.0, None, 10.0]
    assert gpu.energy_j == pytest.approx(20.0)
    assert gpu.errors == ["window1: driver hiccup"]
    good = [windows[0], windows[2]]
    assert gpu.samples == sum(w.samples for w in good)
    assert gpu.duration_s == pytest.approx(sum(w.duration_s for w in good))
    assert gpu.per_sample_j == pytest.approx(20.0 / gpu.samples)
    assert gpu.mean_power_w == pytest.approx(20.0 / gpu.duration_s)
    assert gpu.warmup_energy_j == pytest.approx(10.0)


def test_non_meter_exception_is_recorded_with_its_type():
    meter = FakeMeter(fail_on={2}, error=OSError("device lost"))
    warmup, windows = run_protocol(FakeSession(), [meter], measure(windows=2))
    energy = summarise_energy([meter], [], warmup, windows, Trace())
    assert energy["gpu"].window_energy_j == [None, 10.0]
    assert energy["gpu"].errors == ["window0: OSError: device lost"]


def test_all_windows_failed_is_unavailable_never_zero():
    meter = FakeMeter(fail_on={2, 5, 6})
    warmup, windows = run_protocol(FakeSession(), [meter], measure(windows=3))
    gpu = summarise_energy([meter], [], warmup, windows, Trace())["gpu"]
    assert gpu.method == "unavailable"
    assert gpu.window_energy_j == [None, None, None]
    assert gpu.energy_j is None and gpu.per_sample_j is None and gpu.mean_power_w is None
    assert gpu.samples is None and gpu.duration_s is None
    assert "no window could be read" in gpu.detail
    assert len(gpu.errors) == 3


def test_energy_j_error_is_listed():
    class Backwards(FakeMeter):
        def energy_j(self, start, end, trace=None):
            if start == 4.0:
                raise MeterError("went backwards")
            return 1.0

    meter = Backwards()
    warmup, windows = run_protocol(FakeSession(), [meter], measure(windows=3))
    gpu = summarise_energy([meter], [], warmup, windows, Trace())["gpu"]
    assert gpu.window_energy_j == [1.0, None, 1.0]
    assert gpu.errors == ["window1: went backwards"]
    assert gpu.energy_j == 2.0


def phase(name: str, start_s: float, end_s: float) -> Phase:
    return Phase(name=name, start_s=start_s, end_s=end_s, iterations=1, samples=1)


def test_summarise_utilisation_only_uses_samples_inside_windows():
    trace = Trace(
        {
            "t_s": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "process_cpu_percent": [999.0, 10.0, 20.0, 999.0, 30.0, 40.0, 999.0],
            "process_rss_mb": [5000.0, 100.0, 120.0, 4000.0, 110.0, 90.0, 6000.0],
            "gpu_power_w": [None, 50.0, None, 500.0, 70.0, None, 1.0],
        }
    )
    windows = [phase("window0", 0.5, 2.5), phase("window1", 3.5, 5.5)]
    util = summarise_utilisation(trace, windows)
    assert util["cpu_util_process_percent"] == pytest.approx(25.0)
    assert util["process_rss_peak_mb"] == 120.0
    assert util["gpu_power_mean_w"] == pytest.approx(60.0)  # None polls are dropped
    assert "system_cpu_percent" not in util and "cpu_util_system_percent" not in util
    assert "gpu_util_percent" not in util


def test_summarise_energy_keeps_unavailable_statuses():
    energy = summarise_energy([], [MeterStatus("cpu", "unavailable", "no RAPL")], phase("warmup", 0, 1), [], Trace())
    assert energy == {"cpu": DomainEnergy(method="unavailable", detail="no RAPL")}
    cpu = energy["cpu"]
    assert cpu.window_energy_j == [] and cpu.errors == [] and cpu.energy_j is None
