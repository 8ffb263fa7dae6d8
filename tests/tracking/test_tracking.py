"""MLflow side: store resolution, parent/child runs in a real SQLite store, metric names and methods."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from green_mlflow.contract import ConversionReport, DomainEnergy, IdlePower, IdleResult, WorkerResult
from green_mlflow.redaction import redact_uri
from green_mlflow.sweep.ledger import read_ledger, record, table
from green_mlflow.tracking import runs
from green_mlflow.tracking.metrics import energy_metrics, flatten_params
from green_mlflow.tracking.store import absolute_uri, mlflow_command, open_store
from green_mlflow.tracking.ui import ui_url


def test_relative_sqlite_uri_is_made_absolute(tmp_path):
    assert absolute_uri("sqlite:///mlflow.db", tmp_path) == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert absolute_uri("sqlite:////abs/x.db", tmp_path) == "sqlite:////abs/x.db"
    assert absolute_uri("http://host:5000", tmp_path) == "http://host:5000"


def test_environment_variables_are_honoured_and_the_default_is_absolute(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    store = open_store(None, None, cwd=tmp_path)
    assert store.uri == f"sqlite:///{tmp_path / 'mlflow.db'}" and store.experiment_name == "green_mlflow"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/deep/er/other.db")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "study")
    store = open_store(None, None, cwd=tmp_path)
    assert store.uri.endswith("deep/er/other.db") and store.experiment_name == "study"
    assert (tmp_path / "deep" / "er" / "other.db").exists()


def test_credentials_are_redacted_from_messages():
    assert redact_uri("postgresql://alice:s3cret@db:5432/mlflow") == "postgresql://***@db:5432/mlflow"


def test_children_hang_under_the_parent_in_a_real_sqlite_store(sqlite_uri):
    store = open_store(sqlite_uri, "parenting")
    parent = runs.start_parent(store, "sweep", {"green.overrides": "runtime=torch,onnx"})
    children = [
        runs.start_child(
            store, parent, f"job {i}", {"runtime": name, "batch_size": "1"}, {"green.config_hash": f"h{i}"}
        )
        for i, name in enumerate(("torch", "onnx"))
    ]
    runs.log_values(store, children[0], {"latency_p50_ms": 12.5}, {"energy.cpu.method": "estimated"})
    runs.finish(store, children[0], "FINISHED")
    runs.finish(store, children[1], "FAILED")
    runs.finish(store, parent, "FAILED")

    client = MlflowClient(sqlite_uri)
    found = client.search_runs(
        [store.experiment_id], f"tags.mlflow.parentRunId = '{parent}'", order_by=["attributes.start_time"]
    )
    assert [r.info.run_id for r in found] == children
    assert [r.info.status for r in found] == ["FINISHED", "FAILED"]
    assert found[0].data.params == {"runtime": "torch", "batch_size": "1"}
    assert found[0].data.metrics["latency_p50_ms"] == 12.5
    assert client.get_run(parent).info.status == "FAILED"


def test_flattened_params_use_group_names_for_the_chosen_option():
    params = flatten_params({"runtime": {"name": "onnx", "source": "torch", "python": None}, "batch_size": 64})
    assert params == {"runtime": "onnx", "runtime.source": "torch", "runtime.python": "null", "batch_size": "64"}


def _entry(method, energy_j, samples=100, duration_s=2.0, detail="d"):
    return DomainEnergy(method=method, detail=detail, energy_j=energy_j, samples=samples, duration_s=duration_s)


def _idle(**domains):
    return IdleResult(
        duration_s=10.0,
        host_name="h1",
        domains={d: IdlePower(method=m, detail="idle", power_w=w) for d, (m, w) in domains.items()},
    )


def test_estimates_never_share_a_name_with_measurements():
    energy = {
        "gpu": _entry("counter", 10.0),
        "cpu": _entry("estimated", 5.0),
        "dram": DomainEnergy(method="unavailable", detail="no RAPL"),
    }
    metrics, tags = energy_metrics(energy)
    assert metrics["gpu_energy_gross_j"] == 10.0 and "cpu_energy_gross_j" not in metrics
    assert metrics["cpu_energy_gross_estimated_j"] == 5.0
    assert metrics["gpu_power_mean_w"] == 5.0
    assert not any(k.startswith("dram_") for k in metrics), "an unavailable reading is not a 0"
    assert metrics["energy_per_sample_gross_j"] == 0.1, "measured total covers measured domains only"
    assert abs(metrics["energy_per_sample_gross_estimated_j"] - 0.15) < 1e-12
    assert tags["energy.total_gross.covers"] == "gpu" and tags["energy.dram.method"] == "unavailable"
    assert tags["energy.total_gross_estimated.covers"] == "gpu+cpu(estimated)"


def test_net_energy_is_gross_minus_idle_power_times_measured_seconds():
    energy = {"gpu": _entry("counter", 500.0, samples=1000, duration_s=4.0), "cpu": _entry("estimated", 30.0)}
    idle = _idle(gpu=("counter", 60.0), cpu=("estimated", 0.5))
    metrics, tags = energy_metrics(energy, idle)
    assert metrics["gpu_idle_power_w"] == 60.0
    assert metrics["gpu_energy_net_j"] == 500.0 - 60.0 * 4.0
    assert metrics["gpu_energy_per_sample_net_j"] == (500.0 - 240.0) / 1000
    assert metrics["energy_per_sample_net_j"] == metrics["gpu_energy_per_sample_net_j"]
    assert metrics["cpu_energy_net_estimated_j"] == 30.0 - 0.5 * 2.0
    assert metrics["cpu_idle_power_estimated_w"] == 0.5
    assert abs(metrics["energy_per_sample_net_estimated_j"] - (0.26 + 29.0 / 100)) < 1e-12
    assert metrics["energy_per_sample_gross_j"] == 0.5, "gross is kept beside net"
    assert "60.000 W over 10.0 s on h1" in tags["energy.gpu.idle"]


def test_no_net_energy_without_a_matching_idle_reading():
    energy = {"gpu": _entry("counter", 500.0), "cpu": _entry("estimated", 30.0), "dram": _entry("counter", 7.0)}
    idle = _idle(gpu=("polled", 60.0))  # another method, cpu and dram not metered while idle
    idle.domains["dram"] = IdlePower(method="unavailable", detail="RAPL dram: permission denied")
    metrics, tags = energy_metrics(energy, idle)
    assert not any("_net" in k or "idle" in k for k in metrics), metrics
    assert "idle was metered by polled, this run by counter" in tags["energy.gpu.idle"]
    assert "not metered while idle" in tags["energy.cpu.idle"]
    assert "permission denied" in tags["energy.dram.idle"]
    metrics, tags = energy_metrics(energy, None)
    assert "energy_per_sample_net_j" not in metrics and "measure.idle_s=0" in tags["energy.gpu.idle"]
    metrics, tags = energy_metrics(energy, IdleResult.failed("sampler died"))
    assert "energy_per_sample_net_j" not in metrics and "sampler died" in tags["energy.gpu.idle"]


def test_no_measured_domain_means_no_energy_per_sample_metric():
    metrics, _ = energy_metrics({"cpu": DomainEnergy(method="unavailable", detail="VM")})
    assert metrics == {}


def test_ledger_and_summary_show_failures_and_pruned_jobs_with_reasons(tmp_path: Path):
    record(
        tmp_path,
        {
            "job": "torch",
            "status": "FINISHED",
            "latency_p50_ms": 3.25,
            "throughput_samples_per_s": 300.0,
            "energy_per_sample_gross_j": None,
            "energy_per_sample_gross_estimated_j": 0.5,
        },
    )
    record(
        tmp_path, {"job": "bad", "status": "PRUNED", "reason": "provider=tensorrt is not available with runtime=torch"}
    )
    rows = read_ledger(tmp_path)
    text = table(rows)
    assert len(rows) == 2
    assert "3.25 ms" in text and "0.5 J (gross, estimated)" in text
    assert "bad: provider=tensorrt is not available with runtime=torch" in text


def test_conversion_metrics_carry_parity_time_and_only_measured_energy():
    from green_mlflow.tracking.metrics import conversion_metrics

    report = ConversionReport(
        parity={
            "passed": True,
            "tol": 1e-4,
            "outputs": {"logits": {"passed": True, "max_rel_err": 2e-7, "max_abs_err": 1e-9}},
        },
        export_s=1.5,
        export_energy_j={"gpu": 12.0},
        export_energy_unavailable={"cpu": "no powercap"},
        exporter="tf2onnx",
    )
    metrics, tags = conversion_metrics(report)
    assert metrics["onnx_parity_max_rel_err"] == 2e-7 and metrics["conversion_export_s"] == 1.5
    assert metrics["conversion_export_gpu_energy_j"] == 12.0 and "conversion_export_cpu_energy_j" not in metrics
    assert tags["onnx.export_energy"] == "cpu: unavailable (no powercap)" and tags["onnx.parity"] == "passed"


def test_the_experiment_opens_on_its_runs_table_and_a_kind_the_user_chose_is_kept(sqlite_uri):
    store = open_store(sqlite_uri, "kinds")
    client = MlflowClient(sqlite_uri)
    assert client.get_experiment(store.experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"
    client.create_experiment("theirs", tags={"mlflow.experimentKind": "genai_development"})
    client.create_experiment("untagged")
    assert client.get_experiment_by_name("theirs").tags["mlflow.experimentKind"] == "genai_development"
    open_store(sqlite_uri, "theirs"), open_store(sqlite_uri, "untagged")
    assert client.get_experiment_by_name("theirs").tags["mlflow.experimentKind"] == "genai_development"
    assert client.get_experiment_by_name("untagged").tags["mlflow.experimentKind"] == "custom_model_development"


def test_the_trace_uses_mlflows_system_metric_names_with_wall_clock_timestamps(sqlite_uri):
    store = open_store(sqlite_uri, "system metrics")
    run_id = runs.start_child(store, runs.start_parent(store, "sweep", {}), "job", {}, {})
    mib = 2**20
    trace = {
        "t_s": [100.0, 100.5],  # the worker's monotonic clock
        "process_cpu_percent": [150.0, 160.0],
        "system_cpu_percent": [40.0, 50.0],
        "process_rss_mb": [300.0, 310.0],
        "system_mem_used_mib": [1000.0, None],  # a sample the sampler could not read stays absent
        "gpu_util_percent": [90.0, 95.0],
        "gpu_mem_used_mb": [2048.0, 2048.0],
        "gpu_power_w": [250.0, 260.0],
    }
    result = WorkerResult(clock_offset_s=1_700_000_000.0)  # wall − monotonic; no windows, no energy
    runs.log_steps(store, run_id, result, trace, gpu_index=3)

    client = MlflowClient(sqlite_uri)
    metrics = client.get_run(run_id).data.metrics
    expected = {
        "system/cpu_utilization_percentage": [40.0, 50.0],
        "system/system_memory_usage_megabytes": [1000.0 * mib / 1e6],
        "system/gpu_3_utilization_percentage": [90.0, 95.0],
        "system/gpu_3_memory_usage_megabytes": [2048.0 * mib / 1e6] * 2,
        "system/gpu_3_power_usage_watts": [250.0, 260.0],
        "trace_cpu_util_process_percent": [150.0, 160.0],
        "trace_process_rss_mb": [300.0, 310.0],
    }
    assert set(metrics) == set(expected)
    for name, values in expected.items():
        history = sorted(client.get_metric_history(run_id, name), key=lambda m: m.step)
        assert [round(m.value, 6) for m in history] == [round(v, 6) for v in values], name
        assert history[0].timestamp == 1_700_000_100_000, "the sample's wall-clock time in ms"
        if len(history) == 2:
            assert history[1].timestamp - history[0].timestamp == 500 and [m.step for m in history] == [0, 1]


def test_efficiency_and_carbon_come_from_each_logged_total_and_never_from_a_non_positive_one():
    from green_mlflow.tracking.metrics import efficiency_metrics

    logged = {
        "energy_per_sample_gross_j": 3.6,
        "energy_per_sample_net_j": -0.1,
        "energy_per_sample_net_estimated_j": 7.2,
    }
    out = efficiency_metrics(logged)
    assert out == {
        "energy_gross_wh_per_1000_samples": pytest.approx(1.0),  # 3.6 J × 1000 / 3600
        "samples_per_kwh_gross": pytest.approx(1e6),
        "energy_net_estimated_wh_per_1000_samples": pytest.approx(2.0),
        "samples_per_kwh_net_estimated": pytest.approx(5e5),
    }, "net energy below idle gives no efficiency figure; estimates keep their name"
    carbon = efficiency_metrics(logged, intensity_g_per_kwh=400)
    assert carbon["co2e_gross_g_per_1000_samples"] == pytest.approx(0.4)  # 400 g/kWh × 0.001 kWh
    assert carbon["co2e_net_estimated_g_per_1000_samples"] == pytest.approx(0.8)
    assert not [k for k in out if k.startswith("co2e")]


def test_registered_names_are_registry_safe_for_paths_and_factories():
    from green_mlflow.tracking.models import registered_name

    assert registered_name("mobilenet_v2", "torch") == "green-mlflow-mobilenet_v2-from-torch"
    assert registered_name("/data/my model.onnx", None) == "green-mlflow-my-model.onnx-onnx-file"
    assert registered_name("team.models:build", "torch") == "green-mlflow-team.models-build-from-torch"


def test_every_mlflow_ui_address_opens_the_runs_view_not_genai():
    assert ui_url() == "#/experiments?workflowType=machine_learning"
    assert ui_url("http://host:5000/", "7") == "http://host:5000/#/experiments/7/runs?workflowType=machine_learning"
    assert ui_url("..", "7", "a" * 32) == f"../#/experiments/7/runs/{'a' * 32}?workflowType=machine_learning"
    with pytest.raises(ValueError, match="give its experiment id"):
        ui_url("..", run_id="a" * 32)


def test_the_sweeps_closing_hint_links_its_experiments_runs_view_for_a_local_store_and_a_server(sqlite_uri):
    store = open_store(sqlite_uri, "hints")
    runs_view = f"#/experiments/{store.experiment_id}/runs?workflowType=machine_learning"
    assert (
        store.ui_hint()
        == f"{mlflow_command()} ui --backend-store-uri {sqlite_uri}, then open http://127.0.0.1:5000/{runs_view}"
    )
    assert Path(mlflow_command()).is_absolute() and Path(mlflow_command()).exists(), "runs from a fresh shell"
    server = replace(store, uri="http://alice:s3cret@mlflow.example.org:5000")
    assert server.ui_hint() == f"open http://***@mlflow.example.org:5000/{runs_view} in a browser"
