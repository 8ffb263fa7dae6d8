"""MLflow side: store resolution, parent/child runs in a real SQLite store, metric names and methods."""

from __future__ import annotations

from pathlib import Path

from mlflow.tracking import MlflowClient

from green_mlflow.tracking import runs
from green_mlflow.tracking.metrics import energy_metrics, flatten_params
from green_mlflow.tracking.store import absolute_uri, open_store, redact
from green_mlflow.tracking.summary import read_ledger, record, table


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
    assert redact("postgresql://alice:s3cret@db:5432/mlflow") == "postgresql://***@db:5432/mlflow"


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


def test_estimates_never_share_a_name_with_measurements():
    energy = {
        "gpu": {"method": "counter", "detail": "NVML", "energy_j": 10.0, "per_sample_j": 0.1, "mean_power_w": 200.0},
        "cpu": {"method": "estimated", "detail": "TDP", "energy_j": 5.0, "per_sample_j": 0.05, "mean_power_w": 50.0},
        "dram": {"method": "unavailable", "detail": "no RAPL"},
    }
    metrics, tags = energy_metrics(energy)
    assert metrics["gpu_energy_j"] == 10.0 and "cpu_energy_j" not in metrics
    assert metrics["cpu_energy_estimated_j"] == 5.0
    assert not any(k.startswith("dram_") for k in metrics), "an unavailable reading is not a 0"
    assert metrics["energy_per_sample_j"] == 0.1, "measured total covers measured domains only"
    assert abs(metrics["energy_per_sample_estimated_j"] - 0.15) < 1e-12
    assert tags["energy.total.covers"] == "gpu" and tags["energy.dram.method"] == "unavailable"
    assert tags["energy.total_estimated.covers"] == "gpu+cpu(estimated)"


def test_no_measured_domain_means_no_energy_per_sample_metric():
    metrics, _ = energy_metrics({"cpu": {"method": "unavailable", "detail": "VM"}})
    assert metrics == {}


def test_ledger_and_summary_show_failures_and_pruned_jobs_with_reasons(tmp_path: Path):
    record(
        tmp_path,
        {
            "job": "torch",
            "status": "FINISHED",
            "latency_p50_ms": 3.25,
            "throughput_samples_per_s": 300.0,
            "energy_per_sample_j": None,
            "energy_per_sample_estimated_j": 0.5,
        },
    )
    record(
        tmp_path, {"job": "bad", "status": "PRUNED", "reason": "provider=tensorrt is not available with runtime=torch"}
    )
    rows = read_ledger(tmp_path)
    text = table(rows)
    assert len(rows) == 2
    assert "3.25 ms" in text and "0.5 J (estimated)" in text
    assert "bad: provider=tensorrt is not available with runtime=torch" in text


def test_conversion_metrics_carry_parity_time_and_only_measured_energy():
    from green_mlflow.tracking.metrics import conversion_metrics

    report = {
        "parity": {
            "passed": True,
            "tol": 1e-4,
            "outputs": {"logits": {"passed": True, "max_rel_err": 2e-7, "max_abs_err": 1e-9}},
        },
        "export_s": 1.5,
        "export_energy_j": {"gpu": 12.0},
        "export_energy_unavailable": {"cpu": "no powercap"},
        "exporter": "tf2onnx",
    }
    metrics, tags = conversion_metrics(report)
    assert metrics["onnx_parity_max_rel_err"] == 2e-7 and metrics["conversion_export_s"] == 1.5
    assert metrics["conversion_export_gpu_energy_j"] == 12.0 and "conversion_export_cpu_energy_j" not in metrics
    assert tags["onnx.export_energy"] == "cpu: unavailable (no powercap)" and tags["onnx.parity"] == "passed"
