"""The idle baseline of a sweep (docs/method.md rule 9): measured once per host before the jobs, reused by all.

The sweep's callback measures it on the submitting host and logs it on the parent run; a job that
runs on another host (a SLURM node) measures its own the first time, under a file lock in the sweep
folder, so every job subtracts the idle power of the machine it ran on.
"""

from __future__ import annotations

import fcntl
import json
import socket
import sys
from pathlib import Path

from green_mlflow.contract import ContractError, IdleResult, IdleSpec, MeasureSettings
from green_mlflow.launch import run_module
from green_mlflow.meters.base import MEASURED
from green_mlflow.tracking import runs
from green_mlflow.tracking.store import Store


def idle_path(folder: Path, device_id: int) -> Path:
    return folder / "idle" / f"{socket.gethostname()}-gpu{device_id}.json"


def idle_baseline(folder: Path, measure: MeasureSettings, device_id: int, progress) -> IdleResult | None:
    """This host's idle measurement for the sweep in ``folder``: read if there, else measured now.

    None when ``measure.idle_s`` is 0 (no baseline asked for). A failed measurement is returned (and
    kept) with ``status: failed`` so that jobs say why they have no net energy instead of retrying.
    """
    if measure.idle_s <= 0:
        return None
    path = idle_path(folder, device_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            try:
                return IdleResult.read(path)
            except (ContractError, json.JSONDecodeError) as err:
                progress(f"measuring idle again: {path} is unreadable ({err})")
        progress(f"measuring idle power for {measure.idle_s:g} s (measure.idle_s) on {socket.gethostname()} …")
        spec = IdleSpec(
            duration_s=measure.idle_s,
            device_id=device_id,
            cpu_tdp_w=measure.cpu_tdp_w,
            sample_interval_s=measure.sample_interval_s,
            output_dir=str(path.parent / path.stem),
        )
        timeout_s = measure.idle_s + 120
        workdir = path.parent / path.stem
        result = run_module(sys.executable, "green_mlflow.worker.idle", spec, workdir, timeout_s, IdleResult, progress)
        result.host_name = socket.gethostname()
        result.write(path)
        return result


def describe(idle: IdleResult) -> str:
    if not idle.ok:
        return f"idle baseline failed: {idle.error or 'no detail'}"
    powers = [f"{d} {e.power_w:.2f} W ({e.method})" for d, e in sorted(idle.domains.items()) if e.power_w is not None]
    return f"idle over {idle.duration_s:.1f} s: " + (", ".join(powers) or "no domain could be read")


def idle_values(idle: IdleResult) -> tuple[dict[str, float], dict[str, str]]:
    """Metrics and tags of an idle measurement, for the sweep's parent run (docs/metrics.md)."""
    metrics: dict[str, float] = {}
    tags = {"idle.host": idle.host_name or "", "idle.status": idle.status}
    if not idle.ok:
        tags["idle.error"] = (idle.error or "")[:5000]
        return metrics, tags
    metrics["idle_duration_s"] = idle.duration_s
    if idle.gpu_temp_c is not None:
        metrics["idle_gpu_temp_c"] = idle.gpu_temp_c
    for domain, entry in idle.domains.items():
        tags[f"idle.{domain}.method"] = entry.method
        tags[f"idle.{domain}.detail"] = entry.detail[:5000]
        if entry.power_w is not None:
            suffix = "" if entry.method in MEASURED else "_estimated"
            metrics[f"idle_{domain}_power{suffix}_w"] = entry.power_w
    return metrics, tags


def log_on_parent(store: Store, parent_run_id: str, idle: IdleResult | None) -> None:
    if idle is None:
        runs.log_values(store, parent_run_id, {}, {"idle.status": "not measured (measure.idle_s=0)"})
        return
    metrics, tags = idle_values(idle)
    runs.log_values(store, parent_run_id, metrics, tags)
    runs.log_json(store, parent_run_id, "idle.json", idle.to_dict(), "idle")
