"""MLflow runs: the sweep's parent run and one child run per job, written with an explicit client.

``parent_run_id`` is passed explicitly (as the ``mlflow.parentRunId`` tag) rather than with
``nested=True``, which only works inside one process (docs/design.md decision 5).
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from pathlib import Path

import psutil
from mlflow.entities import Metric, Param, RunTag
from mlflow.utils.time import get_current_time_millis

from green_mlflow import __version__
from green_mlflow.contract import WorkerResult
from green_mlflow.meters.base import MEASURED
from green_mlflow.redaction import redact_text
from green_mlflow.tracking.store import Store

BATCH = 900  # MLflow accepts at most 1000 metrics per log_batch
MIB_TO_MB = 2**20 / 1e6  # the sampler counts memory in MiB; MLflow's system metrics in megabytes (10^6 bytes)
# sampler column → (metric name, factor). Where MLflow has a system metric for the quantity, its name, so the
# run page's System Metrics tab charts it ({gpu}: the device index measured); our own names for the rest.
TRACE_METRICS = {
    "process_cpu_percent": ("trace_cpu_util_process_percent", 1.0),
    "process_rss_mb": ("trace_process_rss_mb", 1.0),
    "system_cpu_percent": ("system/cpu_utilization_percentage", 1.0),
    "system_mem_used_mib": ("system/system_memory_usage_megabytes", MIB_TO_MB),
    "gpu_util_percent": ("system/gpu_{gpu}_utilization_percentage", 1.0),
    "gpu_mem_used_mb": ("system/gpu_{gpu}_memory_usage_megabytes", MIB_TO_MB),
    "gpu_power_w": ("system/gpu_{gpu}_power_usage_watts", 1.0),
}


def owner_tags() -> dict[str, str]:
    """Which process owns a run, so that a later start can tell a live run from one whose process died; in a
    SLURM job, the job (``slurm.job_id`` as submitit names it: ``<array job>_<task>`` for an array task), its
    node and partition, so that the sweep can end the run of a job the scheduler ended (``sweep.slurm``)."""
    me = psutil.Process()
    return {
        "green.host": socket.gethostname(),
        "green.pid": str(me.pid),
        "green.pid_started": f"{me.create_time():.3f}",
        **slurm_tags(os.environ),
    }


def slurm_tags(env) -> dict[str, str]:
    if not env.get("SLURM_JOB_ID"):
        return {}
    array, task = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
    tags = {"slurm.job_id": f"{array}_{task}" if array and task else env["SLURM_JOB_ID"]}
    names = (("slurm.node", "SLURMD_NODENAME"), ("slurm.partition", "SLURM_JOB_PARTITION"),
             ("slurm.restart_count", "SLURM_RESTART_COUNT"))  # set from the first requeue on: which attempt  # fmt: skip
    for tag, name in names:
        if env.get(name):
            tags[tag] = env[name]
    return tags


def children_of_slurm_job(store: Store, parent_run_id: str, slurm_job_id: str) -> list:
    """The job runs under ``parent_run_id`` that SLURM job ``slurm_job_id`` started."""
    return store.client.search_runs(
        [store.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}' and tags.`slurm.job_id` = '{slurm_job_id}'",
        max_results=100,
    )


def _clean(values: dict[str, str]) -> dict[str, str]:
    """Tags and params as they leave the process: without credentials (``green_mlflow.redaction``)."""
    return {k: redact_text(str(v)) for k, v in values.items()}


def start_parent(store: Store, name: str, tags: dict[str, str]) -> str:
    run = store.client.create_run(
        store.experiment_id,
        run_name=redact_text(name),
        tags=_clean({"green.kind": "sweep", "version.green_mlflow": __version__, **owner_tags(), **tags}),
    )
    return run.info.run_id


def start_child(store: Store, parent_run_id: str, name: str, params: dict[str, str], tags: dict[str, str]) -> str:
    run = store.client.create_run(
        store.experiment_id,
        run_name=redact_text(name),
        tags=_clean(
            {
                "mlflow.parentRunId": parent_run_id,
                "green.kind": "job",
                "version.green_mlflow": __version__,
                **owner_tags(),
                **tags,
            }
        ),
    )
    store.client.log_batch(run.info.run_id, params=[Param(k, v[:6000]) for k, v in _clean(params).items()])
    return run.info.run_id


def log_values(store: Store, run_id: str, metrics: dict[str, float], tags: dict[str, str]) -> None:
    now = get_current_time_millis()
    metric_list = [Metric(k, float(v), now, 0) for k, v in metrics.items() if v is not None]
    tag_list = [RunTag(k, v[:8000]) for k, v in _clean(tags).items()]
    for i in range(0, max(len(metric_list), 1), BATCH):
        store.client.log_batch(run_id, metrics=metric_list[i : i + BATCH], tags=tag_list if i == 0 else [])


def log_steps(store: Store, run_id: str, result: WorkerResult, trace: dict[str, list], gpu_index: int = 0) -> None:
    """Per-window metrics and the utilisation trace as step metrics with wall-clock timestamps (plotted by the
    MLflow UI: the ``system/`` ones in its System Metrics tab)."""
    names = {column: (name.format(gpu=gpu_index), factor) for column, (name, factor) in TRACE_METRICS.items()}
    now = get_current_time_millis()
    metrics = []
    for index, window in enumerate(result.windows):
        if window.latency_p50_ms is not None:  # None in the throughput scenario
            metrics.append(Metric("window_latency_p50_ms", window.latency_p50_ms, now, index))
        if window.batch_time_ms is not None:
            metrics.append(Metric("window_batch_time_ms", window.batch_time_ms, now, index))
        metrics.append(Metric("window_throughput_samples_per_s", window.samples / window.duration_s, now, index))
    for domain, entry in result.energy.items():
        suffix = "" if entry.method in MEASURED else "_estimated"
        for index, (window, energy_j) in enumerate(zip(result.windows, entry.window_energy_j)):
            if energy_j is not None:
                metrics.append(
                    Metric(f"window_{domain}_energy_per_sample{suffix}_j", energy_j / window.samples, now, index)
                )
    offset_s = result.clock_offset_s
    for step, t_s in enumerate(trace.get("t_s", [])):
        stamp = int((t_s + offset_s) * 1000)
        for column, (name, factor) in names.items():
            value = trace[column][step]
            if value is not None:
                metrics.append(Metric(name, value * factor, stamp, step))
    for i in range(0, len(metrics), BATCH):
        store.client.log_batch(run_id, metrics=metrics[i : i + BATCH])


def log_json(store: Store, run_id: str, name: str, payload: object, artifact_path: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(redact_text(json.dumps(payload, indent=2, default=str)))
        store.client.log_artifact(run_id, str(path), artifact_path)


def log_text(store: Store, run_id: str, name: str, text: str) -> None:
    """``text`` as the artifact ``name`` (``folder/file`` allowed), redacted."""
    folder, _, filename = name.rpartition("/")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / filename
        path.write_text(redact_text(text))
        store.client.log_artifact(run_id, str(path), folder or None)


def log_file(store: Store, run_id: str, path: Path, artifact_path: str | None = None) -> None:
    """A file as it is (a model, a numeric trace, the ledger: nothing in them passed through a user's text
    unredacted); text goes through ``log_text`` / ``log_json``."""
    if path.exists():
        store.client.log_artifact(run_id, str(path), artifact_path)


def finish(store: Store, run_id: str, status: str) -> None:
    store.client.set_terminated(run_id, status)


def ended_by_another(store: Store, run_id: str) -> tuple[str, str] | None:
    """The status and ``green.status_reason`` of a run that something else ended while its own process still ran
    (the SLURM launcher, when the scheduler requeued or cancelled the job: ``sweep.slurm_runs``); None while it is
    RUNNING."""
    run = store.client.get_run(run_id)
    if run.info.status == "RUNNING":
        return None
    return run.info.status, run.data.tags.get("green.status_reason", "")


def find_finished(store: Store, config_hash: str, repetition: int, software: str | None = None):
    """A FINISHED job run of this configuration hash and repetition in the experiment (with ``software``: measured
    by that software, tag ``green.software``), or None."""
    same = f" and tags.`green.software` = '{software}'" if software else ""
    found = store.client.search_runs(
        [store.experiment_id],
        filter_string=(
            f"tags.`green.config_hash` = '{config_hash}' and params.repetition = '{repetition}' "
            f"and attributes.status = 'FINISHED'{same}"
        ),
        max_results=1,
    )
    return found[0] if found else None


def owner_alive(tags: dict[str, str]) -> bool:
    """Is the process named by ``owner_tags`` (on this host) still running?"""
    if tags.get("green.host", socket.gethostname()) != socket.gethostname():
        return True  # another host's process: it cannot be checked from here, so it is not taken over
    return _owner_alive(tags)


def _owner_alive(tags: dict[str, str]) -> bool:
    try:
        process = psutil.Process(int(tags["green.pid"]))
        return abs(process.create_time() - float(tags["green.pid_started"])) < 1.0  # not a reused pid
    except (psutil.NoSuchProcess, KeyError, ValueError):
        return False


def reap_dead_runs(store: Store) -> list[str]:
    """Mark KILLED the runs of this experiment left RUNNING by a green_mlflow process on this host that is gone
    (a SIGKILL, a power cut). Runs owned by other hosts, or by live processes, are left alone."""
    host = socket.gethostname()
    running = store.client.search_runs(
        [store.experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`green.host` = '{host}'",
        max_results=5000,
    )
    reaped = []
    for run in running:
        tags = run.data.tags
        if os.environ.get("MLFLOW_RUN_ID") == run.info.run_id or _owner_alive(tags):
            continue
        reason = (
            f"left RUNNING by a process that is gone (pid {tags.get('green.pid')} on {host}); "
            f"marked KILLED at {time.strftime('%Y-%m-%d %H:%M:%S')} by the next start"
        )
        log_values(store, run.info.run_id, {}, {"green.status_reason": reason})
        finish(store, run.info.run_id, "KILLED")
        reaped.append(run.info.run_id)
    return reaped
