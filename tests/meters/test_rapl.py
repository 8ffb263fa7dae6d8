"""RAPL meters against a fake powercap tree laid out like /sys/class/powercap."""

from __future__ import annotations

import pathlib

import pytest

from green_mlflow.meters.base import MeterError
from green_mlflow.meters.rapl import (
    MAX_PLAUSIBLE_POWER_W,
    RaplMeter,
    delta_uj,
    find_zones,
    probe_rapl,
)
from tests.helpers.fakes import DRAM_MAX_RANGE_UJ, MAX_RANGE_UJ, make_tree, set_energy, write_zone


def test_find_zones_packages_and_dram_core_not_counted(tmp_path):
    root = make_tree(tmp_path / "powercap")
    packages, drams = find_zones(root)
    assert [z.name for z in packages] == ["package-0"]
    assert [z.name for z in drams] == ["dram"]
    assert packages[0].path == root / "intel-rapl:0"
    assert drams[0].path == root / "intel-rapl:0" / "intel-rapl:0:1"
    assert packages[0].max_range_uj == MAX_RANGE_UJ
    assert drams[0].max_range_uj == DRAM_MAX_RANGE_UJ
    assert all(z.name != "core" for z in packages + drams)


def test_probe_rapl_gives_cpu_and_dram_meters(tmp_path):
    root = make_tree(tmp_path / "powercap")
    meters, statuses = probe_rapl(root)
    assert statuses == []
    by_domain = {m.domain: m for m in meters}
    assert set(by_domain) == {"cpu", "dram"}
    assert [z.name for z in by_domain["cpu"].zones] == ["package-0"]
    assert [z.name for z in by_domain["dram"].zones] == ["dram"]
    assert all(m.method == "counter" for m in meters)
    assert "package-0" in by_domain["cpu"].covers and "core" not in by_domain["cpu"].covers


def test_energy_between_two_marks(tmp_path):
    root = make_tree(tmp_path / "powercap")
    meters, _ = probe_rapl(root)
    cpu = next(m for m in meters if m.domain == "cpu")
    dram = next(m for m in meters if m.domain == "dram")
    start_cpu, start_dram = cpu.mark(), dram.mark()
    assert start_cpu[1] == [1_000_000]
    set_energy(root / "intel-rapl:0", 1_000_000 + 12_345_678)
    set_energy(root / "intel-rapl:0" / "intel-rapl:0:1", 200_000 + 2_500_000)
    set_energy(root / "intel-rapl:0" / "intel-rapl:0:0", 9_999_999)  # core moves too: must not matter
    end_cpu, end_dram = cpu.mark(), dram.mark()
    assert cpu.energy_j(start_cpu, end_cpu) == pytest.approx(12.345678, abs=1e-12)
    assert dram.energy_j(start_dram, end_dram) == pytest.approx(2.5, abs=1e-12)


def test_wrap_is_corrected_with_max_energy_range_exactly(tmp_path):
    root = make_tree(tmp_path / "powercap")
    set_energy(root / "intel-rapl:0", MAX_RANGE_UJ - 1_000)
    meters, _ = probe_rapl(root)
    cpu = next(m for m in meters if m.domain == "cpu")
    start = cpu.mark()
    set_energy(root / "intel-rapl:0", 4_000)  # wrapped: end < start
    end = cpu.mark()
    assert end[1][0] < start[1][0]
    assert delta_uj(MAX_RANGE_UJ - 1_000, 4_000, MAX_RANGE_UJ) == 5_000
    assert cpu.energy_j(start, end) == pytest.approx(5_000 / 1e6, abs=1e-15)
    # no wrap: plain difference, max range unused
    assert delta_uj(10, 30, MAX_RANGE_UJ) == 20
    assert delta_uj(7, 7, MAX_RANGE_UJ) == 0


def test_two_packages_are_summed(tmp_path):
    root = make_tree(tmp_path / "powercap", packages=2)
    meters, statuses = probe_rapl(root)
    assert statuses == []
    cpu = next(m for m in meters if m.domain == "cpu")
    dram = next(m for m in meters if m.domain == "dram")
    assert [z.name for z in cpu.zones] == ["package-0", "package-1"]
    assert len(dram.zones) == 2
    start, dstart = cpu.mark(), dram.mark()
    assert start[1] == [1_000_000, 2_000_000]
    set_energy(root / "intel-rapl:0", 1_000_000 + 3_000_000)
    set_energy(root / "intel-rapl:1", 1_000)  # package 1 wrapped
    set_energy(root / "intel-rapl:0" / "intel-rapl:0:1", 200_000 + 100_000)
    set_energy(root / "intel-rapl:1" / "intel-rapl:1:1", 400_000 + 300_000)
    end, dend = cpu.mark(), dram.mark()
    expected_uj = 3_000_000 + (1_000 + MAX_RANGE_UJ - 2_000_000)
    assert cpu.energy_j(start, end) == pytest.approx(expected_uj / 1e6, abs=1e-9)
    assert dram.energy_j(dstart, dend) == pytest.approx(0.4, abs=1e-12)


def test_permission_denied_reports_unavailable_with_hint(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "powercap")
    denied = root / "intel-rapl:0" / "energy_uj"
    real_read_text = pathlib.Path.read_text

    def read_text(self, *args, **kwargs):
        if self == denied:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "read_text", read_text)
    meters, statuses = probe_rapl(root)
    cpu = [s for s in statuses if s.domain == "cpu"]
    assert len(cpu) == 1
    assert cpu[0].method == "unavailable"
    assert "permission denied" in cpu[0].detail
    assert "CVE-2020-8694" in cpu[0].detail
    assert "root" in cpu[0].detail
    assert str(denied) in cpu[0].detail
    # the DRAM file is readable, so DRAM still gets a meter
    assert [m.domain for m in meters] == ["dram"]


def test_unreadable_counter_mid_run_raises_meter_error(tmp_path):
    root = make_tree(tmp_path / "powercap")
    meters, _ = probe_rapl(root)
    cpu = next(m for m in meters if m.domain == "cpu")
    (root / "intel-rapl:0" / "energy_uj").write_text("garbage\n")
    with pytest.raises(MeterError, match="cannot read"):
        cpu.mark()


def test_missing_root_is_unavailable(tmp_path):
    meters, statuses = probe_rapl(tmp_path / "does-not-exist")
    assert meters == []
    assert {s.domain: s.method for s in statuses} == {"cpu": "unavailable", "dram": "unavailable"}
    assert all("does not exist" in s.detail for s in statuses)
    assert find_zones(tmp_path / "does-not-exist") == ([], [])


def test_root_without_dram_zone(tmp_path):
    root = tmp_path / "powercap"
    write_zone(root / "intel-rapl:0", "package-0", 10, MAX_RANGE_UJ)
    meters, statuses = probe_rapl(root)
    assert [m.domain for m in meters] == ["cpu"]
    assert [(s.domain, s.method) for s in statuses] == [("dram", "unavailable")]


def test_window_longer_than_shortest_wrap_period_is_refused(tmp_path):
    root = make_tree(tmp_path / "powercap")
    meters, _ = probe_rapl(root)
    cpu = next(m for m in meters if m.domain == "cpu")
    shortest_wrap_s = MAX_RANGE_UJ / 1e6 / MAX_PLAUSIBLE_POWER_W  # ~262 s
    ok = cpu.energy_j((0.0, [100]), (shortest_wrap_s - 1.0, [300]))
    assert ok == pytest.approx(200 / 1e6)
    with pytest.raises(MeterError, match="shortest wrap"):
        cpu.energy_j((0.0, [100]), (shortest_wrap_s + 1.0, [300]))
    # the DRAM zone has a smaller range, so a shorter window is already too long
    dram = next(m for m in meters if m.domain == "dram")
    dram_wrap_s = DRAM_MAX_RANGE_UJ / 1e6 / MAX_PLAUSIBLE_POWER_W
    with pytest.raises(MeterError):
        dram.energy_j((0.0, [0]), (dram_wrap_s + 1.0, [1]))


def test_rapl_meter_needs_a_zone():
    with pytest.raises(ValueError):
        RaplMeter("cpu", [])


def test_psys_zone_is_not_added_to_the_package(tmp_path):
    root = make_tree(tmp_path / "powercap")
    write_zone(root / "intel-rapl:1", "psys", 50_000_000, MAX_RANGE_UJ)  # client CPUs: platform, includes package
    packages, _ = find_zones(root)
    assert [z.name for z in packages] == ["package-0"]
