"""The sweep's saved view in MLflow's UI: the experiment tag MLflow reads, in both of the forms it reads, and the
link that opens it. (MLflow's page itself opening it is ``tests/report/test_browser_report.py``.)"""

from __future__ import annotations

import json

import pytest
from mlflow.tracking import MlflowClient

from green_mlflow.tracking.store import open_store
from green_mlflow.tracking.ui import ui_url
from green_mlflow.tracking.view import GROUP_BY, RUNTIME_TAG, VIEW_TAG_PREFIX, save_sweep_view


def test_the_view_is_an_experiment_tag_mlflow_reads_as_a_saved_view_and_as_a_shared_state(sqlite_uri):
    store = open_store(sqlite_uri, "views")
    key = save_sweep_view(store, "abc123", "sweep abc123", "energy_per_sample_net_estimated_j")
    assert key == "green-abc123"
    tags = MlflowClient(sqlite_uri).get_experiment(store.experiment_id).tags
    value = json.loads(tags[VIEW_TAG_PREFIX + key])
    # MLflow 3.15+: a saved-view envelope, its state a JSON string
    assert value["name"] == "green_mlflow: sweep abc123" and isinstance(value["createdAt"], int)
    state = json.loads(value["state"])
    # earlier 3.x: the same fields at the top level
    assert {k: value[k] for k in state} == state
    assert state["searchFilter"] == "tags.`mlflow.parentRunId` = 'abc123'"
    assert state["selectedColumns"][:3] == [
        "metrics.`energy_per_sample_net_estimated_j`",
        "metrics.`latency_p50_ms`",
        "metrics.`throughput_samples_per_s`",
    ]
    keys = state["groupBy"]["groupByKeys"]
    assert keys[0] == {"mode": "tag", "groupByData": RUNTIME_TAG}
    assert [(k["mode"], k["groupByData"]) for k in keys] == list(GROUP_BY)
    assert state["runsHiddenMode"] == "SHOW_ALL"


def test_the_link_opens_the_view_on_the_experiments_runs_table():
    assert ui_url("http://h:5000/", "7", view="green-x") == (
        "http://h:5000/#/experiments/7/runs?workflowType=machine_learning&viewStateShareKey=green-x"
    )
    with pytest.raises(ValueError, match="a saved view belongs to an experiment's runs table"):
        ui_url("http://h:5000", "7", run_id="r", view="green-x")
    with pytest.raises(ValueError, match="a saved view belongs to an experiment's runs table"):
        ui_url("http://h:5000", view="green-x")
