"""Addresses of MLflow UI pages: every link to an experiment or a run that we print or render is built here.

MLflow 3.17's UI opens every experiment in its GenAI mode (traces, evaluations) unless the address carries
``workflowType=machine_learning``: it takes the mode from the address, else from the browser's last choice,
GenAI by default, and no longer from the experiment's ``mlflow.experimentKind`` tag alone.
"""

from __future__ import annotations

ML_VIEW = "workflowType=machine_learning"  # the classic runs view (table, charts, metrics)


def ui_url(
    server: str = "", experiment_id: str | None = None, run_id: str | None = None, view: str | None = None
) -> str:
    """``<server>/#/experiments[/<experiment_id>/runs[/<run_id>]]?workflowType=machine_learning``.

    ``view``: a saved view of the experiment's runs table (``tracking.view``), opened by ``viewStateShareKey``.

    ``server`` is the UI's address (``http://127.0.0.1:5000``), a relative one (``..`` from a page one level
    below the UI's root), or empty for the fragment alone. Without an experiment, the experiments list.
    """
    if run_id is not None and experiment_id is None:
        raise ValueError(f"run {run_id}: a run's page is under its experiment; give its experiment id as well")
    page = "#/experiments"
    if experiment_id is not None:
        page += f"/{experiment_id}/runs" + (f"/{run_id}" if run_id is not None else "")
    query = ML_VIEW
    if view is not None:
        if experiment_id is None or run_id is not None:
            raise ValueError(
                f"view {view}: a saved view belongs to an experiment's runs table, not to {run_id or 'no experiment'}"
            )
        query += f"&viewStateShareKey={view}"
    base = server.rstrip("/")
    return f"{base}/{page}?{query}" if base else f"{page}?{query}"
