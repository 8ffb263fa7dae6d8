"""Idle baseline (measured for real on this host, in its own process) and the break-even of a conversion."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from green_mlflow.contract import IdleResult, MeasureSettings
from green_mlflow.sweep.break_even import break_even_for_sweep, break_even_inferences
from green_mlflow.sweep.idle import describe, idle_baseline, idle_path, idle_values

MEASURE = MeasureSettings(idle_s=0.6, cpu_tdp_w=65.0, sample_interval_s=0.05)


def test_idle_is_measured_once_per_host_and_reused(tmp_path: Path):
    said = []
    first = idle_baseline(tmp_path, MEASURE, 0, said.append)
    assert first.ok, first
    assert first.duration_s >= 0.6
    cpu = first.domains["cpu"]
    assert cpu.method == "estimated" and cpu.power_w >= 0 and "TDP 65 W" in cpu.detail
    gpu = first.domains["gpu"]
    assert gpu.method == "unavailable" and gpu.power_w is None, "no GPU here: unavailable, not 0 W"
    assert idle_path(tmp_path, 0).exists()
    assert len(said) >= 1 and "measuring idle power" in said[0]

    said.clear()
    again = idle_baseline(tmp_path, MEASURE, 0, said.append)
    assert again.measured_at == first.measured_at and said == [], "the sweep's idle is reused, not remeasured"
    metrics, tags = idle_values(again)
    assert metrics["idle_cpu_power_estimated_w"] == cpu.power_w and "idle_cpu_power_w" not in metrics
    assert tags["idle.gpu.method"] == "unavailable" and "cpu" in describe(again)


def test_no_idle_asked_for_means_none(tmp_path: Path):
    assert idle_baseline(tmp_path, replace(MEASURE, idle_s=0), 0, print) is None
    assert not (tmp_path / "idle").exists()


def test_a_failed_idle_measurement_is_kept_with_its_reason(tmp_path: Path):
    path = idle_path(tmp_path, 0)
    path.parent.mkdir(parents=True)
    IdleResult.failed("sampler did not start").write(path)
    idle = idle_baseline(tmp_path, MEASURE, 0, print)
    assert describe(idle) == "idle baseline failed: sampler did not start"
    assert idle_values(idle) == ({}, {"idle.host": "", "idle.status": "failed", "idle.error": "sampler did not start"})


def test_an_idle_file_of_another_schema_version_is_measured_again(tmp_path: Path):
    path = idle_path(tmp_path, 0)
    path.parent.mkdir(parents=True)
    path.write_text('{"status": "ok", "duration_s": 600, "domains": {}}')  # written before the typed contract
    said = []
    idle = idle_baseline(tmp_path, MEASURE, 0, said.append)
    assert idle.ok and idle.duration_s < 60 and "cpu" in idle.domains, "measured now, not read from the old file"
    assert "unreadable" in said[0] and "schema version None" in said[0]
    assert IdleResult.read(path).measured_at == idle.measured_at


def test_break_even_arithmetic():
    assert break_even_inferences(120.0, onnx_per_sample_j=0.2, source_per_sample_j=0.5) == pytest.approx(400.0)
    assert break_even_inferences(120.0, 0.5, 0.5) is None
    assert break_even_inferences(120.0, 0.6, 0.5) is None, "never repaid when onnx costs more per sample"


def _row(run_id, runtime, gross, mode=None, source=None, conversion=None, provider="cuda", status="FINISHED"):
    default = {"torch": "eager", "tf": "function", "onnx": "ort_all"}[runtime]
    return {
        "run_id": run_id,
        "status": status,
        "runtime": runtime,
        "source": source,
        "model": "resnet50",
        "batch_size": 1,
        "provider": provider,
        "mode": mode or default,
        "energy_per_sample_gross_j": gross,
        "conversion_energy_j": conversion,
    }


def test_break_even_uses_the_source_frameworks_default_mode_runs_of_the_same_workload():
    rows = [
        _row("t1", "torch", 0.50),
        _row("t2", "torch", 0.70),  # mean 0.60
        _row("t3", "torch", 0.05, mode="cuda_graph"),  # another mode: not the baseline
        _row("t4", "torch", 9.0, provider="cpu"),  # another provider
        _row("t5", "torch", 9.0, status="FAILED"),
        _row("x1", "tf", 0.30),
        _row("o1", "onnx", 0.40, source="torch", conversion=100.0),
        _row("o2", "onnx", 0.80, source="torch", conversion=100.0),
        _row("o3", "onnx", 0.40, source="tf", conversion=None),
        _row("o4", "onnx", 0.40, source="mxnet", conversion=50.0),
    ]
    out = break_even_for_sweep(rows)
    assert out["o1"][0] == {"break_even_inferences": pytest.approx(100.0 / (0.60 - 0.40))}
    assert "mean of 2 runs" in out["o1"][1]["break_even"]
    assert out["o2"][0] == {} and out["o2"][1]["break_even"].startswith("never")
    assert out["o3"][1]["break_even"] == "not computed: the conversion's energy was not measured (no counter)"
    assert out["o4"][1]["break_even"].startswith("not computed: no finished mxnet run")
    assert set(out) == {"o1", "o2", "o3", "o4"}, "only onnx runs get a break-even"
