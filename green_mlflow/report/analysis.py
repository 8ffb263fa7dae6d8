"""The comparison view: a dataset read from MLflow, its runs grouped by the study (``study.groups``), and the
traces of the runs the charts show."""

from __future__ import annotations

import time
from dataclasses import dataclass

from green_mlflow.report.data import Dataset
from green_mlflow.study.groups import Group, group_runs
from green_mlflow.study.runs import JobRun


@dataclass
class View:
    """The whole comparison: what both the page and the offline report render."""

    dataset: Dataset
    groups: list[Group]
    not_finished: list[JobRun]
    generated_at: str


def analyse(dataset: Dataset, traces: bool = True) -> View:
    """Group the dataset's runs and analyse every group; with ``traces``, load the chosen runs' traces."""
    groups = group_runs(dataset.runs)
    if traces and dataset.trace_loader is not None:
        for group in groups:
            for _, run in group.trace_runs:
                try:
                    group.traces[run.run_id] = dataset.trace_loader(run)
                except Exception as err:  # a trace that cannot be read is a gap, not a failed page
                    group.notes.append(f"traces of run {run.run_id} could not be read: {err}")
    not_finished = sorted((r for r in dataset.runs if not r.finished), key=lambda r: r.start_time_ms)
    return View(dataset, groups, not_finished, time.strftime("%Y-%m-%d %H:%M:%S %Z"))
