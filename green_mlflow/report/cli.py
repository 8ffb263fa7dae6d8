"""What the report's and the gate's command lines share: a fraction argument and the store to read."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mlflow.tracking import MlflowClient

from green_mlflow.report.data import ReportError
from green_mlflow.tracking.store import SQLITE, absolute_uri

TRACKING_URI_HELP = "MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///<cwd>/mlflow.db, as the sweep uses)"


def fraction(what: str):
    """An argparse type: a number strictly between 0 and 1; ``what`` says what it is for when it is not."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number: give a fraction such as 0.05") from None
        if not 0 < value < 1:
            raise argparse.ArgumentTypeError(f"{text} is outside (0, 1): {what}")
        return value

    return parse


def store_client(tracking_uri: str | None) -> MlflowClient:
    """A client on ``--tracking-uri``, else ``$MLFLOW_TRACKING_URI``, else ./mlflow.db; ReportError for an SQLite
    store that does not exist (MLflow would quietly create an empty one: a report of nothing helps nobody)."""
    uri = absolute_uri(tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or f"{SQLITE}mlflow.db", Path.cwd())
    if uri.startswith(SQLITE) and not Path(uri[len(SQLITE) :]).exists():
        raise ReportError(f"no MLflow store at {uri}: pass --tracking-uri or set MLFLOW_TRACKING_URI")
    return MlflowClient(tracking_uri=uri)
