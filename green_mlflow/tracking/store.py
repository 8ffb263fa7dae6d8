"""Where runs go: an absolute tracking URI and an experiment, resolved the way MLflow users expect.

Precedence: ``tracking.uri`` > ``$MLFLOW_TRACKING_URI`` > ``sqlite:///<absolute cwd>/mlflow.db``
(MLflow's own default since 3.7, made absolute so that no job that changes directory creates a
store of its own). The experiment: ``tracking.experiment_name`` > ``$MLFLOW_EXPERIMENT_NAME`` >
``$MLFLOW_EXPERIMENT_ID`` (set by ``mlflow run``) > ``green_mlflow``.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import tempfile
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from green_mlflow.redaction import redact_text, redact_uri, remember
from green_mlflow.tracking.ui import ui_url

DEFAULT_EXPERIMENT = "green_mlflow"
# MLflow's UI opens an experiment of this kind on its runs table (not the GenAI overview)
EXPERIMENT_KIND, MODEL_DEVELOPMENT = "mlflow.experimentKind", "custom_model_development"
SQLITE = "sqlite:///"
SQLITE_HEADER = b"SQLite format 3\x00"
LOCAL_UI = "http://127.0.0.1:5000"  # where `mlflow ui` listens unless told otherwise
# MLflow's client retries an unreachable server for minutes; a server that does not accept a
# connection within this many seconds is reported as down instead
CONNECT_TIMEOUT_S = 3.0
WHAT_TO_DO = (
    "set tracking.uri=... (or $MLFLOW_TRACKING_URI) to a store that works, "
    "e.g. sqlite:////absolute/path/mlflow.db or http://host:5000 of a running `mlflow server`"
)


class TrackingError(RuntimeError):
    """The tracking store cannot be used; the message says which URI and why."""


def store_errors() -> tuple[type[BaseException], ...]:
    """What a request to a store that stopped answering raises (ours, MLflow's, the HTTP client's)."""
    from requests.exceptions import RequestException

    return (TrackingError, MlflowException, RequestException)


def store_error_text(err: BaseException, limit_chars: int = 400) -> str:
    """A store error for a message: redacted and short (MLflow's texts repeat the URL and the retry chain)."""
    text = str(err) if isinstance(err, TrackingError) else f"{type(err).__name__}: {getattr(err, 'message', err)}"
    text = redact_text(" ".join(text.split()))
    return text if len(text) <= limit_chars else text[: limit_chars - 1] + "…"


def absolute_uri(uri: str, cwd: Path) -> str:
    """Make a relative SQLite or file store URI absolute against ``cwd``."""
    if uri.startswith(SQLITE) and not uri.startswith(SQLITE + "/"):
        return f"{SQLITE}{(cwd / uri[len(SQLITE) :]).resolve()}"
    if "://" not in uri:  # a plain path means a file store
        return (cwd / uri).resolve().as_uri()
    return uri


@dataclass(frozen=True)
class Store:
    uri: str
    experiment_name: str
    experiment_id: str
    client: MlflowClient

    def ui_hint(self, view: str | None = None) -> str:
        """How to see this experiment's runs in the MLflow UI, opened on its runs table (on a saved ``view`` of
        it, ``tracking.view``): a command that runs as printed from a fresh shell (the ``mlflow`` of this
        interpreter's environment, by its absolute path)."""
        if self.uri.startswith(SQLITE) or self.uri.startswith("file:"):
            return (
                f"{mlflow_command()} ui --backend-store-uri {self.uri}, then open "
                f"{ui_url(LOCAL_UI, self.experiment_id, view=view)}"
            )
        if urlsplit(self.uri).scheme in ("http", "https"):
            return f"open {ui_url(redact_uri(self.uri), self.experiment_id, view=view)} in a browser"
        return f"open {redact_uri(self.uri)} in a browser"


def mlflow_command() -> str:
    """The ``mlflow`` command beside this interpreter (a virtual environment's), else the one on PATH."""
    beside = Path(sys.executable).parent / "mlflow"
    return str(beside) if beside.exists() else "mlflow"


def compare_hint(uri: str, parent_run_id: str) -> str | None:
    """How to open the comparison page (``/green/compare``) of a sweep in a local store; None for a server
    (its operator chose the app)."""
    if not (uri.startswith(SQLITE) or uri.startswith("file:")):
        return None
    return (
        f"{mlflow_command()} server --backend-store-uri {uri} --app-name green-mlflow, then open "
        f"{LOCAL_UI}/green/compare?parent={parent_run_id}"
    )


def _scrub(text: str, uri: str) -> str:
    """``text`` (an error from MLflow or a driver) without the credentials ``uri`` may carry."""
    remember(urlsplit(uri).password)
    return redact_text(text)


def _check_sqlite(uri: str) -> None:
    """Fail now, saying why, where MLflow would retry for minutes on a database file it cannot open."""
    db = Path(uri[len(SQLITE) :].split("?", 1)[0])
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=db.parent):  # SQLite writes its journal next to the database
            pass
    except OSError as err:
        raise TrackingError(
            f"the SQLite store {uri} cannot be written: the folder {db.parent} cannot be created or written to "
            f"({err.strerror or err}); {WHAT_TO_DO}"
        ) from err
    if not db.exists():
        return
    try:
        with open(db, "rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except OSError as err:
        raise TrackingError(f"the SQLite store {uri} cannot be read ({err.strerror or err}); {WHAT_TO_DO}") from err
    if header and header != SQLITE_HEADER:  # an empty file is a new database to SQLite
        raise TrackingError(
            f"the SQLite store {uri} is not an SQLite database: {db} holds something else; {WHAT_TO_DO}"
        )


def _check_server(uri: str) -> None:
    """A tracking server that is down, or a host that does not exist, fails here within seconds."""
    parts = urlsplit(uri)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as err:
        raise TrackingError(f"the tracking URI {redact_uri(uri)} is malformed ({err}); {WHAT_TO_DO}") from err
    host = parts.hostname
    if not host:
        raise TrackingError(f"the tracking URI {redact_uri(uri)} names no host; {WHAT_TO_DO}")
    if urllib.request.getproxies().get(parts.scheme) and not urllib.request.proxy_bypass(host):
        return  # reached through a proxy: only the request itself can tell
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        reason = f"no answer within {CONNECT_TIMEOUT_S:g} s" if isinstance(err, TimeoutError) else err.strerror or err
        raise TrackingError(
            f"the tracking server {redact_uri(uri)} cannot be reached ({host}:{port}: {reason}): "
            f"is `mlflow server` running there? Start it, or {WHAT_TO_DO}"
        ) from err


def open_store(uri: str | None, experiment_name: str | None, cwd: Path | None = None) -> Store:
    """Resolve the URI and experiment (created if missing) and check that the store answers.

    Raises TrackingError, whose message names the URI (without credentials), what went wrong and
    what to do, within seconds: a file that cannot be written and a server that is down are found
    before MLflow's client, which retries such stores for minutes.
    """
    cwd = cwd or Path.cwd()
    uri = absolute_uri(uri or os.environ.get("MLFLOW_TRACKING_URI") or f"{SQLITE}mlflow.db", cwd)
    remember(urlsplit(uri).password)  # masked in every text from now on (docs/server.md)
    name = experiment_name or os.environ.get("MLFLOW_EXPERIMENT_NAME")
    artifact_location = None
    if uri.startswith(SQLITE):
        _check_sqlite(uri)
        artifact_location = (Path(uri[len(SQLITE) :].split("?", 1)[0]).parent / "mlartifacts").as_uri()
    elif urlsplit(uri).scheme in ("http", "https"):
        _check_server(uri)
        if urlsplit(uri).password:  # else MLflow prints each ended run's URL to stdout, password included
            os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    try:
        with _first_use_lock(uri):
            client = MlflowClient(tracking_uri=uri)
            name, experiment_id = _experiment(client, name, artifact_location)
    except MlflowException as err:
        raise TrackingError(_scrub(f"the tracking store {redact_uri(uri)} cannot be used: {err.message}", uri)) from err
    except ImportError as err:
        raise TrackingError(
            f"the tracking store {redact_uri(uri)} needs the Python module '{err.name}', which is not installed: "
            "install the database driver for this URI, or use another store"
        ) from err
    except Exception as err:
        raise TrackingError(
            _scrub(f"the tracking store {redact_uri(uri)} cannot be reached: {type(err).__name__}: {err}", uri)
        ) from err
    return Store(uri=uri, experiment_name=name, experiment_id=experiment_id, client=client)


@contextmanager
def _first_use_lock(uri: str):
    """Processes opening one SQLite file at once take turns: MLflow creates and upgrades its tables on first
    use, and two doing so together fail ("Online migration expected to match one row … alembic_version")."""
    if not uri.startswith(SQLITE):
        yield
        return
    db = Path(uri[len(SQLITE) :].split("?", 1)[0])
    with open(db.with_name(db.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _experiment(client: MlflowClient, name: str | None, artifact_location: str | None) -> tuple[str, str]:
    """The experiment's name and id, created if missing (another process may create it first)."""
    if not name and os.environ.get("MLFLOW_EXPERIMENT_ID"):
        name = client.get_experiment(os.environ["MLFLOW_EXPERIMENT_ID"]).name
    name = name or DEFAULT_EXPERIMENT
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if EXPERIMENT_KIND not in experiment.tags:  # a kind the user chose is kept
            client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND, MODEL_DEVELOPMENT)
        return name, experiment.experiment_id
    try:
        tags = {EXPERIMENT_KIND: MODEL_DEVELOPMENT}
        return name, client.create_experiment(name, artifact_location=artifact_location, tags=tags)
    except MlflowException:  # another process created it first
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return name, experiment.experiment_id
