"""Where runs go: an absolute tracking URI and an experiment, resolved the way MLflow users expect.

Precedence: ``tracking.uri`` > ``$MLFLOW_TRACKING_URI`` > ``sqlite:///<absolute cwd>/mlflow.db``
(MLflow's own default since 3.7, made absolute so that no job that changes directory creates a
store of its own). The experiment: ``tracking.experiment_name`` > ``$MLFLOW_EXPERIMENT_NAME`` >
``$MLFLOW_EXPERIMENT_ID`` (set by ``mlflow run``) > ``green_mlflow``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

DEFAULT_EXPERIMENT = "green_mlflow"
SQLITE = "sqlite:///"


class TrackingError(RuntimeError):
    """The tracking store cannot be used; the message says which URI and why."""


def absolute_uri(uri: str, cwd: Path) -> str:
    """Make a relative SQLite or file store URI absolute against ``cwd``."""
    if uri.startswith(SQLITE) and not uri.startswith(SQLITE + "/"):
        return f"{SQLITE}{(cwd / uri[len(SQLITE) :]).resolve()}"
    if "://" not in uri:  # a plain path means a file store
        return (cwd / uri).resolve().as_uri()
    return uri


def redact(uri: str) -> str:
    """The URI with any password removed, for messages."""
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return uri


def redact_overrides(overrides: list[str]) -> str:
    """Command-line overrides as one string, with credentials inside any URI removed (for tags and logs)."""
    parts = []
    for override in overrides:
        key, sep, value = override.partition("=")
        parts.append(f"{key}{sep}{redact(value)}" if sep else redact(override))
    return " ".join(parts)


@dataclass(frozen=True)
class Store:
    uri: str
    experiment_name: str
    experiment_id: str
    client: MlflowClient

    def ui_hint(self) -> str:
        if self.uri.startswith(SQLITE) or self.uri.startswith("file:"):
            return f"mlflow ui --backend-store-uri {self.uri}"
        return f"open {redact(self.uri)} in a browser"


def open_store(uri: str | None, experiment_name: str | None, cwd: Path | None = None) -> Store:
    """Resolve the URI and experiment (created if missing) and check that the store answers."""
    cwd = cwd or Path.cwd()
    uri = absolute_uri(uri or os.environ.get("MLFLOW_TRACKING_URI") or f"{SQLITE}mlflow.db", cwd)
    name = experiment_name or os.environ.get("MLFLOW_EXPERIMENT_NAME")
    artifact_location = None
    if uri.startswith(SQLITE):
        db = Path(uri[len(SQLITE) :])
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise TrackingError(f"cannot create the folder for the SQLite store {uri}: {err}") from err
        artifact_location = (db.parent / "mlartifacts").as_uri()
    client = MlflowClient(tracking_uri=uri)
    try:
        if not name and os.environ.get("MLFLOW_EXPERIMENT_ID"):
            name = client.get_experiment(os.environ["MLFLOW_EXPERIMENT_ID"]).name
        name = name or DEFAULT_EXPERIMENT
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            try:
                experiment_id = client.create_experiment(name, artifact_location=artifact_location)
            except MlflowException:  # another process created it first
                experiment = client.get_experiment_by_name(name)
                if experiment is None:
                    raise
                experiment_id = experiment.experiment_id
        else:
            experiment_id = experiment.experiment_id
    except MlflowException as err:
        raise TrackingError(f"the tracking store {redact(uri)} cannot be used: {err.message}") from err
    except Exception as err:
        raise TrackingError(f"the tracking store {redact(uri)} cannot be reached: {err}") from err
    return Store(uri=uri, experiment_name=name, experiment_id=experiment_id, client=client)
