"""Hydra callback that owns the sweep's parent run.

``on_multirun_start`` opens the parent run and writes its id into the sweep folder, where every
job (in this process or, with submitit, in another) finds it. ``on_multirun_end`` prints the
summary and closes the parent run. Hydra skips ``on_multirun_end`` when a job raised, so jobs never
raise for a failed measurement, and ``green_mlflow.__main__`` closes a parent left open.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from green_mlflow import baseline
from green_mlflow.tracking import runs
from green_mlflow.tracking.break_even import break_even_for_sweep
from green_mlflow.tracking.store import Store, TrackingError, open_store, redact, redact_overrides
from green_mlflow.tracking.summary import LEDGER, read_ledger, read_parent, table, write_parent

STATE: dict[str, Any] = {}  # parent run and outcome of this process's sweep, for __main__


OK_STATUSES = ("FINISHED", "SKIPPED")  # SKIPPED: resumed, an earlier FINISHED run stands for the job


def reap_dead_runs_of(store: Store) -> None:
    """Before a start: runs a killed green_mlflow process left RUNNING on this host become KILLED."""
    reaped = runs.reap_dead_runs(store)
    if reaped:
        print(f"marked {len(reaped)} run(s) KILLED that a dead process had left RUNNING: {', '.join(reaped)}")


def write_comparison(parent: dict, folder: Path) -> None:
    """The comparison report (green_mlflow.report) as the parent run's artifact; a failure is only a warning."""
    try:
        from green_mlflow.report import write_report

        html = write_report(parent["tracking_uri"], parent["run_id"], out=folder / "comparison.html")
        print(f"comparison report: {html} (and artifact report/ of the parent run)", flush=True)
    except Exception as err:  # the measurements are logged already; a report problem must not fail the sweep
        print(f"warning: the comparison report could not be written: {type(err).__name__}: {err}", flush=True)


def close_sweep(folder: Path, report: bool = True) -> int:
    """Print the summary, write the comparison report, close the parent run; return how many jobs did not finish."""
    parent = read_parent(folder)
    rows = read_ledger(folder)
    failed = sum(1 for r in rows if r["status"] not in OK_STATUSES)
    print("\n" + table(rows) if rows else "\nno jobs ran", flush=True)
    if parent:
        store = open_store(parent["tracking_uri"], parent["experiment_name"])
        for run_id, (metrics, tags) in break_even_for_sweep(rows).items():
            runs.log_values(store, run_id, metrics, tags)
        runs.log_file(store, parent["run_id"], folder / LEDGER, "summary")
        if report and rows:
            write_comparison(parent, folder)
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
        print(
            f"\n{len(rows) - failed} of {len(rows)} jobs finished{_skipped(rows)}; parent run {parent['run_id']} "
            f"in experiment '{parent['experiment_name']}'.\nSee them in the MLflow UI: {store.ui_hint()}",
            flush=True,
        )
    STATE["closed"] = True
    STATE["failed"] = failed if rows else 1
    return STATE["failed"]


def _skipped(rows: list[dict]) -> str:
    skipped = sum(1 for r in rows if r["status"] == "SKIPPED")
    return f" ({skipped} skipped: already FINISHED earlier)" if skipped else ""


def open_parent(store: Store, folder: Path, name: str, overrides: str) -> str:
    """Start the parent run (or adopt the one ``mlflow run`` started) and record it in ``folder``."""
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
        },
    )
    STATE.update(folder=folder, closed=False)
    return run_id


def measure_idle(store: Store, run_id: str, folder: Path, config: DictConfig) -> None:
    """The sweep's idle baseline, measured before any job and logged on the parent run."""
    measure = OmegaConf.to_container(config.measure, resolve=True)
    idle = baseline.idle_baseline(folder, measure, int(config.provider.device_id), print)
    baseline.log_on_parent(store, run_id, idle)
    if idle is not None:
        print(baseline.describe(idle), flush=True)


def _make_folder(key: str, folder: Path) -> None:
    """Create ``folder`` or stop with a short error (Hydra would print the OSError's traceback)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(
            f"error: {key}={folder} cannot be created ({err.strerror}): choose a folder you can write to",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(2) from err


def _check_jobs_compose(config: DictConfig) -> None:
    """Every job of the sweep composes, before its parent run exists (Hydra composes them only later)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    overrides = OverridesParser.create().parse_overrides(OmegaConf.to_container(config.hydra.overrides.task))
    (combinations,) = BasicSweeper.split_arguments(overrides, None)
    loader = GlobalHydra.instance().config_loader()
    for combination in combinations:
        try:
            loader.load_sweep_config(config, list(combination))
        except (HydraException, OmegaConfBaseException) as err:
            cause = f"\n{err.__cause__}" if isinstance(err.__cause__, OmegaConfBaseException) else ""
            print(f"error: {' '.join(combination)}: {err}{cause}", file=sys.stderr, flush=True)
            raise SystemExit(2) from err


class SweepRunCallback(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _make_folder("hydra.run.dir", Path(str(config.hydra.run.dir)))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _make_folder("hydra.sweep.dir", Path(str(config.hydra.sweep.dir)))
        _check_jobs_compose(config)
        # Hydra turns an exception raised here into a warning and launches the jobs anyway, each of
        # which would then fail without a parent run: a sweep that cannot open its store stops here.
        try:
            self._open(config)
        except TrackingError as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            raise SystemExit(2) from err
        except Exception as err:
            traceback.print_exc()
            print(f"error: the sweep could not start: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
            raise SystemExit(1) from err

    @staticmethod
    def _open(config: DictConfig) -> None:
        folder = Path(str(config.hydra.sweep.dir)).resolve()
        store = open_store(config.tracking.uri, config.tracking.experiment_name)
        reap_dead_runs_of(store)
        run_id = open_parent(
            store, folder, f"sweep {folder.name}", redact_overrides(OmegaConf.to_container(config.hydra.overrides.task))
        )
        print(f"sweep parent run {run_id} in experiment '{store.experiment_name}' ({redact(store.uri)})", flush=True)
        launcher = str(config.hydra.launcher.get("_target_", ""))
        if "Slurm" in launcher:  # jobs run on other nodes: the submitting host's idle belongs to none of them
            runs.log_values(store, run_id, {}, {"idle.status": "per node: each node's first job measures its idle"})
        else:
            measure_idle(store, run_id, folder, config)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        close_sweep(Path(str(config.hydra.sweep.dir)).resolve(), bool(config.report))
