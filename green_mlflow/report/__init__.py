"""Reading a sweep back from MLflow and showing the study's answer: the comparison page and the offline report.

``data`` loads runs into records, ``analysis`` groups them (``green_mlflow.study`` decides every verdict),
``study`` writes the answers into what the reader meets (``comparisons``: the one way an answer is put in words;
``limits``: what the study does not show), ``findings`` is ``findings.json``, ``render`` (with ``svg``) draws the view as HTML for both the server page (``plugin``, the ``mlflow.app``
named ``green-mlflow``) and the offline report (``offline``, with ``figures``); ``python -m
green_mlflow.report`` is the command line.
"""

from __future__ import annotations

from pathlib import Path


def write_report(
    tracking_uri: str, parent_run_id: str, experiment_name: str | None = None, out: Path | None = None
) -> Path:
    """Write the sweep's comparison report and log it to its parent run (see ``offline.write_report``)."""
    # imported here so that ``import green_mlflow.report`` (the server plugin, stats) stays light
    from green_mlflow.report.offline import write_report as _write_report

    return _write_report(tracking_uri, parent_run_id, experiment_name, out)
