"""The product end to end: `python -m green_mlflow` in real processes, real environments, a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from hydra_plugins.green_mlflow_sweeper.green_sweeper import expand_and_shuffle
from tests.helpers.project import TINY_MEASURE, require_env, run_cli

pytestmark = pytest.mark.slow


def _runs(uri: str):
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("green_mlflow")
    all_runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in all_runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in all_runs if "mlflow.parentRunId" in r.data.tags]
    return client, parents, children


def _artifact_paths(client, run_id: str, path: str | None = None) -> list[str]:
    found = []
    for item in client.list_artifacts(run_id, path):
        found += [item.path] + (_artifact_paths(client, run_id, item.path) if item.is_dir else [])
    return found


def _assert_logs_every_name_it_logged_before(client, parent, children) -> None:
    """docs/metrics.md stays true: every param, metric, tag and artifact a torch and an onnx job (and their
    parent) logged before the typed contract (tests/e2e/logged_names.json) is still logged."""
    before = json.loads((Path(__file__).parent / "logged_names.json").read_text())
    runs = {"sweep (parent run)": parent}
    runs.update({f"{c.data.params['runtime']} job": c for c in children})
    for kind, names in before.items():
        run = runs[kind]
        now = {
            "params": set(run.data.params),
            "metrics": set(run.data.metrics),
            "tags": set(run.data.tags),
            "artifacts": set(_artifact_paths(client, run.info.run_id)),
        }
        for what, expected in names.items():
            assert set(expected) <= now[what], f"{kind} no longer logs {what} {sorted(set(expected) - now[what])}"


def _assert_the_onnx_model_is_an_mlflow_model_logged_once(client, uri: str, children) -> None:
    """Three repetitions of one onnx configuration: one logged model (the bytes uploaded once), linked from
    each job, loadable with pyfunc, registered once with what it measured."""
    import mlflow
    import numpy as np

    onnx_children = [c for c in children if c.data.params["runtime"] == "onnx"]
    assert len(onnx_children) == 3
    model_ids = {c.data.tags["green.onnx.model_id"] for c in onnx_children}
    assert len(model_ids) == 1, model_ids
    [model_id] = model_ids
    experiment_id = onnx_children[0].info.experiment_id
    logged = client.search_logged_models(experiment_ids=[experiment_id])
    assert [m.model_id for m in logged] == [model_id], "one logged model for the three repetitions"
    assert logged[0].tags["green.model"] == "mobilenet_v2" and logged[0].tags["green.source"] == "torch"
    assert logged[0].source_run_id in {c.info.run_id for c in onnx_children}
    for child in onnx_children:
        outputs = client.get_run(child.info.run_id).outputs.model_outputs
        assert [o.model_id for o in outputs] == [model_id], "each job lists the model among its outputs"

    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model(f"models:/{model_id}")
    [spec] = model.metadata.signature.inputs.inputs
    assert spec.name == "input" and spec.shape[1:] == (3, 224, 224)
    image = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    [logits] = model.predict({"input": image}).values()
    assert logits.shape == (1, 1000) and np.isfinite(logits).all()

    [version] = client.search_model_versions("name = 'green-mlflow-mobilenet_v2-from-torch'")
    assert version.source == f"models:/{model_id}" and version.tags["provider"] == "cpu"
    assert float(version.tags["latency_p50_ms"]) > 0 and "energy_per_sample_net_estimated_j" in version.tags
    assert "energy_per_sample_net_j" not in version.tags, "no measured energy here: only the estimate's name"


def _assert_the_trace_is_in_mlflows_system_metrics(client, children) -> None:
    for child in children:
        history = client.get_metric_history(child.info.run_id, "system/cpu_utilization_percentage")
        assert len(history) >= 2 and "system/system_memory_usage_megabytes" in child.data.metrics
        stamps = [m.timestamp for m in sorted(history, key=lambda m: m.step)]
        assert stamps == sorted(stamps), "sample times in order"
        run = client.get_run(child.info.run_id).info
        assert run.start_time <= stamps[0] and stamps[-1] <= run.end_time, "wall-clock times within the run"


def test_repeated_sweep_runs_shuffled_with_idle_on_parent_and_gross_and_net_on_children(
    tmp_path: Path, sqlite_uri: str
):
    require_env("torch"), require_env("onnx")
    args = ["-m", "runtime=torch,onnx", "model=mobilenet_v2", "batch_size=1", *TINY_MEASURE, "measure.repetitions=3"]
    args.append("register=true")
    proc = run_cli(args, tmp_path, sqlite_uri)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "6 of 6 jobs finished" in proc.stdout and "mlflow ui --backend-store-uri" in proc.stdout

    client, parents, children = _runs(sqlite_uri)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    parent = parents[0].data
    # the answer: each group's top line printed, and the parent run's description in MLflow, as findings.json says
    findings = json.loads(
        Path(client.download_artifacts(parents[0].info.run_id, "report/findings.json", str(tmp_path))).read_text()
    )
    (top,) = [f["text"] for f in findings["findings"] if f["kind"] == "group"]
    assert f"- {top}" in proc.stdout and f"Guarantee: {findings['guarantee']}." in proc.stdout
    assert top in parent.tags["mlflow.note.content"] and parent.tags["mlflow.note.content"].startswith("## Which")
    page = f"--app-name green-mlflow, then open http://127.0.0.1:5000/green/compare?parent={parents[0].info.run_id}"
    assert page in proc.stdout
    # MLflow's own UI: the printed link opens the sweep's saved view; every job run is tagged with its runtime
    view = f"&viewStateShareKey=green-{parents[0].info.run_id}"
    assert "See them in the MLflow UI, grouped by runtime, model, batch size, provider and mode: " in proc.stdout
    assert view in proc.stdout
    assert sorted(c.data.tags["green.runtime"] for c in children) == ["onnx (from torch)"] * 3 + ["torch"] * 3
    assert parent.tags["idle.status"] == "ok" and parent.tags["idle.cpu.method"] == "estimated"
    assert parent.metrics["idle_duration_s"] >= 0.5 and "idle_cpu_power_estimated_w" in parent.metrics
    assert "idle_cpu_power_w" not in parent.metrics, "an estimate is never logged under a measured name"
    assert parent.tags["idle.gpu.method"] == "unavailable"
    assert {"summary", "report", "idle"} <= {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    report_files = {a.path for a in client.list_artifacts(parents[0].info.run_id, "report")}
    figures = {a.path for a in client.list_artifacts(parents[0].info.run_id, "report/figures")}
    assert "report/comparison.html" in report_files and any(p.endswith(".png") for p in figures), figures

    # the order the sweeper promised: each configuration 3 times, shuffled by hydra.sweeper.seed=0
    combinations = [
        ["runtime=torch", "model=mobilenet_v2", "batch_size=1"],
        ["runtime=onnx", "model=mobilenet_v2", "batch_size=1"],
    ]
    expected = [(j[0].split("=")[1], j[-1].split("=")[1]) for j in expand_and_shuffle(combinations, [3, 3], True, 0)]
    by_order = sorted(children, key=lambda c: int(c.data.tags["green.run_order"]))
    assert [(c.data.params["runtime"], c.data.params["repetition"]) for c in by_order] == expected
    assert expected != sorted(expected), "the seeded order is a real shuffle"
    assert len({c.data.tags["green.config_hash"] for c in children}) == 2, "repetitions share their config hash"
    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        metrics, tags = child.data.metrics, child.data.tags
        assert metrics["latency_p50_ms"] > 0 and metrics["throughput_samples_per_s"] > 0
        assert metrics["cpu_util_process_percent"] > 0
        assert tags["energy.cpu.method"] == "estimated"
        gross, net = metrics["cpu_energy_gross_estimated_j"], metrics["cpu_energy_net_estimated_j"]
        idle_w = metrics["cpu_idle_power_estimated_w"]
        assert idle_w == parent.metrics["idle_cpu_power_estimated_w"], "the sweep's idle power is reused"
        assert abs(net - (gross - idle_w * metrics["measured_duration_s"])) < 1e-9
        assert metrics["energy_per_sample_net_estimated_j"] > 0 and metrics["cpu_load_energy_estimated_j"] >= 0
        assert tags["energy.gpu.method"] == "unavailable" and not any(k.startswith("gpu_energy") for k in metrics)
        assert tags["green.gpu_contention"].startswith("not checked")
        assert {"runtime", "model", "provider", "mode", "batch_size", "repetition"} <= set(child.data.params)
        assert len(tags["green.config_hash"]) == 16
        history = client.get_metric_history(child.info.run_id, "trace_cpu_util_process_percent")
        assert len(history) >= 2, "utilisation is logged as step metrics"
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"config.yaml", "environment.json", "result.json", "traces"} <= artifacts
    _assert_logs_every_name_it_logged_before(client, parents[0], children)
    onnx_child = next(c for c in children if c.data.params["runtime"] == "onnx")
    onnx_files = {a.path for a in client.list_artifacts(onnx_child.info.run_id, "onnx")}
    assert {"onnx/conversion.json", "onnx/parity.json"} <= onnx_files and "onnx/model.onnx" not in onnx_files
    _assert_the_onnx_model_is_an_mlflow_model_logged_once(client, sqlite_uri, children)
    _assert_the_trace_is_in_mlflows_system_metrics(client, children)
    assert client.get_experiment_by_name("green_mlflow").tags["mlflow.experimentKind"] == "custom_model_development"
    assert onnx_child.data.tags["onnx.parity"] == "passed"
    assert onnx_child.data.metrics["onnx_parity_max_rel_err"] < 1e-4
    assert onnx_child.data.tags["provider.in_use"] == "CPUExecutionProvider"
    assert onnx_child.data.tags["break_even"].startswith("not computed"), "no counter here: no break-even claimed"


def test_sweep_goes_on_after_a_job_fails_and_exits_non_zero(tmp_path: Path, sqlite_uri: str):
    require_env("torch")
    proc = run_cli(["-m", "model.image_size=0,32", *TINY_MEASURE], tmp_path, sqlite_uri)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    client, parents, children = _runs(sqlite_uri)
    assert parents[0].info.status == "FAILED"
    by_size = {c.data.params["model.image_size"]: c for c in children}
    assert by_size["32"].info.status == "FINISHED"
    failed = by_size["0"]
    assert failed.info.status == "FAILED"
    error = Path(client.download_artifacts(failed.info.run_id, "error.txt", str(tmp_path))).read_text()
    assert "Traceback" in error
    assert "1 of 2 jobs finished" in proc.stdout and "why jobs failed or were pruned" in proc.stdout


def test_invalid_combination_in_a_sweep_is_pruned_with_its_reason(tmp_path: Path, sqlite_uri: str):
    require_env("torch")
    proc = run_cli(
        ["-m", "runtime=torch,onnx", "mode=eager", "model.image_size=32", *TINY_MEASURE], tmp_path, sqlite_uri
    )
    assert proc.returncode == 1
    assert "PRUNED" in proc.stdout
    assert "mode=eager is not available with runtime=onnx; allowed: ort_all" in proc.stdout
    _, _, children = _runs(sqlite_uri)
    assert [c.data.params["runtime"] for c in children] == ["torch"], "a pruned job makes no run"


def test_invalid_single_run_is_refused_before_the_store_is_touched(tmp_path: Path):
    db = tmp_path / "untouched" / "mlflow.db"
    proc = run_cli(["runtime=torch", "provider=tensorrt"], tmp_path, f"sqlite:///{db}", timeout=120)
    assert proc.returncode == 2
    assert "provider=tensorrt is not available with runtime=torch; allowed: cpu, cuda" in proc.stderr
    assert not db.exists()


def test_unknown_option_gets_hydras_list_of_allowed_values(tmp_path: Path):
    proc = run_cli(["model=alexnet"], tmp_path, f"sqlite:///{tmp_path}/m.db", timeout=120)
    assert proc.returncode != 0
    assert "model/alexnet" in proc.stderr and "mobilenet_v2" in proc.stderr


def test_help_lists_the_config_groups_and_how_runs_are_tracked(tmp_path: Path):
    proc = run_cli(["--help"], tmp_path, f"sqlite:///{tmp_path}/m.db", timeout=120)
    assert proc.returncode == 0
    assert (
        "runtime: mxnet, onnx, tf, torch" in proc.stdout
        and "model: bert_base, gluon, hf, keras, mobilenet_v2, onnx_file, python, resnet50, torchvision" in proc.stdout
        and "scenario: latency, throughput" in proc.stdout
    )
    assert "$MLFLOW_TRACKING_URI" in proc.stdout
    assert not (tmp_path / "m.db").exists()


def test_the_study_matrix_is_one_command_native_runtimes_once_onnx_from_each_source(tmp_path: Path, sqlite_uri: str):
    """``runtime.source`` sweeps ONNX's source only: no duplicate native jobs, nothing pruned for it."""
    for env in ("torch", "tf", "onnx"):
        require_env(env)
    args = ["-m", "runtime=torch,onnx", "runtime.source=torch,tf", "model=mobilenet_v2", "batch_size=1"]
    proc = run_cli([*args, *TINY_MEASURE, "measure.repetitions=2"], tmp_path, sqlite_uri)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "6 of 6 jobs finished" in proc.stdout and "PRUNED" not in proc.stdout
    client, parents, children = _runs(sqlite_uri)
    assert len(parents) == 1
    labels = sorted(
        (c.data.params["runtime"], c.data.params["runtime.source"], c.data.params["repetition"]) for c in children
    )
    assert labels == [
        ("onnx", "tf", "0"), ("onnx", "tf", "1"), ("onnx", "torch", "0"), ("onnx", "torch", "1"),
        ("torch", "null", "0"), ("torch", "null", "1"),
    ]  # fmt: skip
    assert all(c.info.status == "FINISHED" for c in children)
    assert "comparison report: " in proc.stdout, proc.stdout[-3000:]  # else the sweep says why it wrote none
    findings = json.loads(
        Path(client.download_artifacts(parents[0].info.run_id, "report/findings.json", str(tmp_path))).read_text()
    )
    sources = {c["source"] for c in findings["conversions"]}
    assert sources == {"torch"}, "onnx (from tf) has no native tf in this sweep: no conversion row for it"
    verdicts = {c["metric"].startswith("energy"): c["verdict"] for c in findings["conversions"]}
    assert verdicts == {True: "open", False: "descriptive (not one of the study's questions)"}, verdicts
