"""The report's SQL fast path reads the same runs as MLflow's ``search_runs``, for every filter it writes."""

from __future__ import annotations

import dataclasses
import math

import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from green_mlflow.report.data import client_searcher, load, searcher
from green_mlflow.tracking.search_cache import IncrementalSearch
from green_mlflow.tracking.sql_search import sql_search
from tests.helpers.synthetic import Job, make_sweep, study


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    client = MlflowClient(f"sqlite:///{tmp_path_factory.mktemp('sql') / 'mlflow.db'}")
    jobs = study(2, trace_steps=3)[:30] + [Job("torch", "eager", status="FAILED", reason="crashed", energy_j=None)]
    parent = make_sweep(client, "sql", jobs, pruned=[("onnx tensorrt", "needs a GPU")])
    other = make_sweep(client, "sql", study(1)[:4], name="another sweep")
    experiment_id = client.get_experiment_by_name("sql").experiment_id
    runs = client.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'")
    client.log_batch(runs[0].info.run_id, metrics=[Metric("weird_metric", math.nan, 0, 0)])
    client.delete_run(runs[1].info.run_id)  # 31 jobs; a deleted run is not shown
    client.create_run(experiment_id, run_name="", tags={"green.kind": "job", "mlflow.runName": "named by tag"})
    return client, experiment_id, parent, other


def _plain(runs) -> list[tuple]:
    out = []
    for r in runs:
        metrics = {k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.data.metrics.items()}
        info = (r.info.run_id, r.info.run_name, r.info.status, r.info.start_time, r.info.end_time, r.info.artifact_uri)
        out.append((info, dict(r.data.params), dict(r.data.tags), metrics))
    return sorted(out)


def _jobs(runs) -> list[dict]:
    """Job records with NaN spelled out (NaN is not equal to itself)."""
    out = []
    for run in sorted(runs, key=lambda r: r.run_id):
        record = dataclasses.asdict(run)
        record["metrics"] = {k: "nan" if math.isnan(v) else v for k, v in record["metrics"].items()}
        out.append(record)
    return out


@pytest.mark.parametrize(
    "filter_string",
    [
        "tags.`green.kind` = 'job'",
        "tags.`green.kind` = 'sweep'",
        "tags.`green.kind` = 'job' and attributes.status != 'FINISHED' and attributes.status != 'FAILED'",
        "tags.`green.kind` = 'job' and attributes.start_time >= 0",
        "tags.`green.kind` = 'job' and attributes.end_time >= 0",
    ],
)
def test_the_sql_path_returns_what_search_runs_returns(store, filter_string):
    client, experiment_id, _, _ = store
    fast = sql_search(client, experiment_id, filter_string)
    assert fast is not None, "this filter takes the fast path"
    assert _plain(fast) == _plain(client_searcher(client)(experiment_id, filter_string))


def test_a_sweep_and_an_experiment_load_the_same_either_way(store):
    client, experiment_id, parent, _ = store
    slow = client_searcher(client)
    for target in (parent, "sql"):
        a, b = load(client, target, search=searcher(client)), load(client, target, search=slow)
        assert _jobs(a.runs) == _jobs(b.runs) and a.sweeps == b.sweeps and a.pruned == b.pruned
    assert len(load(client, parent).runs) == 30, "the deleted run is gone, the failed one is there"
    incremental = IncrementalSearch(searcher(client))
    assert len(load(client, parent, search=incremental).runs) == len(load(client, parent, search=incremental).runs)


def test_other_filters_and_stores_go_through_search_runs(store, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client, experiment_id, _, _ = store
    assert sql_search(client, experiment_id, "metrics.latency_mean_ms > 1") is None
    assert sql_search(client, experiment_id, "attributes.status >= 'FINISHED'") is None
    files = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    assert sql_search(files, "0", "tags.`green.kind` = 'job'") is None
