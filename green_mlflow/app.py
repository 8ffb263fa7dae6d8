"""The Hydra application: ``python -m green_mlflow [-m] overrides``.

Each Hydra job is planned (refused or pruned with its reason if invalid), then measured and logged
as a child run of the sweep's parent run (see ``tracking.callback``). A single run (no ``-m``) gets
a parent run of its own, so both cases look the same in MLflow.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from green_mlflow.config import register_schemas
from green_mlflow.plan import PlanError, plan_job
from green_mlflow.redaction import redact_log_records, redact_overrides
from green_mlflow.sweep.idle import idle_baseline
from green_mlflow.sweep.job import job_software, ledger_values, run_job, say
from green_mlflow.sweep.ledger import read_parent, record
from green_mlflow.sweep.lifecycle import FolderTaken, close_sweep, measure_idle, open_parent, reap_dead_runs_of
from green_mlflow.sweep.outcome import current, duration
from green_mlflow.tracking import runs
from green_mlflow.tracking.store import TrackingError, open_store, store_error_text, store_errors

register_schemas()


redact_log_records()
CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")


def _label(hc) -> str:
    return redact_overrides(OmegaConf.to_container(hc.overrides.task)) or "(defaults)"


def _already_finished(store, cfg: DictConfig, job, folder: Path | None) -> bool:
    """Resume (unless ``rerun=true``): a FINISHED run of this configuration hash and repetition exists, measured by
    the same software (``green.software``: the runtime environment's fingerprint, or the user's interpreter)."""
    if cfg.rerun:
        return False
    software = job_software(job)
    done = runs.find_finished(store, job.config_hash(), job.repetition, software)
    if done is None:
        earlier = runs.find_finished(store, job.config_hash(), job.repetition)
        if earlier is not None:
            print(
                f"  measuring again: run {earlier.info.run_id} FINISHED this configuration with other software "
                f"(green.software {earlier.data.tags.get('green.software', 'not recorded')} → {software}: the "
                f"environment {job.env_name} or the interpreter changed)",
                flush=True,
            )
        return False
    print(
        f"  skipped: run {done.info.run_id} already FINISHED this configuration (hash {job.config_hash()}, "
        f"repetition {job.repetition}, same software); rerun=true measures it again",
        flush=True,
    )
    if folder is not None:
        row = {"job": job.label, "status": "SKIPPED", "run_id": done.info.run_id, "config_hash": job.config_hash()}
        row.update(ledger_values(job, done.data.metrics))
        row["reason"] = f"already FINISHED as run {done.info.run_id}"
        record(folder, row)
    return True


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> None:
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    out_dir = Path(hc.runtime.output_dir)
    folder = Path(hc.sweep.dir).resolve() if multirun else out_dir
    outcome, began = current(), time.monotonic()
    k = int(hc.job.num) + 1 if multirun else 1
    terminal = sys.stdout.isatty()  # a bar of the jobs done leads the line on a terminal; plain lines otherwise
    header = f"{outcome.progress(k, began, terminal)}: {_label(hc)}" if multirun else _label(hc)
    print(f"\n[green_mlflow] {header}", flush=True)
    _plan_and_run(cfg, hc, multirun, folder, out_dir)
    if multirun:  # the estimate counts every job, pruned and skipped ones too (they are quick)
        now = time.monotonic()
        outcome.job_durations_s.append(now - began)
        print(f"[green_mlflow] {outcome.progress(k, now, terminal)}: done in {duration(now - began)}", flush=True)


def _plan_and_run(cfg: DictConfig, hc, multirun: bool, folder: Path, out_dir: Path) -> None:
    try:
        job = plan_job(cfg)
    except PlanError as err:
        if not multirun:
            print(f"error: {err}", file=sys.stderr, flush=True)
            current().refuse()
            return
        print(f"  pruned: {err}", flush=True)
        record(folder, {"job": _label(hc), "status": "PRUNED", "reason": str(err)})
        return
    lost = current().store_lost
    if multirun and lost:
        print("  not measured: the tracking store stopped answering earlier in this sweep (see above)", flush=True)
        record(folder, {"job": job.label, "status": "NOT MEASURED", "reason": "tracking store unreachable (see above)"})
        return
    try:
        _measure_and_log(cfg, hc, job, folder, out_dir, multirun)
    except store_errors() as err:
        _store_lost(folder, job.label, err, multirun)


def _store_lost(folder: Path, label: str, err: BaseException, multirun: bool) -> None:
    """The tracking store stopped answering (a server stopped, a network gone): one clear message, no
    traceback; the jobs logged so far stay, later jobs of the sweep are not measured (they could not be logged)."""
    reason = store_error_text(err)
    outcome = current()
    outcome.store_lost, outcome.failed = reason, outcome.failed + 1
    rest = " The later jobs of this sweep are not measured." if multirun else ""
    print(
        f"error: job {label} could not be logged: {reason}.{rest} The runs logged before stay; when the store answers "
        "again, run the same command: it measures only what is missing (resume).",
        file=sys.stderr,
        flush=True,
    )
    record(folder, {"job": label, "status": "FAILED", "reason": f"tracking store unreachable: {reason}"})


def _measure_and_log(cfg: DictConfig, hc, job, folder: Path, out_dir: Path, multirun: bool) -> None:
    if multirun:
        parent = read_parent(folder)
        if parent is None:
            raise RuntimeError(f"no parent run recorded in {folder}: is the SweepRunCallback configured?")
        store = open_store(parent["tracking_uri"], parent["experiment_name"])
        parent_run_id = parent["run_id"]
        if _already_finished(store, cfg, job, folder):
            return
    else:
        try:
            store = open_store(cfg.tracking.uri, cfg.tracking.experiment_name)
        except TrackingError as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            current().refuse()
            return
        reap_dead_runs_of(store)
        if _already_finished(store, cfg, job, None):
            current().closed = True
            return
        try:
            parent_run_id = open_parent(store, folder, f"run {out_dir.name}", _label(hc))
        except FolderTaken as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            current().refuse()
            return
        if job.measure.repetitions > 1:
            print(
                f"  note: measure.repetitions={job.measure.repetitions} applies to sweeps (-m); this run measures once"
            )
        measure_idle(store, parent_run_id, folder, job.measure, job.device_id)
    idle = idle_baseline(folder, job.measure, job.device_id, say(job.label))
    record(folder, run_job(store, parent_run_id, cfg, job, out_dir, idle, run_order=int(hc.job.num) if multirun else 0))
    if not multirun:
        close_sweep(folder, bool(cfg.report))
