"""The ``mlflow.app`` plugins: the MLflow server plus our comparison page.

    mlflow server --app-name green-mlflow-auth --backend-store-uri …   # a team: MLflow's logins, per experiment
    mlflow server --app-name green-mlflow --backend-store-uri sqlite:////abs/path/mlflow.db   # one user, loopback

``green-mlflow-auth`` is MLflow's basic-auth app (``mlflow.server.auth.create_app``) with the page added: the
page answers anonymous requests with 401 like the rest of MLflow, lists only the experiments the logged-in
user may READ (admins: all) as MLflow's own permission store says, and answers 403, rendering nothing, for
an experiment or a sweep inside one that the user may not read. ``green-mlflow`` has no authentication at
all, and the page says so on every view.

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
from collections.abc import Callable
from html import escape
from pathlib import Path

from flask import Blueprint, Flask, Response, request
from mlflow.entities import Run
from mlflow.environment_variables import _MLFLOW_SGI_NAME
from mlflow.exceptions import MlflowException
from mlflow.server import BACKEND_STORE_URI_ENV_VAR
from mlflow.server import app as mlflow_app
from mlflow.server.handlers import _add_static_prefix
from mlflow.tracking import MlflowClient

from green_mlflow.report.analysis import analyse
from green_mlflow.report.data import RUN_ID, ReportError, client_artifact_reader, load, searcher
from green_mlflow.report.render import CSP, CSS, render
from green_mlflow.study.defaults import MARGIN_REL
from green_mlflow.study.runs import JobRun
from green_mlflow.tracking.search_cache import IncrementalSearch, PageCache
from green_mlflow.tracking.ui import ui_url

log = logging.getLogger(__name__)

PAGE = "/green/compare"
UNAUTHENTICATED = (
    "This server has no authentication (mlflow server --app-name green-mlflow): anyone who can reach it can "
    "read, change and delete every experiment. For a team, serve it with --app-name green-mlflow-auth."
)
_authenticated = {"on": False}  # set by create_auth_app, once per server worker
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


def _banner() -> str:
    return "" if _authenticated["on"] else f'<p class="warn" id="unauthenticated">{escape(UNAUTHENTICATED)}</p>'


def _experiment_permission(experiment_id: str, username: str):
    """The user's permission on an experiment as MLflow's basic-auth decides it (grants, roles, default)."""
    from mlflow.server import auth

    if hasattr(auth, "_get_experiment_permission"):  # MLflow 3.17: user grants, then roles, then the default
        return auth._get_experiment_permission(experiment_id, username)
    from mlflow.server.auth.permissions import get_permission

    try:  # older MLflow: the user's grant, else the configured default
        return get_permission(auth.store.get_experiment_permission(experiment_id, username).permission)
    except MlflowException:
        return get_permission(auth.auth_config.default_permission)


def readable() -> Callable[[str], bool]:
    """Which experiment ids the user of this request may read (all, without authentication or for an admin)."""
    if not _authenticated["on"]:
        return lambda experiment_id: True
    from mlflow.server import auth

    username = auth.authenticate_request().username  # authenticated by MLflow's before-request hook already
    if auth.store.get_user(username).is_admin:
        return lambda experiment_id: True
    return lambda experiment_id: _experiment_permission(experiment_id, username).can_read


def _target_experiment(client: MlflowClient, target: str) -> str | None:
    """The id of the experiment ``target`` names (by name or id) or holds (a run id), None if none."""
    target = target.strip()
    found = client.get_experiment_by_name(target)
    if found is not None:
        return found.experiment_id
    if target.isdigit():
        try:
            return client.get_experiment(target).experiment_id
        except MlflowException:
            pass
    if RUN_ID.match(target):
        try:
            return client.get_run(target).info.experiment_id
        except MlflowException:
            pass
    return None


def index() -> Response:
    """Experiments the user may read and their sweeps, each a link to its comparison."""
    client = server_client()
    may_read = readable()
    items = []
    for experiment in client.search_experiments(max_results=200):
        if not may_read(experiment.experiment_id):
            continue
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
    listing = "".join(items) or "<li>No sweeps (runs tagged green.kind=sweep) here that you may read.</li>"
    return _html(
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>green_mlflow comparisons</title>'
        f"<style>{CSS}</style></head><body><h1>Which runtime? Comparisons</h1>{_banner()}<ul>{listing}</ul>"
        "</body></html>"
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
        target = parent if parent is not None else experiment
        experiment_id = _target_experiment(client, target)
        if _authenticated["on"]:
            if experiment_id is None:
                raise ReportError(f"{target!r} is neither an experiment nor a run in this store")
            if not readable()(experiment_id):
                return _message("Permission denied", "You may not read this experiment (ask its owner for READ).", 403)
        dataset = load(client, target, read_artifact, search)
    except ReportError as err:
        return _message("Nothing to compare", str(err), 404)
    margin = request.args.get("margin", str(MARGIN_REL))
    try:
        margin_rel = float(margin)
        if not 0 < margin_rel < 1:
            raise ValueError
    except ValueError:
        return _message("Wrong margin", f"margin={margin!r}: give a fraction of the mean in (0, 1), e.g. 0.05", 400)

    html = page(dataset, margin_rel)
    if not _authenticated["on"]:
        html = html.replace("<body>", f"<body>{_banner()}", 1)
    return _html(html)


def page(dataset, margin_rel: float = MARGIN_REL) -> str:
    """The page of a loaded selection: rendered once for as long as nothing in it changes (``PageCache``)."""

    def link(run: JobRun) -> str:
        return ui_url("..", dataset.experiment_id, run.run_id)

    return _pages(
        dataset, (margin_rel,), lambda: render(analyse(dataset), link=link, offline=False, margin_rel=margin_rel)
    )


def blueprint() -> Blueprint:
    bp = Blueprint("green_mlflow", __name__)
    bp.add_url_rule(_add_static_prefix(PAGE), view_func=compare_page, methods=["GET"])
    return bp


def create_app(app: Flask = mlflow_app):
    """``green-mlflow``: MLflow's app with the comparison page (FastAPI-wrapped under uvicorn), no logins."""
    log.warning(UNAUTHENTICATED)
    app.register_blueprint(blueprint())
    if _MLFLOW_SGI_NAME.get() == "uvicorn":
        from mlflow.server.fastapi_app import create_fastapi_app

        return create_fastapi_app(app)
    return app


def create_auth_app(app: Flask = mlflow_app):
    """``green-mlflow-auth``: MLflow's basic-auth app with the comparison page.

    MLflow's before-request hook authenticates every request to the page (401 without credentials); the
    validator registered here lets any authenticated user reach it, because the page itself decides per
    experiment (``readable``). MLflow fails closed on a route it has no validator for.
    """
    from mlflow.server import auth

    _authenticated["on"] = True
    app.register_blueprint(blueprint())
    auth.BEFORE_REQUEST_VALIDATORS[(_add_static_prefix(PAGE), "GET")] = lambda: True
    return auth.create_app(app)
