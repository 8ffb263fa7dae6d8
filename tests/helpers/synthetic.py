"""Synthetic sweeps written to a real MLflow store, shaped as docs/metrics.md says real ones are.

For the report's tests and its render-time benchmark, and for trying the view without measuring: every
job gets the params, tags and metrics a real job logs (energy estimated or measured, gross and net,
latency, utilisation traces as step metrics), and the parent gets ``summary/jobs.jsonl``.
"""

from __future__ import annotations

import json
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

BATCH = 900  # MLflow takes at most 1000 metrics per log_batch
# What else a real job logs (docs/metrics.md), so that loading synthetic runs costs what loading real ones does.
FILLER_PARAMS = {
    **{f"measure.{k}": "1" for k in ("warmup_min_iterations", "warmup_min_s", "windows", "window_min_iterations",
                                      "window_min_s", "window_rest_s", "sample_interval_s", "timeout_s", "cpu_tdp_w",
                                      "idle_s", "cooldown_s", "repetitions")},
    **{f"model.{k}": "1" for k in ("kind", "image_size", "seq_len", "vocab_size", "hidden_size", "num_layers",
                                    "num_heads", "intermediate_size", "parity_tol")},
    "measure": "default", "runtime.opset": "17", "runtime.python": "null", "provider.device_id": "0",
}  # fmt: skip
FILLER_TAGS = {
    **{f"host.{k}": "synthetic" for k in ("cpu_model", "cpu_cores", "ram_gb", "os", "name", "python")},
    **{f"version.{k}": "0.0" for k in ("green_mlflow", "torch", "onnxruntime")},
    "provider.in_use": "CPUExecutionProvider", "sampler.interval_s": "0.1", "sampler.samples": "20",
    "green.env": "synthetic", "green.run_order": "0", "green.gpu_contention": "not checked: synthetic",
}  # fmt: skip
FILLER_METRICS = (
    "latency_p90_ms", "latency_std_ms", "latency_min_ms", "latency_max_ms", "latency_iterations", "measured_samples",
    "measured_duration_s", "windows", "model_load_s", "warmup_duration_s", "warmup_iterations", "job_wall_s",
    "cpu_util_process_percent", "cpu_util_system_percent", "process_rss_peak_mb", "cooldown_wait_s",
    "minor_page_faults_per_iteration", "cpu_energy_gross_estimated_j", "cpu_energy_net_estimated_j",
    "cpu_power_mean_estimated_w", "cpu_idle_power_estimated_w", "cpu_warmup_energy_estimated_j",
    "cpu_load_energy_estimated_j",
)  # fmt: skip


@dataclass
class Job:
    """One synthetic job run; ``energy_j``/``latency_ms`` are per-sample / per-batch means, None = not logged."""

    runtime: str
    mode: str
    model: str = "mobilenet_v2"
    batch_size: int = 1
    provider: str = "cpu"
    source: str | None = None
    repetition: int = 0
    energy_j: float | None = 1.0
    latency_ms: float | None = 10.0
    estimated: bool = True
    status: str = "FINISHED"
    reason: str = ""
    run_name: str | None = None
    trace_steps: int = 0
    extra_params: dict[str, str] = field(default_factory=dict)
    extra_tags: dict[str, str] = field(default_factory=dict)
    carbon_g_per_kwh: float | None = None  # a sweep given carbon.intensity_g_per_kwh logs CO2e per 1,000 samples
    cpu_percent: float | None = None  # the process's mean CPU utilisation (default: the filler's 1.0)


def job_metrics(job: Job) -> dict[str, float]:
    """The scalar metrics a finished job logs; energy under ``_estimated_`` names when estimated."""
    metrics: dict[str, float] = {}
    if job.status == "FINISHED":
        metrics.update(dict.fromkeys(FILLER_METRICS, 1.0))
        if job.cpu_percent is not None:
            metrics["cpu_util_process_percent"] = job.cpu_percent
    if job.latency_ms is not None:
        metrics.update(
            latency_mean_ms=job.latency_ms,
            latency_p50_ms=job.latency_ms * 0.98,
            latency_p99_ms=job.latency_ms * 1.3,
            throughput_samples_per_s=1000.0 * job.batch_size / job.latency_ms,
        )
    if job.energy_j is not None:
        est = "_estimated" if job.estimated else ""
        domain = "cpu" if job.provider == "cpu" else "gpu"
        net = job.energy_j * 0.8  # an idle share of 20%, as a fixed story
        metrics[f"{domain}_energy_per_sample_gross{est}_j"] = job.energy_j
        metrics[f"{domain}_energy_per_sample_net{est}_j"] = net
        metrics[f"energy_per_sample_gross{est}_j"] = job.energy_j
        metrics[f"energy_per_sample_net{est}_j"] = net
        if job.carbon_g_per_kwh is not None:
            for kind, joules in (("gross", job.energy_j), ("net", net)):
                metrics[f"co2e_{kind}{est}_g_per_1000_samples"] = job.carbon_g_per_kwh * joules * 1000 / 3.6e6
    return metrics


def job_tags(job: Job) -> dict[str, str]:
    domain = "cpu" if job.provider == "cpu" else "gpu"
    method = "estimated" if job.estimated else "counter"
    tags = {
        "green.kind": "job",
        "green.config_hash": f"{job.runtime}-{job.source}-{job.mode}-{job.model}-{job.batch_size}-{job.provider}",
        "green.status_reason": job.reason,
        f"energy.{domain}.method": method if job.energy_j is not None else "unavailable",
        f"energy.{domain}.detail": "synthetic: " + ("TDP model" if job.estimated else "counter at window edges"),
        f"energy.{domain}.idle": "idle 10.000 W over 3.0 s on synthetic",
    }
    for other in {"gpu", "cpu", "dram"} - {domain}:
        tags[f"energy.{other}.method"] = "unavailable"
        tags[f"energy.{other}.detail"] = "synthetic: not metered"
    return {**FILLER_TAGS, **tags, **job.extra_tags}


def job_params(job: Job) -> dict[str, str]:
    return {
        **FILLER_PARAMS,
        "runtime": job.runtime,
        "runtime.source": job.source or "null",
        "mode": job.mode,
        "model": job.model,
        "batch_size": str(job.batch_size),
        "provider": job.provider,
        "repetition": str(job.repetition),
        "seed": "0",
        **job.extra_params,
    }


def _trace(job: Job, start_ms: int) -> list[Metric]:
    rng = random.Random(f"{job.runtime}/{job.source}/{job.mode}/{job.repetition}")  # str seeds are stable
    points = []
    for step in range(job.trace_steps):
        stamp = start_ms + step * 100
        points.append(Metric("trace_cpu_util_process_percent", 80 + 20 * rng.random(), stamp, step))
        if job.provider != "cpu":
            points.append(Metric("system/gpu_0_power_usage_watts", 150 + 50 * rng.random(), stamp, step))
    return points


def log_job(client: MlflowClient, experiment_id: str, parent_run_id: str, job: Job) -> str:
    """Create one child run as a real job would leave it; returns its run id."""
    name = (
        job.run_name or f"{job.runtime} {job.model} bs={job.batch_size} {job.provider} {job.mode} rep={job.repetition}"
    )
    run = client.create_run(experiment_id, run_name=name, tags={"mlflow.parentRunId": parent_run_id, **job_tags(job)})
    metrics = [Metric(k, v, run.info.start_time, 0) for k, v in job_metrics(job).items()]
    metrics += _trace(job, run.info.start_time)
    params = [Param(k, v) for k, v in job_params(job).items()]
    for i in range(0, max(len(metrics), 1), BATCH):
        client.log_batch(run.info.run_id, metrics=metrics[i : i + BATCH], params=params if i == 0 else [])
    client.set_terminated(run.info.run_id, job.status)
    return run.info.run_id


def make_sweep(
    client: MlflowClient,
    experiment: str,
    jobs: list[Job],
    pruned: list[tuple[str, str]] = (),
    name: str = "synthetic sweep",
    ledger: bool = True,
) -> str:
    """A parent run (``green.kind=sweep``) with ``jobs`` as children and ``pruned`` (job, reason) in its
    ``summary/jobs.jsonl``; returns the parent run id. The experiment is created if missing."""
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    parent = client.create_run(
        experiment_id, run_name=name, tags={"green.kind": "sweep", "green.overrides": "synthetic"}
    )
    parent_id = parent.info.run_id
    client.log_batch(parent_id, metrics=[Metric("idle_cpu_power_estimated_w", 10.0, parent.info.start_time, 0)])
    rows = []
    for job in jobs:
        run_id = log_job(client, experiment_id, parent_id, job)
        rows.append({"job": job.run_name or job.runtime, "status": job.status, "reason": job.reason, "run_id": run_id})
    rows += [{"job": job, "status": "PRUNED", "reason": reason} for job, reason in pruned]
    if ledger:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "jobs.jsonl"
            path.write_text("".join(json.dumps(row) + "\n" for row in rows))
            client.log_artifact(parent_id, str(path), "summary")
    client.set_terminated(parent_id, "FINISHED")
    return parent_id


def study(repetitions: int, seed: int = 0, trace_steps: int = 20) -> list[Job]:
    """A study-shaped sweep: 3 models × 2 batch sizes × 6 runtimes (onnx from each framework) × repetitions."""
    rng = random.Random(seed)
    runtimes = [("torch", None, "eager"), ("tf", None, "function"), ("mxnet", None, "hybrid")]
    runtimes += [("onnx", source, "ort_all") for source in ("torch", "tf", "mxnet")]
    jobs = []
    for m, model in enumerate(("resnet50", "mobilenet_v2", "bert_base")):
        for batch_size in (1, 64):
            for r, (runtime, source, mode) in enumerate(runtimes):
                base_j = (0.5 + m) * (1 + 0.15 * r) * (1 if batch_size == 1 else 0.3)
                for rep in range(repetitions):
                    jobs.append(
                        Job(
                            runtime, mode, model, batch_size, "cpu", source, rep,
                            energy_j=base_j * rng.gauss(1, 0.05),
                            latency_ms=base_j * 20 * batch_size**0.5 * rng.gauss(1, 0.05),
                            trace_steps=trace_steps,
                        )
                    )  # fmt: skip
    return jobs
