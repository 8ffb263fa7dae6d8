"""The ``mlflow.app`` plugin ``green-mlflow``: the MLflow server plus our comparison page.

    mlflow server --app-name green-mlflow --backend-store-uri sqlite:////abs/path/mlflow.db

serves the normal MLflow UI and ``/green/compare?experiment=<name or id>`` or ``?parent=<run id>``
(``/green/compare`` alone lists experiments and sweeps). This is the mechanism of MLflow's basic-auth
(``mlflow/server/auth/__init__.py`` ``create_app``): register routes on MLflow's Flask app, and under
uvicorn (the default server) return the FastAPI app that wraps it.

The page reads the store the server was started with (``--backend-store-uri``, which ``mlflow server``
passes to its workers in an environment variable), never the process's default tracking URI.
"""

from __future__ import annotations

import logging
import os
import tempfile
from html import escape
from pathlib import Path

from flask import Blueprint, Flask, Response, request
from mlflow.entities import Run
from mlflow.environment_variables import _MLFLOW_SGI_NAME
from mlflow.server import BACKEND_STORE_URI_ENV_VAR
from mlflow.server import app as mlflow_app
from mlflow.server.handlers import _add_static_prefix
from mlflow.tracking import MlflowClient

from green_mlflow.report.analysis import analyse
from green_mlflow.report.cache import IncrementalSearch, PageCache
from green_mlflow.report.data import RUN_ID, JobRun, ReportError, client_artifact_reader, load, searcher
from green_mlflow.report.render import CSP, CSS, render
from green_mlflow.report.study import DEFAULT_MARGIN

log = logging.getLogger(__name__)

PAGE = "/green/compare"
_sources: dict[str, tuple[MlflowClient, IncrementalSearch]] = {}
_pages = PageCache()


def server_source() -> tuple[MlflowClient, IncrementalSearch]:
    """A client on the server's own backend store and its remembering search (one per worker process)."""
    uri = os.environ.get(BACKEND_STORE_URI_ENV_VAR)
    if not uri:
        raise ReportError(
            f"this server does not say which store it serves (${BACKEND_STORE_URI_ENV_VAR} is unset): "
            "start it with `mlflow server --app-name green-mlflow --backend-store-uri <uri>`"
        )
    if uri not in _sources:
        client = MlflowClient(tracking_uri=uri)
        _sources[uri] = (client, IncrementalSearch(searcher(client)))
    return _sources[uri]


def server_client() -> MlflowClient:
    return server_source()[0]


def read_artifact(run: Run, path: str) -> str | None:
    """Read a text artifact the way the server's own artifact handler does, proxied roots included."""
    from mlflow.server import handlers

    # Runs logged through this server (``--serve-artifacts``, the default) have ``mlflow-artifacts:`` roots
    # that only the server's artifact repository resolves; MLflow's private helpers are the way it does so.
    if handlers._is_servable_proxied_run_artifact_root(run.info.artifact_uri):
        repo = handlers._get_artifact_repo_mlflow_artifacts()
        path = handlers._get_proxied_run_artifact_destination_path(
            proxied_artifact_root=run.info.artifact_uri, relative_path=path
        )
        with tempfile.TemporaryDirectory() as tmp:
            try:
                local = Path(repo.download_artifacts(path, tmp))
            except Exception:  # absent: the caller shows a gap
                return None
            return local.read_text() if local.is_file() else None
    return client_artifact_reader(server_client())(run, path)


def _html(body: str, status: int = 200) -> Response:
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _message(title: str, text: str, status: int) -> Response:
    return _html(
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<style>{CSS}</style></head><body><h1>{escape(title)}</h1><p class="warn">{escape(text)}</p>'
        f'<p><a href="compare">All experiments and sweeps</a></p></body></html>',
        status,
    )


def index() -> Response:
    """Experiments and their sweeps, each a link to its comparison."""
    client = server_client()
    items = []
    for experiment in client.search_experiments(max_results=200):
        sweeps = client.search_runs(
            [experiment.experiment_id], "tags.`green.kind` = 'sweep'", max_results=50, order_by=["start_time DESC"]
        )
        if not sweeps:
            continue
        links = "".join(
            f'<li><a href="compare?parent={escape(s.info.run_id)}">{escape(s.info.run_name or s.info.run_id)}</a> '
            f"({escape(s.info.status)})</li>"
            for s in sweeps
        )
        items.append(
            f'<li><a href="compare?experiment={escape(experiment.experiment_id)}">{escape(experiment.name)}</a>'
            f" — all sweeps<ul>{links}</ul></li>"
        )
    listing = "".join(items) or "<li>No sweeps (runs tagged green.kind=sweep) in this store yet.</li>"
    return _html(
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>green_mlflow comparisons</title>'
        f"<style>{CSS}</style></head><body><h1>Which runtime? Comparisons</h1><ul>{listing}</ul></body></html>"
    )


def compare_page() -> Response:
    """``?experiment=<name or id>`` or ``?parent=<sweep parent run id>``; neither lists what there is."""
    experiment, parent = request.args.get("experiment"), request.args.get("parent")
    if experiment is None and parent is None:
        return index()
    try:
        if parent is not None and not RUN_ID.match(parent):
            raise ReportError(f"parent={parent!r} is not a run id: give the 32-character id of a sweep's parent run")
        client, search = server_source()
        dataset = load(client, parent if parent is not None else experiment, read_artifact, search)
    except ReportError as err:
        return _message("Nothing to compare", str(err), 404)
    margin = request.args.get("margin", str(DEFAULT_MARGIN))
    try:
        margin_rel = float(margin)
        if not 0 < margin_rel < 1:
            raise ValueError
    except ValueError:
        return _message("Wrong margin", f"margin={margin!r}: give a fraction of the mean in (0, 1), e.g. 0.05", 400)

    return _html(page(dataset, margin_rel))


def page(dataset, margin_rel: float = DEFAULT_MARGIN) -> str:
    """The page of a loaded selection: rendered once for as long as nothing in it changes (``PageCache``)."""

    def link(run: JobRun) -> str:
        return f"../#/experiments/{dataset.experiment_id}/runs/{run.run_id}"

    return _pages(
        dataset, (margin_rel,), lambda: render(analyse(dataset), link=link, offline=False, margin_rel=margin_rel)
    )


def blueprint() -> Blueprint:
    bp = Blueprint("green_mlflow", __name__)
    bp.add_url_rule(_add_static_prefix(PAGE), view_func=compare_page, methods=["GET"])
    return bp


def create_app(app: Flask = mlflow_app):
    """The ``mlflow.app`` factory: MLflow's app with the comparison page (FastAPI-wrapped under uvicorn)."""
    app.register_blueprint(blueprint())
    if _MLFLOW_SGI_NAME.get() == "uvicorn":
        from mlflow.server.fastapi_app import create_fastapi_app

        return create_fastapi_app(app)
    return app
