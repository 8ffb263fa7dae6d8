"""The server page's remembering search, against a real SQLite store: after one full search only runs
still running, started or ended since are fetched again, and a full search every few minutes drops
deleted runs."""

from __future__ import annotations

import time

from mlflow.tracking import MlflowClient

from green_mlflow.report.cache import FULL_RELOAD_S, IncrementalSearch
from green_mlflow.report.data import searcher
from tests.helpers.synthetic import Job, log_job, make_sweep

JOBS = "tags.`green.kind` = 'job'"


def test_later_searches_fetch_only_runs_that_changed_and_full_ones_drop_deleted_runs(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    parent = make_sweep(client, "cached", [])
    experiment = client.get_experiment_by_name("cached").experiment_id
    hour_ago_ms = int((time.time() - 3600) * 1000)
    old = []
    for i in range(3):  # jobs that started and ended an hour ago
        run = client.create_run(experiment, start_time=hour_ago_ms, tags={"green.kind": "job"}, run_name=f"old {i}")
        client.set_terminated(run.info.run_id, "FINISHED", end_time=hour_ago_ms + 1000)
        old.append(run.info.run_id)
    fetched: list[str] = []

    def spy(experiment_id: str, filter_string: str):
        runs = list(searcher(client)(experiment_id, filter_string))
        fetched.extend(r.info.run_id for r in runs)
        return runs

    now = [time.time()]
    search = IncrementalSearch(spy, clock=lambda: now[0])
    assert sorted(r.info.run_id for r in search(experiment, JOBS)) == sorted(old) and len(fetched) == 3

    running = client.create_run(experiment, tags={"green.kind": "job", "mlflow.parentRunId": parent}).info.run_id
    added = log_job(client, experiment, parent, Job("onnx", "ort_all", source="torch"))
    fetched.clear()
    now[0] += 1
    assert {r.info.run_id for r in search(experiment, JOBS)} == {*old, running, added}
    assert set(fetched) == {running, added}, "runs that ended before the last search are not fetched again"

    client.log_metric(running, "latency_mean_ms", 3.0)
    client.set_terminated(running, "FINISHED")
    third = {r.info.run_id: r for r in search(experiment, JOBS)}
    assert third[running].info.status == "FINISHED" and third[running].data.metrics["latency_mean_ms"] == 3.0

    client.delete_run(added)
    assert added in {r.info.run_id for r in search(experiment, JOBS)}, "kept until the next full search"
    now[0] += FULL_RELOAD_S + 1
    assert added not in {r.info.run_id for r in search(experiment, JOBS)}
