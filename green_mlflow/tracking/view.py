"""A saved view of a sweep in MLflow's own UI: its job runs grouped by runtime, model, batch size, provider and
mode, each group's averages of the key metrics as columns, every run visible in the charts.

MLflow's experiment page keeps a view (search facets and UI state: columns, grouping, chart visibility) in an
experiment tag ``mlflow.sharedViewState.<id>``; the address ``…/#/experiments/<experiment id>/runs?
viewStateShareKey=<id>`` opens it, and MLflow 3.15+ lists it under the page's saved views by the envelope's
``name``. MLflow 3.15+ reads the envelope ``{"name", "createdAt", "state"}`` (``state``: the view as JSON);
earlier 3.x reads the view's fields from the top level of the same JSON, so the value carries both.
The field names are MLflow's (``ExperimentPageSearchFacetsState``, ``ExperimentPageUIState``); a column is
``<type>.`<name>``` as the page's ``makeCanonicalSortKey`` writes it.
"""

from __future__ import annotations

import json
import time

from green_mlflow.tracking.store import Store

VIEW_TAG_PREFIX = "mlflow.sharedViewState."
RUNTIME_TAG = "green.runtime"  # "torch", "tf", "mxnet", "onnx (from torch)": the study's runtime label
# the runtime first: MLflow shows a group's keys in this order and cuts the label at the column's width
GROUP_BY = (("tag", RUNTIME_TAG), ("param", "model"), ("param", "batch_size"), ("param", "provider"), ("param", "mode"))
KEY_METRICS = ("latency_p50_ms", "throughput_samples_per_s")


def view_id(parent_run_id: str) -> str:
    return f"green-{parent_run_id}"


def sweep_view_state(parent_run_id: str, energy_metric: str) -> dict:
    """The page's state: this sweep's job runs, grouped, averaged, the key metrics first."""
    columns = [f"metrics.`{m}`" for m in (energy_metric, *KEY_METRICS)]
    columns += [f"params.`{name}`" for mode, name in GROUP_BY if mode == "param"] + [f"tags.`{RUNTIME_TAG}`"]
    return {
        "searchFilter": f"tags.`mlflow.parentRunId` = '{parent_run_id}'",
        "orderByKey": f"metrics.`{energy_metric}`",
        "orderByAsc": True,
        "startTime": "ALL",
        "lifecycleFilter": "Active",
        "modelVersionFilter": "All Runs",
        "datasetsFilter": [],
        "selectedColumns": columns,
        "groupBy": {
            "aggregateFunction": "average",
            "groupByKeys": [{"mode": mode, "groupByData": name} for mode, name in GROUP_BY],
        },
        "groupsExpanded": {},
        "runsHiddenMode": "SHOW_ALL",  # MLflow's default charts only the first 10 runs
        "useGroupedValuesInCharts": True,
        "hideEmptyCharts": True,
    }


def save_sweep_view(store: Store, parent_run_id: str, title: str, energy_metric: str) -> str:
    """Write the sweep's view as an experiment tag; returns its id (the link's ``viewStateShareKey``)."""
    state = sweep_view_state(parent_run_id, energy_metric)
    envelope = {"name": f"green_mlflow: {title}", "createdAt": int(time.time() * 1000), "state": json.dumps(state)}
    key = view_id(parent_run_id)
    store.client.set_experiment_tag(store.experiment_id, VIEW_TAG_PREFIX + key, json.dumps({**envelope, **state}))
    return key
