"""The idle worker: a 10-minute baseline on a RAPL host reads its counters often enough to see every wrap."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

from green_mlflow.contract import IdleSpec
from green_mlflow.meters import discover
from green_mlflow.worker import idle
from tests.helpers.fakes import DRAM_MAX_RANGE_UJ, MAX_RANGE_UJ, FakeNvml, make_tree, set_energy

PACKAGE_W, DRAM_W = 100.0, 12.0


def test_a_600_s_idle_on_rapl_is_read_in_pieces_and_its_power_survives_a_wrap(tmp_path: Path, monkeypatch):
    """One 600 s span is longer than RAPL's shortest wrap period (~262 s) and would be refused (unavailable)."""
    tree = make_tree(tmp_path / "powercap")
    package, dram = tree / "intel-rapl:0", tree / "intel-rapl:0" / "intel-rapl:0:1"
    energy = {"package": MAX_RANGE_UJ - 10_000_000_000, "dram": 0}  # the package counter wraps after 100 s
    set_energy(package, energy["package"])
    set_energy(dram, energy["dram"])
    clock = {"now": 1000.0}

    def sleep(seconds: float) -> None:  # time passes, the counters advance (and wrap) as at 100 W and 12 W
        clock["now"] += seconds
        energy["package"] = (energy["package"] + int(PACKAGE_W * seconds * 1e6)) % MAX_RANGE_UJ
        energy["dram"] = (energy["dram"] + int(DRAM_W * seconds * 1e6)) % DRAM_MAX_RANGE_UJ
        set_energy(package, energy["package"])
        set_energy(dram, energy["dram"])

    fake_time = SimpleNamespace(monotonic=lambda: clock["now"], perf_counter_ns=time.perf_counter_ns)
    monkeypatch.setattr("green_mlflow.meters.rapl.time", fake_time)
    monkeypatch.setattr("green_mlflow.worker.protocol.time", fake_time)
    no_gpu = FakeNvml(init_error=RuntimeError("no driver"))
    monkeypatch.setattr(
        idle, "discover_meters", lambda **kw: discover.discover_meters(**kw, nvml=no_gpu, powercap_root=tree)
    )
    result = idle.measure_idle(IdleSpec(duration_s=600.0, output_dir=str(tmp_path / "out")), sleep=sleep)
    assert result.ok and result.duration_s == 600.0
    cpu, dram_power = result.domains["cpu"], result.domains["dram"]
    assert cpu.method == "counter" and abs(cpu.power_w - PACKAGE_W) < 1e-6, cpu
    assert dram_power.method == "counter" and abs(dram_power.power_w - DRAM_W) < 1e-6, dram_power
    assert result.domains["gpu"].method == "unavailable" and result.domains["gpu"].power_w is None
