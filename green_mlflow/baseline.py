"""The idle baseline of a sweep (METHOD.md rule 9): measured once per host before the jobs, reused by all.

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

from green_mlflow.meters.base import MEASURED
from green_mlflow.tracking import runs
from green_mlflow.tracking.store import Store
from green_mlflow.worker.launch import run_module


def idle_path(folder: Path, device_id: int) -> Path:
    return folder / "idle" / f"{socket.gethostname()}-gpu{device_id}.json"


def idle_baseline(folder: Path, measure: dict, device_id: int, progress) -> dict | None:
    """This host's idle measurement for the sweep in ``folder``: read if there, else measured now.

    None when ``measure.idle_s`` is 0 (no baseline asked for). A failed measurement is returned (and
    kept) with ``status: failed`` so that jobs say why they have no net energy instead of retrying.
    """
    if float(measure.get("idle_s", 0)) <= 0:
        return None
    path = idle_path(folder, device_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            return json.loads(path.read_text())
        progress(f"measuring idle power for {measure['idle_s']:g} s (measure.idle_s) on {socket.gethostname()} …")
        spec = {
            "duration_s": float(measure["idle_s"]),
            "device_id": device_id,
            "cpu_tdp_w": measure.get("cpu_tdp_w"),
            "sample_interval_s": measure.get("sample_interval_s", 0.1),
            "output_dir": str(path.parent / path.stem),
        }
        timeout_s = float(measure["idle_s"]) + 120
        result = run_module(
            sys.executable, "green_mlflow.worker.idle", spec, path.parent / path.stem, timeout_s, progress
        )
        result["host_name"] = socket.gethostname()
        path.write_text(json.dumps(result, indent=2))
        return result


def describe(idle: dict) -> str:
    if idle.get("status") != "ok":
        return f"idle baseline failed: {idle.get('error', 'no detail')}"
    powers = [f"{d} {e['power_w']:.2f} W ({e['method']})" for d, e in sorted(idle["domains"].items()) if "power_w" in e]
    return f"idle over {idle['duration_s']:.1f} s: " + (", ".join(powers) or "no domain could be read")


def idle_values(idle: dict) -> tuple[dict[str, float], dict[str, str]]:
    """Metrics and tags of an idle measurement, for the sweep's parent run (docs/metrics.md)."""
    metrics: dict[str, float] = {}
    tags = {"idle.host": str(idle.get("host_name", "")), "idle.status": idle.get("status", "failed")}
    if idle.get("status") != "ok":
        tags["idle.error"] = str(idle.get("error", ""))[:5000]
        return metrics, tags
    metrics["idle_duration_s"] = idle["duration_s"]
    if idle.get("gpu_temp_c") is not None:
        metrics["idle_gpu_temp_c"] = idle["gpu_temp_c"]
    for domain, entry in idle["domains"].items():
        tags[f"idle.{domain}.method"] = entry["method"]
        tags[f"idle.{domain}.detail"] = entry["detail"][:5000]
        if "power_w" in entry:
            suffix = "" if entry["method"] in MEASURED else "_estimated"
            metrics[f"idle_{domain}_power{suffix}_w"] = entry["power_w"]
    return metrics, tags


def log_on_parent(store: Store, parent_run_id: str, idle: dict | None) -> None:
    if idle is None:
        runs.log_values(store, parent_run_id, {}, {"idle.status": "not measured (measure.idle_s=0)"})
        return
    metrics, tags = idle_values(idle)
    runs.log_values(store, parent_run_id, metrics, tags)
    runs.log_json(store, parent_run_id, "idle.json", idle, "idle")
