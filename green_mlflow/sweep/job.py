"""One job from plan to MLflow: convert (runtime=onnx), measure in a worker process, log the child run."""

from __future__ import annotations

import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from green_mlflow.contract import IdleResult, Outcome, WorkerResult
from green_mlflow.convert import Conversion, ensure_onnx, user_onnx
from green_mlflow.envs import interpreter_for, software
from green_mlflow.launch import run_module
from green_mlflow.meters.base import MEASURED
from green_mlflow.plan import Job
from green_mlflow.study.runs import runtime_label
from green_mlflow.tracking import models, runs
from green_mlflow.tracking.metrics import (
    conversion_metrics,
    efficiency_metrics,
    energy_metrics,
    flatten_params,
    result_metrics,
    result_tags,
)
from green_mlflow.tracking.store import Store
from green_mlflow.tracking.view import RUNTIME_TAG
from green_mlflow.worker.sampler import read_trace


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "green_mlflow" / "onnx"
    return Path(os.environ.get("GREEN_MLFLOW_CACHE_DIR", default))


# what a child process says for itself; anything else it prints is its framework's (TensorFlow's oneDNN and
# absl banners, MXNet's warnings, exporters' chatter)
OWN_CHILD_LINES = ("[worker] ", "sampler: ")


class JobProgress:
    """A job's lines: its own always reach the terminal (stderr); its child processes' only when they are the
    worker's own or ``verbose=true``. All of them go to the job's log file (``logs/job.log`` of its run)."""

    def __init__(self, label: str, log_path: Path | None = None, verbose: bool = False):
        self.label, self.log_path, self.verbose = label, log_path, verbose
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)

    def _keep(self, line: str) -> None:
        if self.log_path is not None:
            with open(self.log_path, "a") as fh:
                fh.write(line + "\n")

    def _show(self, line: str) -> None:
        print(f"  [{self.label}] {line}", file=sys.stderr, flush=True)

    def __call__(self, line: str) -> None:
        self._keep(line)
        self._show(line)

    def child(self, line: str) -> None:
        """A line a child process printed (``launch.run_module`` hands them here)."""
        self._keep(line)
        if self.verbose or line.startswith(OWN_CHILD_LINES):
            self._show(line)


def say(label: str) -> JobProgress:
    return JobProgress(label)


def config_yaml(cfg) -> str:
    """The resolved config, without the tracking URI (it may carry credentials)."""
    config = OmegaConf.to_container(cfg, resolve=True)
    config.get("tracking", {}).pop("uri", None)
    return OmegaConf.to_yaml(config)


def job_params(cfg, job: Job) -> dict[str, str]:
    config = OmegaConf.to_container(cfg, resolve=True)
    config.pop("tracking", None)  # where runs go is not a property of the measurement (and may hold credentials)
    params = flatten_params(config)
    params["mode"] = job.mode  # resolved: "default" means the runtime's default
    if job.runtime == "onnx":  # the job's own: a user's ONNX file has no source framework (conf says torch)
        params["runtime.source"] = job.source or "file"
    return params


LEDGER_METRICS = (
    "latency_p50_ms",
    "throughput_samples_per_s",
    "energy_per_sample_gross_j",
    "energy_per_sample_net_j",
    "energy_per_sample_gross_estimated_j",
    "energy_per_sample_net_estimated_j",
)


def run_job(
    store: Store, parent_run_id: str, cfg, job: Job, out_dir: Path, idle: IdleResult | None = None, run_order: int = 0
) -> dict:
    """Measure ``job`` and log it as a child run. Returns a ledger row; never raises for a failed job.

    ``idle`` is this host's idle baseline (``green_mlflow.sweep.idle``): net energy and the cool-down's
    target temperature come from it.
    """
    progress = JobProgress(job.label, out_dir / "job.log", bool(cfg.get("verbose", False)))
    run_id = runs.start_child(
        store,
        parent_run_id,
        job.label,
        job_params(cfg, job),
        {
            "green.config_hash": job.config_hash(),
            RUNTIME_TAG: runtime_label(job.runtime, job.source),
            "green.software": job_software(job),
            "green.env": job.env_name,
            "green.run_order": str(run_order),
        },
    )
    row = {"job": job.label, "run_id": run_id, "config_hash": job.config_hash()}
    runs.log_text(store, run_id, "config.yaml", config_yaml(cfg))
    began = time.monotonic()
    try:
        reason = _measure_and_log(store, run_id, job, out_dir, progress, idle, JobOptions.of(cfg))
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (see __main__): this job stops here, its run says so
        runs.log_values(store, run_id, {}, {"green.status_reason": "interrupted (SIGINT or SIGTERM)"})
        runs.finish(store, run_id, "KILLED")
        raise
    except Exception as err:  # a bug or a store error: the sweep goes on, the run says why
        reason = failure_reason(err)
        runs.log_text(store, run_id, "error.txt", traceback.format_exc())
    status = "FAILED" if reason else "FINISHED"
    if progress.log_path.exists():  # everything the job and its processes said, framework noise included
        runs.log_text(store, run_id, "logs/job.log", progress.log_path.read_text(errors="replace"))
    ended = runs.ended_by_another(store, run_id)
    if ended is None:
        runs.log_values(store, run_id, {"job_wall_s": time.monotonic() - began}, {"green.status_reason": reason or ""})
        runs.finish(store, run_id, status)
    else:  # the launcher ended it (its node was declared failed, the job requeued): never a second life
        status, reason = ended
        row["replaces_run_id"] = run_id  # the launcher's row of this run, if it wrote one, gets this one's numbers
    row.update(status=status, reason=reason)
    data = store.client.get_run(run_id).data
    row.update(ledger_values(job, data.metrics))
    measured = {data.tags.get(f"energy.{d}.method") for d in ("gpu", "cpu", "dram")} & set(MEASURED)
    row["energy_method"] = "+".join(sorted(measured))
    progress(f"{status}{': ' + reason if reason else ''}")
    return row


def failure_reason(err: BaseException) -> str:
    """A job's failure in words. In a SLURM job submitit raises ``UncompletedJobError`` from its signal handler when
    the scheduler's warning arrives (``hydra.launcher.signal_delay_s`` before the time limit) and the job cannot be
    requeued: that is the time limit, and the run says so."""
    text = f"{type(err).__name__}: {err}"
    if type(err).__name__ == "UncompletedJobError" and "timed-out" in str(err):
        return f"stopped at its SLURM time limit (hydra.launcher.timeout_min; submitit: {text})"
    return text


def job_software(job: Job) -> str:
    """The tag ``green.software``: which software measures ``job`` (resume skips only the same software)."""
    return software(job.env_name, job.python, job.runtime)


def ledger_values(job: Job, metrics: dict[str, float]) -> dict:
    """What the sweep's ledger keeps of a job's run: its configuration and headline numbers."""
    values = {
        "repetition": job.repetition,
        "runtime": job.runtime,
        "source": job.source,
        "model": job.model["name"],
        "batch_size": job.batch_size,
        "provider": job.provider,
        "mode": job.mode,
    }
    values.update({key: metrics.get(key) for key in LEDGER_METRICS})
    values["conversion_energy_j"] = conversion_energy_j(metrics)
    return values


def conversion_energy_j(metrics: dict[str, float]) -> float | None:
    """Measured energy of the ONNX export (all domains a counter could read), or None."""
    parts = [v for k, v in metrics.items() if k.startswith("conversion_export_") and k.endswith("_energy_j")]
    return sum(parts) if parts else None


def _model_tags(job: Job) -> dict[str, str]:
    return {"green.model": job.model["name"], "green.source": job.source or "onnx file", "green.opset": str(job.opset)}


REGISTERED_METRICS = ("latency_p50_ms", "throughput_samples_per_s", *(m for m in LEDGER_METRICS if "energy" in m))


def _register(store: Store, run_id: str, job: Job, metrics: dict[str, float], progress) -> None:
    """``register=true``: the ONNX model this job measured as a Model Registry version (once per logged model),
    tagged with what the registering job measured (only metrics that exist: an estimate keeps its
    ``_estimated`` name)."""
    model_id = store.client.get_run(run_id).data.tags[models.MODEL_ID_TAG]
    name = models.registered_name(job.model["name"], job.source)
    tags = {k: f"{metrics[k]:.6g}" for k in REGISTERED_METRICS if metrics.get(k) is not None}
    tags.update(provider=job.provider, mode=job.mode, batch_size=str(job.batch_size), run_id=run_id)
    version, now = models.register(store, run_id, model_id, name, tags)
    progress(f"registered as {name} version {version}" if now else f"already registered: {name} version {version}")


@dataclass(frozen=True)
class JobOptions:
    """What the configuration asks of the logging, not of the measurement (outside the configuration hash)."""

    register: bool = False
    carbon_intensity_g_per_kwh: float | None = None
    carbon_source: str | None = None

    @classmethod
    def of(cls, cfg) -> JobOptions:
        carbon = cfg.get("carbon") or {}
        return cls(bool(cfg.get("register", False)), carbon.get("intensity_g_per_kwh"), carbon.get("source"))

    def carbon_tags(self) -> dict[str, str]:
        if self.carbon_intensity_g_per_kwh is None:
            return {}
        source = self.carbon_source or "not given (carbon.source=...)"
        return {"carbon.intensity_g_per_kwh": f"{self.carbon_intensity_g_per_kwh:g}", "carbon.source": source}


def _measure_and_log(
    store: Store, run_id: str, job: Job, out_dir: Path, progress, idle: IdleResult | None, options: JobOptions
) -> str | None:
    """Returns None on success, else the reason the job failed (already logged to the run)."""
    python = interpreter_for(job.env_name, job.runtime, job.python, progress)
    extra: dict = {}
    if job.runtime == "onnx":
        conversion = _onnx_model(job, out_dir, progress)
        report = conversion.report
        metrics, tags = conversion_metrics(report)
        tags.update({"onnx.cache_key": conversion.key, "onnx.cached": str(conversion.cached).lower()})
        runs.log_values(store, run_id, metrics, tags)
        runs.log_json(store, run_id, "conversion.json", report.to_dict(), "onnx")
        if report.parity is not None:
            runs.log_json(store, run_id, "parity.json", report.parity, "onnx")
        if not conversion.ok:
            _log_failure(store, run_id, report)
            return f"ONNX conversion failed: {report.error}"
        model_id, logged = models.log_once(
            store, run_id, conversion.onnx_path, conversion.key, _model_tags(job), note=progress.child
        )
        progress(f"ONNX model {'logged as' if logged else 'already logged in this experiment:'} models:/{model_id}")
        extra["onnx_path"] = str(conversion.onnx_path)
        if job.provider == "tensorrt":
            # engines take minutes to build: cached beside the model they were built from, and built during
            # warm-up (ONNX Runtime builds on the first run), never inside a measured window
            extra["trt_cache_dir"] = str(cache_dir() / "tensorrt" / conversion.key)
    if idle is not None and idle.ok:
        extra["idle_temp_c"] = idle.gpu_temp_c  # the cool-down's target
    spec = job.spec(str(out_dir / "worker"), **extra)
    result = run_module(
        python,
        "green_mlflow.worker",
        spec,
        out_dir / "worker",
        job.measure.timeout_s,
        WorkerResult,
        progress,
        allocator=job.allocator,
    )
    runs.log_json(store, run_id, "spec.json", spec.to_dict())
    runs.log_json(store, run_id, "result.json", result.to_dict())
    if not result.ok:
        _log_failure(store, run_id, result)
        return result.error or "the worker failed"
    metrics = result_metrics(result)
    e_metrics, e_tags = energy_metrics(result.energy, idle)
    e_metrics.update(efficiency_metrics(e_metrics, options.carbon_intensity_g_per_kwh))
    e_tags.update(options.carbon_tags())
    tags = {**result_tags(result), **e_tags}
    if tags.get("green.gpu_contention", "").startswith("detected"):
        progress(f"warning: {tags['green.gpu_contention']}")
    for domain, entry in result.energy.items():
        if entry.errors:  # the run keeps the clean windows (or says unavailable); the user hears why
            progress(f"warning: {domain} energy: {'; '.join(entry.errors)[:500]}")
    if "parameter_count" in result.info:
        metrics["model_parameters"] = result.info["parameter_count"]
    runs.log_values(store, run_id, {**metrics, **e_metrics}, tags)
    if options.register and job.runtime == "onnx":
        _register(store, run_id, job, {**metrics, **e_metrics}, progress)
    trace_path = Path(result.traces.utilisation)
    runs.log_steps(store, run_id, result, read_trace(trace_path), job.device_id)
    runs.log_file(store, run_id, trace_path, "traces")
    if result.traces.latency is not None:  # the throughput scenario times no single iteration
        runs.log_file(store, run_id, Path(result.traces.latency), "traces")
    runs.log_json(
        store,
        run_id,
        "environment.json",
        {"host": result.host, "gpu": result.gpu, "runtime": result.info, "python": python},
    )
    return None


def _onnx_model(job: Job, out_dir: Path, progress) -> Conversion:
    """The ONNX model a job runs: the user's own file (``model=onnx_file``, no source framework) or the
    study model converted from its source framework (cached)."""
    if job.source is None:
        return user_onnx(job.model, progress)
    source_python = interpreter_for(job.source, job.source, None, progress)
    return ensure_onnx(
        python=source_python,
        source=job.source,
        model=job.model,
        batch_size=job.batch_size,
        seed=job.seed,
        opset=job.opset,
        cache_dir=cache_dir(),
        workdir=out_dir / "convert",
        timeout_s=job.measure.timeout_s,
        progress=progress,
    )


def _log_failure(store: Store, run_id: str, result: Outcome) -> None:
    text = "\n\n".join(part for part in (result.error, result.traceback, result.stderr_tail) if part)
    runs.log_text(store, run_id, "error.txt", text or "no detail")
