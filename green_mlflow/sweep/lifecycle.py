"""Start and end of a sweep: the parent run, the idle baseline on it, and closing it with a summary.

The parent run's id and store are written into the sweep folder (``ledger.write_parent``), where
every job finds them, in this process or (submitit) in another. Closing logs the break-even points,
the ledger and the comparison report, then ends the parent run FINISHED or FAILED.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from green_mlflow.contract import MeasureSettings
from green_mlflow.sweep import idle as baseline
from green_mlflow.sweep.break_even import break_even_for_sweep
from green_mlflow.sweep.ledger import LEDGER, energy_metric, read_ledger, read_parent, table, write_parent
from green_mlflow.sweep.outcome import current
from green_mlflow.tracking import runs
from green_mlflow.tracking.store import Store, compare_hint, open_store, store_error_text, store_errors
from green_mlflow.tracking.view import save_sweep_view

OK_STATUSES = ("FINISHED", "SKIPPED")  # SKIPPED: resumed, an earlier FINISHED run stands for the job


def reap_dead_runs_of(store: Store) -> None:
    """Before a start: runs a killed green_mlflow process left RUNNING on this host become KILLED."""
    reaped = runs.reap_dead_runs(store)
    if reaped:
        print(f"marked {len(reaped)} run(s) KILLED that a dead process had left RUNNING: {', '.join(reaped)}")


class FolderTaken(RuntimeError):
    """The sweep folder belongs to a sweep whose process is still running."""


def check_folder_free(folder: Path) -> None:
    """Refuse a folder a live sweep owns (two sweeps would share its ledger and parent run); a folder whose
    sweep has ended or died can be resumed into: the new sweep gets a parent run and ledger rows of its own."""
    parent = read_parent(folder)
    if not parent or not parent.get("owner") or parent["owner"].get("green.pid") == str(os.getpid()):
        return
    if runs.owner_alive(parent["owner"]):
        owner = parent["owner"]
        raise FolderTaken(
            f"{folder} belongs to a sweep still running (parent run {parent['run_id']}, pid {owner.get('green.pid')} "
            f"on {owner.get('green.host')}): give this sweep a folder of its own (hydra.sweep.dir=…)"
        )


def open_parent(store: Store, folder: Path, name: str, overrides: str) -> str:
    """Start the parent run (or adopt the one ``mlflow run`` started) and record it in ``folder``."""
    check_folder_free(folder)
    tags = {"green.sweep_dir": str(folder), "green.overrides": overrides}
    adopted = os.environ.get("MLFLOW_RUN_ID")  # set by `mlflow run`: that run is the parent
    if adopted:
        run_id = adopted
        runs.log_values(store, run_id, {}, {"green.kind": "sweep", **tags})
    else:
        run_id = runs.start_parent(store, name, tags)
    write_parent(
        folder,
        {
            "run_id": run_id,
            "tracking_uri": store.uri,
            "experiment_name": store.experiment_name,
            "adopted": bool(adopted),
            "owner": runs.owner_tags(),
        },
    )
    outcome = current()
    outcome.folder, outcome.closed = folder, False
    return run_id


def measure_idle(store: Store, run_id: str, folder: Path, measure: MeasureSettings, device_id: int) -> None:
    """The sweep's idle baseline, measured before any job and logged on the parent run."""
    idle = baseline.idle_baseline(folder, measure, device_id, print)
    baseline.log_on_parent(store, run_id, idle)
    if idle is not None:
        print(baseline.describe(idle), flush=True)


def write_comparison(parent: dict, folder: Path) -> list[str]:
    """The comparison report (green_mlflow.report) as the parent run's artifact, and its answer: one top line
    per group (findings.json's), printed and returned. A failure is only a warning (no lines)."""
    try:
        from green_mlflow.report import write_report

        html = write_report(parent["tracking_uri"], parent["run_id"], out=folder / "comparison.html")
        print(f"comparison report: {html} (and artifact report/ of the parent run)", flush=True)
        document = json.loads(html.with_name("findings.json").read_text())
    except Exception as err:  # the measurements are logged already; a report problem must not fail the sweep
        print(f"warning: the comparison report could not be written: {type(err).__name__}: {err}", flush=True)
        return []
    lines = [f["text"] for f in document["findings"] if f["kind"] == "group"]
    if lines:
        print("\nThe answer, one line per group (the report's top lines):", flush=True)
        for line in lines:
            print(f"- {line}", flush=True)
        print(f"Guarantee: {document['guarantee']}.", flush=True)
    return [*lines, f"Guarantee: {document['guarantee']}."] if lines else []


def description(lines: list[str]) -> str:
    """The parent run's description (``mlflow.note.content``, shown on its page in the MLflow UI), Markdown."""
    top, guarantee = lines[:-1], lines[-1]
    return (
        "## Which runtime?\n\n"
        + "\n".join(f"- {line}" for line in top)
        + f"\n\n_{guarantee}_\n\nThe report: artifact `report/comparison.html`; the numbers: `report/findings.json`."
    )


def close_sweep(folder: Path, report: bool = True) -> int:
    """Print the summary, write the comparison report, close the parent run; return how many jobs did not finish."""
    parent = read_parent(folder)
    rows = read_ledger(folder, parent["run_id"] if parent else None)
    failed = sum(1 for r in rows if r["status"] not in OK_STATUSES)
    print("\n" + table(rows) if rows else "\nno jobs ran", flush=True)
    if parent:
        try:
            _close_parent(parent, folder, rows, failed, report)
        except store_errors() as err:
            _not_closed(parent, folder, err)
            failed = max(failed, 1)
    outcome = current()
    outcome.closed = True
    outcome.failed = failed if rows else 1
    return outcome.failed


def _close_parent(parent: dict, folder: Path, rows: list[dict], failed: int, report: bool) -> None:
    """Break-even, the ledger, the report and the counts onto the parent run, then end it."""
    store = open_store(parent["tracking_uri"], parent["experiment_name"])
    for run_id, (metrics, tags) in break_even_for_sweep(rows).items():
        runs.log_values(store, run_id, metrics, tags)
    runs.log_file(store, parent["run_id"], folder / LEDGER, "summary")
    answer = write_comparison(parent, folder) if report and rows else []
    if answer:
        runs.log_values(store, parent["run_id"], {}, {"mlflow.note.content": description(answer)})
    status = "FINISHED" if failed == 0 and rows else "FAILED"
    runs.log_values(
        store,
        parent["run_id"],
        {
            "jobs_finished": sum(1 for r in rows if r["status"] == "FINISHED"),
            "jobs_skipped": sum(1 for r in rows if r["status"] == "SKIPPED"),
            "jobs_failed_or_pruned": failed,
        },
        {},
    )
    if not parent.get("adopted"):  # `mlflow run` ends its own run from our exit code
        runs.finish(store, parent["run_id"], status)
    try:  # a convenience: a store that refuses the experiment tag costs the link's view, not the sweep
        view = save_sweep_view(store, parent["run_id"], f"sweep {parent['run_id'][:8]}", energy_metric(rows))
    except store_errors() as err:
        view = None
        print(f"warning: the sweep's view in the MLflow UI was not saved: {store_error_text(err)}", flush=True)
    print(
        f"\n{len(rows) - failed} of {len(rows)} jobs finished{_skipped(rows)}; parent run {parent['run_id']} "
        f"in experiment '{parent['experiment_name']}'.\nSee them in the MLflow UI"
        f"{', grouped by runtime, model, batch size, provider and mode' if view else ''}: {store.ui_hint(view)}",
        flush=True,
    )
    page = compare_hint(parent["tracking_uri"], parent["run_id"])
    if page and report and rows:
        print(f"The comparison page: {page}", flush=True)


def close_abandoned(interrupted: bool) -> None:
    """After the command: a parent run Hydra left open (it skips ``on_multirun_end`` once a job raised)
    ends KILLED (interrupted) or FAILED, never RUNNING."""
    outcome = current()
    if outcome.folder is None or outcome.closed:
        return
    parent = read_parent(outcome.folder)
    if parent and not parent.get("adopted"):
        try:
            store = open_store(parent["tracking_uri"], parent["experiment_name"])
            runs.finish(store, parent["run_id"], "KILLED" if interrupted else "FAILED")
        except store_errors() as err:
            _not_closed(parent, outcome.folder, err)
    outcome.failed = outcome.failed or 1


def _not_closed(parent: dict, folder: Path, err: BaseException) -> None:
    print(
        f"error: the sweep's parent run {parent['run_id']} could not be closed: {store_error_text(err)}. It stays "
        "RUNNING until the next sweep against this store marks it KILLED (its process is gone); this sweep's "
        f"summary is in {folder / LEDGER}.",
        file=sys.stderr,
        flush=True,
    )


def _skipped(rows: list[dict]) -> str:
    skipped = sum(1 for r in rows if r["status"] == "SKIPPED")
    return f" ({skipped} skipped: already FINISHED earlier)" if skipped else ""
