"""The server page's remembering search, against a real SQLite store: after one full search only runs
still running, started or ended since are fetched again, and a full search every few minutes drops
deleted runs."""

from __future__ import annotations

import time

from mlflow.tracking import MlflowClient

from green_mlflow.report.data import load, searcher
from green_mlflow.tracking.search_cache import FULL_RELOAD_S, IncrementalSearch
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


def test_a_page_is_rendered_once_while_its_selection_stays_the_same(tmp_path):
    from green_mlflow.tracking.search_cache import PageCache

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    parent = make_sweep(client, "pages", [Job("torch", "eager", repetition=i) for i in range(2)])
    pages, rendered = PageCache(), []

    def page(dataset, options=(0.05,)):
        return pages(dataset, options, lambda: rendered.append(1) or f"page {len(rendered)}")

    assert page(load(client, parent)) == page(load(client, parent)) == "page 1", "unchanged: rendered once"
    assert page(load(client, parent), (0.1,)) == "page 2", "another margin is another page"
    experiment_id = client.get_experiment_by_name("pages").experiment_id
    log_job(client, experiment_id, parent, Job("onnx", "ort_all", source="torch"))
    assert page(load(client, parent)) == "page 3", "a new run is a new page"
    running = client.create_run(experiment_id, tags={"mlflow.parentRunId": parent, "green.kind": "job"})
    assert page(load(client, parent)) == "page 4" and page(load(client, parent)) == "page 5", (
        "a run still RUNNING: never cached, its numbers are still arriving"
    )
    client.set_terminated(running.info.run_id, "FINISHED")
    assert page(load(client, parent)) == page(load(client, parent)) == "page 6"
