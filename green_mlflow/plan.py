"""Validate a composed config and turn it into a job: what runs where, decided before anything runs.

Hydra already rejects unknown groups, unknown options and wrong types; this module checks what
depends on several fields at once (which providers and modes a runtime offers, sane sizes) and
says what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

from green_mlflow.config.schema import GreenConfig
from green_mlflow.runtimes.modes import DEFAULT_MODE, MODES

PROVIDERS = {
    "torch": ("cpu", "cuda"),
    "tf": ("cpu", "cuda"),
    "mxnet": ("cpu", "cuda"),
    "onnx": ("cpu", "cuda", "tensorrt"),
}
ONNX_SOURCES = ("torch", "tf", "mxnet")
GPU_ENVS = {"onnx": "onnx-gpu", "tf": "tf-gpu", "mxnet": "mxnet-gpu"}  # torch's wheel already carries CUDA
MAX_BATCH_SIZE = 4096
MIN_GPU_WINDOW_S = 1.0  # METHOD.md rule 8: NVML's counter is not trustworthy below this
MAX_REPETITIONS = 1000
MODE_PROVIDERS = {("torch", "cuda_graph"): ("cuda",)}  # modes that exist only on some providers
# measure settings that say how many runs and what surrounds them, not how one run is measured
NOT_HASHED_MEASURE = ("repetitions", "idle_s")


class PlanError(ValueError):
    """The configuration asks for something that cannot run; the message says what is allowed."""


@dataclass(frozen=True)
class Job:
    """Everything a job needs after validation; ``spec()`` is what the worker receives."""

    runtime: str
    source: str | None
    model: dict
    provider: str
    device_id: int
    mode: str
    batch_size: int
    seed: int
    opset: int
    measure: dict
    python: str | None
    repetition: int = 0

    @property
    def env_name(self) -> str:
        """The managed environment this job's worker runs in."""
        if self.provider != "cpu":
            return GPU_ENVS.get(self.runtime, self.runtime)
        return self.runtime

    @property
    def label(self) -> str:
        runtime = f"onnx(from {self.source})" if self.runtime == "onnx" else self.runtime
        label = f"{runtime} {self.model['name']} bs={self.batch_size} {self.provider} {self.mode}"
        return f"{label} rep={self.repetition}" if self.measure.get("repetitions", 1) > 1 else label

    def config_hash(self) -> str:
        """Hash of everything that defines one run's measurement: the same for every repetition of it."""
        payload = {k: v for k, v in asdict(self).items() if k not in ("python", "repetition")}
        payload["measure"] = {k: v for k, v in self.measure.items() if k not in NOT_HASHED_MEASURE}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def spec(self, output_dir: str, onnx_path: str | None = None) -> dict:
        spec = {
            "runtime": self.runtime,
            "source": self.source,
            "model": self.model,
            "provider": self.provider,
            "device_id": self.device_id,
            "mode": self.mode,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "repetition": self.repetition,
            "measure": self.measure,
            "output_dir": output_dir,
        }
        if onnx_path:
            spec["onnx_path"] = onnx_path
        return spec


def _allowed(what: str, value: object, allowed: tuple, context: str) -> None:
    if value not in allowed:
        raise PlanError(f"{what}={value} is not available {context}; allowed: {', '.join(map(str, allowed))}")


def _check_settings(cfg: DictConfig) -> None:
    """Every value resolves, and every key is the schema's (``+key=value`` passes Hydra's own check)."""
    try:
        OmegaConf.merge(
            OmegaConf.structured(GreenConfig), OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
        )
    except ConfigKeyError as err:
        raise PlanError(
            f"{err.full_key} is not a setting of green_mlflow; `python -m green_mlflow --cfg job` lists them"
        ) from err
    except OmegaConfBaseException as err:
        raise PlanError(f"{err.full_key} has no usable value: {err.msg}") from err


def plan_job(cfg: DictConfig) -> Job:
    """Validate ``cfg`` and return the job, or raise PlanError explaining the problem."""
    _check_settings(cfg)
    runtime = cfg.runtime.name
    _allowed("runtime", runtime, tuple(PROVIDERS), "")
    provider = cfg.provider.name
    _allowed("provider", provider, PROVIDERS[runtime], f"with runtime={runtime}")
    mode = cfg.mode.name
    if mode == "default":
        mode = DEFAULT_MODE[runtime]
    _allowed("mode", mode, MODES[runtime], f"with runtime={runtime}")
    if (runtime, mode) in MODE_PROVIDERS:
        _allowed("provider", provider, MODE_PROVIDERS[runtime, mode], f"with runtime={runtime} mode={mode}")
    source = cfg.runtime.source
    if runtime == "onnx":
        _allowed("runtime.source", source, ONNX_SOURCES, "for runtime=onnx")
    elif source is not None:
        raise PlanError(
            f"runtime.source is only for runtime=onnx (it names the framework exported from), not runtime={runtime}"
        )
    if not 1 <= cfg.batch_size <= MAX_BATCH_SIZE:
        raise PlanError(f"batch_size={cfg.batch_size} is out of range; allowed: 1 to {MAX_BATCH_SIZE}")
    if cfg.seed < 0:
        raise PlanError(f"seed={cfg.seed} must be zero or positive")
    if cfg.provider.device_id < 0:
        raise PlanError(f"provider.device_id={cfg.provider.device_id} must be zero or positive")
    measure = OmegaConf.to_container(cfg.measure, resolve=True)
    for key, value in measure.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise PlanError(f"measure.{key}={value} must be a finite number")
    for key in ("warmup_min_iterations", "windows", "window_min_iterations"):
        if measure[key] < 1:
            raise PlanError(f"measure.{key}={measure[key]} must be at least 1")
    for key in ("warmup_min_s", "window_min_s", "window_rest_s"):
        if measure[key] < 0:
            raise PlanError(f"measure.{key}={measure[key]} must be zero or positive")
    if not 0.01 <= measure["sample_interval_s"] <= 10:
        raise PlanError(
            f"measure.sample_interval_s={measure['sample_interval_s']} is out of range; allowed: 0.01 to 10"
        )
    if not 1 <= measure["repetitions"] <= MAX_REPETITIONS:
        raise PlanError(
            f"measure.repetitions={measure['repetitions']} is out of range; allowed: 1 to {MAX_REPETITIONS}"
        )
    if not 0 <= cfg.repetition < measure["repetitions"]:
        raise PlanError(
            f"repetition={cfg.repetition} is out of range; allowed: 0 to {measure['repetitions'] - 1} "
            "(the sweeper sets it; raise measure.repetitions for more)"
        )
    for key in ("idle_s", "cooldown_s", "cooldown_max_s"):
        if not 0 <= measure[key] <= 86400:
            raise PlanError(f"measure.{key}={measure[key]} is out of range; allowed: 0 to 86400 seconds")
    if measure["cooldown_within_c"] is not None and not 0 < measure["cooldown_within_c"] <= 50:
        raise PlanError(
            f"measure.cooldown_within_c={measure['cooldown_within_c']} is out of range; allowed: above 0 up to "
            "50 °C, or null for a fixed cool-down only"
        )
    if measure["timeout_s"] <= 0:
        raise PlanError(f"measure.timeout_s={measure['timeout_s']} must be positive")
    if measure["cpu_tdp_w"] is not None and measure["cpu_tdp_w"] <= 0:
        raise PlanError(f"measure.cpu_tdp_w={measure['cpu_tdp_w']} must be positive, or null for no CPU estimate")
    if provider != "cpu" and measure["window_min_s"] < MIN_GPU_WINDOW_S:
        raise PlanError(
            f"measure.window_min_s={measure['window_min_s']} is too short for GPU energy: NVML's counter needs "
            f"windows of at least {MIN_GPU_WINDOW_S:g} s (5 s recommended, measure=default)"
        )
    model = OmegaConf.to_container(cfg.model, resolve=True)
    _allowed("model.kind", model["kind"], ("image", "text"), f"for model={model['name']}")
    return Job(
        runtime=runtime,
        source=source if runtime == "onnx" else None,
        model=model,
        provider=provider,
        device_id=int(cfg.provider.device_id),
        mode=mode,
        batch_size=int(cfg.batch_size),
        seed=int(cfg.seed),
        opset=int(cfg.runtime.opset),
        measure=measure,
        python=cfg.runtime.python,
        repetition=int(cfg.repetition),
    )
