"""Dataclass schemas of the config groups under ``conf/``: types, defaults and each group's own rules.

Hydra checks every field's type and rejects unknown keys against these. ``plan`` turns a composed
config into these objects (``OmegaConf.to_object``), which runs each group's ``__post_init__``: a
value that is wrong on its own is refused there, with the values allowed. Rules that tie several
groups together (which providers and modes a runtime offers, a GPU's minimum window, the
repetition index) live in ``green_mlflow.plan``. The ``measure`` group's schema is the worker's
own ``MeasureSettings`` (``green_mlflow.contract``): one definition on both sides of the process
boundary.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from green_mlflow.allocator import ALLOCATORS
from green_mlflow.allocator import DEFAULT as DEFAULT_ALLOCATOR
from green_mlflow.contract import SCENARIOS, MeasureSettings
from green_mlflow.models.catalog import ZOOS
from green_mlflow.registry import ONNX_SOURCES, PROVIDERS, RUNTIMES

MAX_BATCH_SIZE = 4096
MAX_REPETITIONS = 1000
MAX_WAIT_S = 86400
MAX_WINDOWS = 1000
# image, text: the study's models and the zoos' architectures (model=torchvision|keras|gluon; inputs made from the
# sizes here); onnx_file: your
# own ONNX file (inputs read from its graph); python: your own PyTorch factory (inputs from its example inputs); hf: a
# local Hugging Face checkpoint folder (inputs from its config.json)
MODEL_KINDS = ("image", "text", "onnx_file", "python", "hf")
# what each of the user's own model kinds needs, and how to give it (README "Measure your own model")
REQUIRED = {
    "path": "model=onnx_file needs the file: model.path=/abs/path/model.onnx",
    "factory": "model=python needs your function: model.factory=package.module:function",
    "checkpoint": "model=hf needs the checkpoint: model.path=/abs/path/folder (a folder written by save_pretrained)",
}


def missing_own_model_field(model: dict) -> str | None:
    """What a user's own model lacks, as the message to show (``model`` unresolved: its ``name`` interpolates
    the missing field, which would otherwise fail first with OmegaConf's words); None when nothing is lacking."""
    kind, architecture = model.get("kind"), model.get("architecture")
    if architecture in ZOOS and model.get("arch") in (None, ""):
        return ZOOS[architecture].required()
    need = {"onnx_file": "path", "python": "factory", "hf": "path"}.get(kind)
    return REQUIRED["checkpoint" if kind == "hf" else need] if need and model.get(need) in (None, "") else None


FACTORY = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")


def _allowed(key: str, value: object, allowed: tuple, context: str = "") -> None:
    if value not in allowed:
        raise ValueError(f"{key}={value} is not available{context}; allowed: {', '.join(map(str, allowed))}")


@dataclass
class RuntimeConfig:
    name: str = MISSING  # torch | tf | mxnet | onnx (green_mlflow.registry)
    source: str | None = None  # runtime=onnx only: the framework the model is exported from
    python: str | None = None  # an interpreter of your own for this runtime (else its managed environment)
    opset: int = 17  # ONNX opset for exports

    def __post_init__(self) -> None:
        if self.name == MISSING:  # the schema's own default, before a group option fills it
            return
        _allowed("runtime", self.name, tuple(RUNTIMES))
        if self.name == "onnx":
            _allowed("runtime.source", self.source, ONNX_SOURCES, " for runtime=onnx")
        elif self.source is not None:
            raise ValueError(
                f"runtime.source is only for runtime=onnx (it names the framework exported from), not runtime={self.name}"
            )


@dataclass
class ModelConfig:
    name: str = MISSING
    kind: str = MISSING  # image | text | onnx_file | python
    architecture: str | None = None  # builder to use; defaults to ``name`` (a zoo, e.g. ``keras``: ``arch``)
    image_size: int | None = 224  # null (model=torchvision|keras|gluon): the architecture's documented size
    seq_len: int = 128
    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    # ONNX parity: max|onnx - source| / max|source| per output must not exceed this
    parity_tol: float = 1e-4
    # your own model (README "Measure your own model"); unset for the study's models, and then left out of
    # the job's model (its configuration hash and the ONNX cache key stay what they were)
    path: str | None = None  # kind onnx_file: the ONNX file; kind hf: the checkpoint folder
    dims: dict[str, int] = field(default_factory=dict)  # kind onnx_file: sizes of named symbolic dimensions
    arch: str | None = None  # a zoo's architecture (models/catalog.py): torchvision, keras or gluon names
    factory: str | None = None  # kind python: ``package.module:function`` returning (module, example inputs)
    weights: str | None = None  # a zoo or python model's own trained weights: a state dict, Keras or Gluon file

    def __post_init__(self) -> None:
        if self.kind == MISSING:
            return
        _allowed("model.kind", self.kind, MODEL_KINDS, f" for model={self.name}")
        if self.kind in ("onnx_file", "hf") and not self.path:
            raise ValueError(REQUIRED["checkpoint" if self.kind == "hf" else "path"])
        if self.weights and not (self.kind == "python" or self.architecture in ZOOS):
            raise ValueError(
                f"model.weights is not available for model={self.name}: it is trained weights for the model that "
                f"a zoo or your factory builds; allowed: {', '.join(f'model={z}' for z in ZOOS)}, model=python"
            )
        if self.kind == "python":
            if not self.factory:
                raise ValueError(REQUIRED["factory"])
            if not FACTORY.match(self.factory):
                raise ValueError(
                    f"model.factory={self.factory} is not of the form package.module:function "
                    "(a module importable from the current directory, a function in it)"
                )
        if self.architecture in ZOOS:
            if not self.arch:
                raise ValueError(ZOOS[self.architecture].required())
            if self.kind != "image":
                raise ValueError(
                    f"model.kind={self.kind} is not available for model={self.architecture}; allowed: image"
                )
        bad = {k: v for k, v in self.dims.items() if v < 1}
        if bad:
            raise ValueError(f"model.dims: {', '.join(f'{k}={v}' for k, v in bad.items())}: each must be 1 or more")
        if self.image_size is None and self.architecture not in ZOOS:
            raise ValueError(
                f"model.image_size=null is only for {', '.join(f'model={z}' for z in ZOOS)} (the architecture's "
                f"documented size), not model={self.name}"
            )


@dataclass
class ProviderConfig:
    name: str = "cpu"  # cpu | cuda | tensorrt
    device_id: int = 0

    def __post_init__(self) -> None:
        _allowed("provider", self.name, PROVIDERS)
        if self.device_id < 0:
            raise ValueError(f"provider.device_id={self.device_id} must be zero or positive")


@dataclass
class ModeConfig:
    name: str = "default"  # "default" resolves to the runtime's documented default mode


def _check_measure(m: MeasureSettings) -> None:
    """The ``measure`` group's own rules (docs/method.md rules 7–10)."""
    for f in fields(m):
        value = getattr(m, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"measure.{f.name}={value} must be a finite number")
    for key in ("warmup_min_iterations", "windows", "window_min_iterations"):
        if getattr(m, key) < 1:
            raise ValueError(f"measure.{key}={getattr(m, key)} must be at least 1")
    for key in ("warmup_min_s", "window_min_s", "window_rest_s"):
        if getattr(m, key) < 0:
            raise ValueError(f"measure.{key}={getattr(m, key)} must be zero or positive")
    if not 0.01 <= m.sample_interval_s <= 10:
        raise ValueError(f"measure.sample_interval_s={m.sample_interval_s} is out of range; allowed: 0.01 to 10")
    if m.target_ci_rel is not None and not 0 < m.target_ci_rel < 0.5:
        raise ValueError(
            f"measure.target_ci_rel={m.target_ci_rel} is out of range: a fraction of the mean above 0 and below 0.5 "
            "(e.g. 0.02 for ±2 %), or null for a fixed number of windows"
        )
    if not m.windows <= m.max_windows <= MAX_WINDOWS:
        raise ValueError(
            f"measure.max_windows={m.max_windows} is out of range; allowed: measure.windows ({m.windows}) to {MAX_WINDOWS}"
        )
    if not 1 <= m.repetitions <= MAX_REPETITIONS:
        raise ValueError(f"measure.repetitions={m.repetitions} is out of range; allowed: 1 to {MAX_REPETITIONS}")
    for key in ("idle_s", "cooldown_s", "cooldown_max_s"):
        if not 0 <= getattr(m, key) <= MAX_WAIT_S:
            raise ValueError(f"measure.{key}={getattr(m, key)} is out of range; allowed: 0 to {MAX_WAIT_S} seconds")
    if m.cooldown_within_c is not None and not 0 < m.cooldown_within_c <= 50:
        raise ValueError(
            f"measure.cooldown_within_c={m.cooldown_within_c} is out of range; allowed: above 0 up to "
            "50 °C, or null for a fixed cool-down only"
        )
    if m.timeout_s <= 0:
        raise ValueError(f"measure.timeout_s={m.timeout_s} must be positive")
    if m.cpu_tdp_w is not None and m.cpu_tdp_w <= 0:
        raise ValueError(f"measure.cpu_tdp_w={m.cpu_tdp_w} must be positive, or null for no CPU estimate")


@dataclass
class MeasureConfig(MeasureSettings):
    """The ``measure`` group: the worker's settings, checked here before any job starts."""

    name: str = MISSING

    def __post_init__(self) -> None:
        _check_measure(self)


@dataclass
class TrackingConfig:
    name: str = "local"
    uri: str | None = None  # else $MLFLOW_TRACKING_URI, else sqlite:///<absolute cwd>/mlflow.db
    experiment_name: str | None = None  # else $MLFLOW_EXPERIMENT_NAME, else "green_mlflow"


MAX_CARBON_G_PER_KWH = 2000.0  # above the dirtiest grid's average (coal: about 1,000 g/kWh)


@dataclass
class AllocatorConfig:
    """The worker's memory allocator (green_mlflow/allocator.py, docs/method.md rule 16)."""

    name: str = DEFAULT_ALLOCATOR

    def __post_init__(self) -> None:
        _allowed("allocator", self.name, ALLOCATORS)


@dataclass
class ScenarioConfig:
    """``latency`` (synchronise after every iteration) or ``throughput`` (at window edges only); docs/method.md
    rule 18."""

    name: str = "latency"

    def __post_init__(self) -> None:
        _allowed("scenario", self.name, SCENARIOS)


@dataclass
class CarbonConfig:
    """Grams CO2e per kWh of the electricity the host uses, and where the figure comes from (no network
    look-up: docs/metrics.md says where to find one). Unset: no carbon metric is logged."""

    name: str = "default"
    intensity_g_per_kwh: float | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        value = self.intensity_g_per_kwh
        if value is not None and not (math.isfinite(value) and 0 < value <= MAX_CARBON_G_PER_KWH):
            raise ValueError(
                f"carbon.intensity_g_per_kwh={value} is out of range: give grams CO2e per kWh, "
                f"above 0 and at most {MAX_CARBON_G_PER_KWH:g} (e.g. 400)"
            )


@dataclass
class GreenConfig:
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    provider: ProviderConfig = field(default_factory=ProviderConfig)
    mode: ModeConfig = field(default_factory=ModeConfig)
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    batch_size: int = 1
    seed: int = 0
    repetition: int = 0  # set by the sweeper: which of measure.repetitions this job is
    report: bool = True  # write the comparison report (HTML + PNG) to the parent run when the sweep ends
    rerun: bool = False  # measure again even where a FINISHED run of this configuration and repetition exists
    register: bool = False  # each measured ONNX model as a Model Registry version (green-mlflow-<model>-from-…)
    carbon: CarbonConfig = field(default_factory=CarbonConfig)
    allocator: AllocatorConfig = field(default_factory=AllocatorConfig)
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    verbose: bool = False  # also show the frameworks' own output (it is always in each run's logs/job.log)
    hypotheses: str | None = None  # paper, or a YAML file's path: declared before the data (report/hypotheses.py)

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size={self.batch_size} is out of range; allowed: 1 to {MAX_BATCH_SIZE}")
        if self.seed < 0:
            raise ValueError(f"seed={self.seed} must be zero or positive")


def register_schemas() -> None:
    """Register the schemas so that ``conf/config.yaml`` can list ``green_schema`` first in its defaults."""
    cs = ConfigStore.instance()
    schema = OmegaConf.structured(GreenConfig)
    # names of the user's choosing: model.dims={sequence:128} adds keys without Hydra's "+" (struct mode)
    OmegaConf.set_struct(schema.model.dims, False)
    cs.store(name="green_schema", node=schema)
