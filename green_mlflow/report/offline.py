"""The offline report: the comparison view as one HTML file plus PNG figures, logged to the sweep's parent run.

Artifacts land under ``report/`` of the parent run (``report/comparison.html``, ``report/findings.json``,
``report/figures/*.png``), where MLflow's artifact viewer previews them; ``findings.json`` is also written
beside the HTML file (docs/report.md says what it holds).
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow.tracking import MlflowClient

from green_mlflow.report.analysis import View, analyse
from green_mlflow.report.data import ArtifactReader, ReportError, client_artifact_reader, load, load_sweep
from green_mlflow.report.findings import findings_json
from green_mlflow.report.render import render
from green_mlflow.report.study import study
from green_mlflow.study.defaults import MARGIN_REL

log = logging.getLogger(__name__)

ARTIFACT_DIR = "report"
HTML_NAME = "comparison.html"
FINDINGS_NAME = "findings.json"
CLAIMS_NAME = "claims.json"


@dataclass(frozen=True)
class Written:
    """What one report call produced: the HTML file, its figures, and the run they were logged to (if any)."""

    html: Path
    findings: Path
    figures: list[Path]
    logged_to: str | None


def build_view(client: MlflowClient, target: str, read_artifact: ArtifactReader | None = None) -> View:
    """Load and analyse an experiment (name or id) or one sweep (parent run id)."""
    return analyse(load(client, target, read_artifact))


def report_run(view: View) -> str | None:
    """The parent run a report belongs to: the sweep's, or the newest sweep of an experiment."""
    return view.dataset.sweeps[-1].run_id if view.dataset.sweeps else None


def write(
    view: View,
    out: Path,
    client: MlflowClient | None = None,
    log_to: str | None = None,
    margin_rel: float = MARGIN_REL,
) -> Written:
    """Write ``out`` (HTML), ``findings.json`` and the figures beside it; with ``client`` and ``log_to``, log
    them to that run. Figures and logging are best effort: a failure there is a logged warning.
    """
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    answers = study(view, margin_rel)  # once: the page and findings.json show the same tables
    out.write_text(render(view, offline=True, margin_rel=margin_rel, answers=answers), encoding="utf-8")
    findings = out.with_name(FINDINGS_NAME if out.name == HTML_NAME else f"{out.stem}_{FINDINGS_NAME}")
    findings.write_text(findings_json(view, answers), encoding="utf-8")
    if answers.claims is not None:  # the declared hypotheses' statuses, for notebooks (docs/report.md)
        findings.with_name(CLAIMS_NAME).write_text(
            json.dumps(answers.claims, indent=2, default=str, allow_nan=False), encoding="utf-8"
        )
    figures: list[Path] = []
    figure_dir = out.parent / f"{out.stem}_figures"
    try:
        from green_mlflow.report.figures import write_figures  # matplotlib: only paid for by the offline report

        figures = write_figures(view, figure_dir)
    except Exception as err:  # a figure is a convenience; the HTML holds the same charts as SVG
        log.warning("report figures could not be drawn: %s", err)
    logged_to = None
    if client is not None and log_to is not None:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                # the artifact is always named comparison.html, whatever the local file is called
                named = Path(tmp) / HTML_NAME
                named.write_bytes(out.read_bytes())
                client.log_artifact(log_to, str(named), ARTIFACT_DIR)
                (Path(tmp) / FINDINGS_NAME).write_bytes(findings.read_bytes())
                client.log_artifact(log_to, str(Path(tmp) / FINDINGS_NAME), ARTIFACT_DIR)
                if answers.claims is not None:
                    (Path(tmp) / CLAIMS_NAME).write_bytes(findings.with_name(CLAIMS_NAME).read_bytes())
                    client.log_artifact(log_to, str(Path(tmp) / CLAIMS_NAME), ARTIFACT_DIR)
            for figure in figures:
                client.log_artifact(log_to, str(figure), f"{ARTIFACT_DIR}/figures")
            logged_to = log_to
        except Exception as err:  # the file on disk is still the report; say why MLflow has no copy
            log.warning("the report could not be logged to run %s: %s", log_to, err)
    return Written(out, findings, figures, logged_to)


def write_report(
    tracking_uri: str, parent_run_id: str, experiment_name: str | None = None, out: Path | None = None
) -> Path:
    """Write the sweep's comparison report and log it to its parent run; returns the local HTML path.

    Meant for the end of a sweep. Missing data (failed runs, absent metrics, no ``summary/jobs.jsonl``)
    shows as gaps and warnings; only a ``parent_run_id`` that is not a sweep's parent run raises
    ``ReportError``. ``experiment_name``, when given, is checked against the run's experiment.
    ``out`` defaults to ``comparison.html`` in a new temporary folder.
    """
    client = MlflowClient(tracking_uri=tracking_uri)
    dataset = load_sweep(client, parent_run_id, client_artifact_reader(client))
    if experiment_name is not None and experiment_name != dataset.experiment_name:
        log.warning(
            "run %s is in experiment %r, not %r: reporting it anyway",
            parent_run_id,
            dataset.experiment_name,
            experiment_name,
        )
    for warning in dataset.warnings:
        log.warning("report: %s", warning)
    out = out or Path(tempfile.mkdtemp(prefix="green_mlflow_report_")) / HTML_NAME
    return write(analyse(dataset), out, client, parent_run_id).html


__all__ = ["ReportError", "Written", "build_view", "report_run", "write", "write_report"]
