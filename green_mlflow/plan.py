"""Validate a composed config and turn it into a job: what runs where, decided before anything runs.

Hydra rejects unknown groups, options, keys and wrong types; each group's own rules are its schema's
(``config/schema.py``). This module checks what ties groups together — which providers and modes a
runtime offers (``registry``), a GPU's minimum window, the repetition index, a GPU provider on a host
that has a GPU — and says what is allowed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

from green_mlflow.config.schema import GreenConfig
from green_mlflow.contract import JobSpec, MeasureSettings
from green_mlflow.meters.nvml import visible_gpus
from green_mlflow.registry import Runtime, runtime

MIN_GPU_WINDOW_S = 1.0  # docs/method.md rule 8: NVML's counter is not trustworthy below this
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
    measure: MeasureSettings
    python: str | None
    repetition: int = 0

    @property
    def entry(self) -> Runtime:
        return runtime(self.runtime)

    @property
    def env_name(self) -> str:
        """The managed environment this job's worker runs in."""
        return self.entry.envs[self.provider]

    @property
    def label(self) -> str:
        runtime = f"onnx(from {self.source})" if self.runtime == "onnx" else self.runtime
        label = f"{runtime} {self.model['name']} bs={self.batch_size} {self.provider} {self.mode}"
        return f"{label} rep={self.repetition}" if self.measure.repetitions > 1 else label

    def config_hash(self) -> str:
        """Hash of everything that defines one run's measurement: the same for every repetition of it."""
        payload = {k: v for k, v in asdict(self).items() if k not in ("python", "repetition")}
        payload["measure"] = {k: v for k, v in asdict(self.measure).items() if k not in NOT_HASHED_MEASURE}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def spec(self, output_dir: str, **extra) -> JobSpec:
        """The worker's spec; ``extra``: ``onnx_path``, ``trt_cache_dir``, ``idle_temp_c``."""
        return JobSpec(
            runtime=self.runtime,
            source=self.source,
            model=self.model,
            provider=self.provider,
            device_id=self.device_id,
            mode=self.mode,
            batch_size=self.batch_size,
            seed=self.seed,
            repetition=self.repetition,
            measure=self.measure,
            output_dir=output_dir,
            **extra,
        )


def _typed(cfg: DictConfig) -> GreenConfig:
    """The config as schema objects: every value resolves, every key is the schema's (``+key=value``
    passes Hydra's own check), and each group's own rules hold (their ``__post_init__``)."""
    try:
        merged = OmegaConf.merge(
            OmegaConf.structured(GreenConfig), OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
        )
        return OmegaConf.to_object(merged)
    except ConfigKeyError as err:
        raise PlanError(
            f"{err.full_key} is not a setting of green_mlflow; `python -m green_mlflow --cfg job` lists them"
        ) from err
    except OmegaConfBaseException as err:
        if isinstance(err.__cause__, ValueError) and not isinstance(err.__cause__, OmegaConfBaseException):
            raise PlanError(str(err.__cause__)) from err
        raise PlanError(f"{err.full_key} has no usable value: {err.msg}") from err
    except ValueError as err:
        raise PlanError(str(err)) from err


def _check_gpu(provider: str, device_id: int) -> None:
    """A GPU provider needs a GPU this host can see: refused here, in milliseconds, before an idle baseline is
    measured or a GPU environment of several GB is installed for nothing."""
    if provider == "cpu":
        return
    names, why = visible_gpus()
    if not names:
        raise PlanError(
            f"provider={provider} needs an NVIDIA GPU, but this host shows none ({why}); use provider=cpu here, "
            "or run on a GPU host (`python -m green_mlflow.envs doctor` tells what can run where)"
        )
    if device_id >= len(names):
        raise PlanError(
            f"provider.device_id={device_id} is not a GPU of this host; allowed: 0 to {len(names) - 1} "
            f"({', '.join(names)})"
        )


def plan_job(cfg: DictConfig) -> Job:
    """Validate ``cfg`` and return the job, or raise PlanError explaining the problem.

    Each group's own rules are the schema's; here only the rules that tie groups together.
    """
    typed = _typed(cfg)
    entry = runtime(typed.runtime.name)
    mode = entry.default_mode if typed.mode.name == "default" else typed.mode.name
    try:
        entry.check(typed.provider.name, mode)
    except ValueError as err:
        raise PlanError(str(err)) from err
    measure = MeasureSettings(**asdict(typed.measure))
    if not 0 <= typed.repetition < measure.repetitions:
        raise PlanError(
            f"repetition={typed.repetition} is out of range; allowed: 0 to {measure.repetitions - 1} "
            "(the sweeper sets it; raise measure.repetitions for more)"
        )
    if typed.provider.name != "cpu" and measure.window_min_s < MIN_GPU_WINDOW_S:
        raise PlanError(
            f"measure.window_min_s={measure.window_min_s} is too short for GPU energy: NVML's counter needs "
            f"windows of at least {MIN_GPU_WINDOW_S:g} s (5 s recommended, measure=default)"
        )
    _check_gpu(typed.provider.name, typed.provider.device_id)
    return Job(
        runtime=entry.name,
        source=typed.runtime.source if entry.name == "onnx" else None,
        model=asdict(typed.model),
        provider=typed.provider.name,
        device_id=typed.provider.device_id,
        mode=mode,
        batch_size=typed.batch_size,
        seed=typed.seed,
        opset=typed.runtime.opset,
        measure=measure,
        python=typed.runtime.python,
        repetition=typed.repetition,
    )
