"""benchmarks/gpu_validation.py stays runnable between GPU sessions: its CPU smoke mode, and its cross-check."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

from green_mlflow.contract import DomainEnergy, LatencySummary, Traces, WindowSummary, WorkerResult
from green_mlflow.launch import worker_env
from green_mlflow.worker.sampler import COLUMNS
from tests.helpers.project import ROOT, require_env

SCRIPT = ROOT / "benchmarks" / "gpu_validation.py"


def _load():
    spec = importlib.util.spec_from_file_location("gpu_validation", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result_with_trace(tmp_path: Path, power_w: float, counter_j: list[float]) -> WorkerResult:
    path = tmp_path / "utilisation.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS, restval="")  # by name: the sampler's columns may grow
        writer.writeheader()
        for i in range(201):  # 10 s at 50 ms, constant power
            writer.writerow({"t_s": f"{100.0 + i * 0.05:.3f}", "gpu_power_w": f"{power_w}"})
    windows = [WindowSummary(10, 10, 5.0, 100.0, 105.0, 1.0, 0.0), WindowSummary(10, 10, 5.0, 105.0, 110.0, 1.0, 0.0)]
    return WorkerResult(
        energy={"gpu": DomainEnergy("counter", "board", window_energy_j=counter_j)},
        windows=windows,
        traces=Traces(utilisation=str(path), latency=""),
    )


def test_cross_check_compares_counter_and_polled_energy_per_window(tmp_path: Path):
    gv = _load()
    checks = gv.cross_check(_result_with_trace(tmp_path, 300.0, [1500.0, 1560.0]))
    assert [round(c["polled_j"], 6) for c in checks] == [1500.0, 1500.0]
    assert checks[0]["ratio"] == pytest.approx(1.0) and checks[1]["ratio"] == pytest.approx(1500 / 1560)
    result = WorkerResult(latency=LatencySummary(1, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0), throughput_samples_per_s=1.0)
    assert gv.summarise(result, None, checks)["agreement"] == "FAIL", "a 3.8% disagreement fails the 2% bar"
    assert gv.summarise(result, None, checks[:1])["agreement"] == "PASS"
    assert gv.summarise(result, None, [])["agreement"] == "no counter to check"


@pytest.mark.slow
def test_cpu_smoke_run_writes_the_report(tmp_path: Path):
    python = require_env("torch")
    argv = [python, str(SCRIPT), "--out", str(tmp_path), "--provider", "cpu", "--tiny"]
    argv += ["--models", "bert_base", "--batch-sizes", "1", "--modes", "eager,cuda_graph"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=worker_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_validation.json").read_text())
    assert [j["mode"] for j in report["jobs"]] == ["eager"], "cuda_graph is skipped without CUDA"
    job = report["jobs"][0]
    assert job["status"] == "ok" and job["latency_p50_ms"] > 0 and job["agreement"] == "no counter to check"
    assert job["gpu_j_per_sample_gross"] is None, "no GPU: no number, never 0"
    assert "| bert_base | 1 | eager |" in (tmp_path / "gpu_validation.md").read_text()


def test_gpu_validation_measures_the_study_models_at_the_sizes_a_sweep_composes():
    # the first GPU run failed every bert_base job: the script's own copy of the sizes lacked vocab_size
    import yaml

    models = _load().MODELS
    for name in ("resnet50", "mobilenet_v2", "bert_base"):
        config = yaml.safe_load((ROOT / "conf" / "model" / f"{name}.yaml").read_text())
        assert models[name] == {k: v for k, v in config.items() if k != "parity_tol"}
    assert models["bert_base"]["vocab_size"] == 30522 and models["bert_base"]["seq_len"] == 128
