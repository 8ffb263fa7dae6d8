"""The scenario axis through the command line: latency and throughput runs of one configuration side by side, the
throughput run without per-iteration latency and saying how it ran (docs/method.md rule 18)."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from tests.helpers.project import TINY_MEASURE, require_env, run_cli

pytestmark = pytest.mark.slow


def test_latency_and_throughput_scenarios_on_torch_and_mxnet_cpu(tmp_path, sqlite_uri):
    require_env("torch"), require_env("mxnet")
    args = ["-m", "runtime=torch,mxnet", "scenario=latency,throughput", "model=mobilenet_v2", "model.image_size=32"]
    proc = run_cli([*args, *TINY_MEASURE], tmp_path, sqlite_uri)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    client = MlflowClient(sqlite_uri)
    experiment = client.get_experiment_by_name("green_mlflow").experiment_id
    runs = {
        (r.data.params["runtime"], r.data.params["scenario"]): r
        for r in client.search_runs([experiment], "tags.`green.kind` = 'job'")
    }
    assert sorted(runs) == [
        ("mxnet", "latency"),
        ("mxnet", "throughput"),
        ("torch", "latency"),
        ("torch", "throughput"),
    ]
    assert all(r.info.status == "FINISHED" for r in runs.values())
    for runtime in ("torch", "mxnet"):
        latency, throughput = runs[(runtime, "latency")], runs[(runtime, "throughput")]
        assert latency.data.metrics["latency_p50_ms"] > 0 and "scenario.note" not in latency.data.tags
        assert "latency_p50_ms" not in throughput.data.metrics, "no iteration was timed on its own"
        assert (
            throughput.data.metrics["throughput_samples_per_s"] > 0
            and throughput.data.metrics["batch_time_mean_ms"] > 0
        )
        assert throughput.data.tags["precision.quantity"] == "time per batch"
        assert throughput.data.tags["green.config_hash"] != latency.data.tags["green.config_hash"]
        assert throughput.info.run_name.endswith(" throughput")
        steps = client.get_metric_history(throughput.info.run_id, "window_batch_time_ms")
        assert [m.step for m in steps] == [0, 1] and not client.get_metric_history(
            throughput.info.run_id, "window_latency_p50_ms"
        )
        traces = {a.path for a in client.list_artifacts(throughput.info.run_id, "traces")}
        assert "traces/latency_ms.csv" not in traces and "traces/utilisation.csv" in traces
    # torch on the CPU returns from each inference when it is done: said, not pretended otherwise; MXNet's engine queues
    assert runs[("torch", "throughput")].data.tags["scenario.note"].startswith("the same as latency: torch on cpu")
    assert runs[("mxnet", "throughput")].data.tags["scenario.note"].startswith("queued: mxnet on cpu")
    parent = client.search_runs([experiment], "tags.`green.kind` = 'sweep'")[0]
    assert "report/comparison.html" in {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
