"""Dataclass schemas: Hydra checks every field's type and rejects unknown keys against these.

Each config group (``conf/<group>/*.yaml``) merges into the matching dataclass below; value
checks that depend on more than one field (e.g. which providers a runtime offers) live in
``green_mlflow.plan``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class RuntimeConfig:
    name: str = MISSING  # torch | onnx
    source: str | None = None  # runtime=onnx only: the framework the model is exported from
    python: str | None = None  # an interpreter of your own for this runtime (else its managed environment)
    opset: int = 17  # ONNX opset for exports


@dataclass
class ModelConfig:
    name: str = MISSING
    kind: str = MISSING  # image | text
    architecture: str | None = None  # builder to use; defaults to ``name``
    image_size: int = 224
    seq_len: int = 128
    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    # ONNX parity: max|onnx - source| / max|source| per output must not exceed this
    parity_tol: float = 1e-4


@dataclass
class ProviderConfig:
    name: str = "cpu"  # cpu | cuda | tensorrt
    device_id: int = 0


@dataclass
class ModeConfig:
    name: str = "default"  # "default" resolves to the runtime's documented default mode


@dataclass
class MeasureConfig:
    name: str = MISSING
    warmup_min_iterations: int = 20
    warmup_min_s: float = 5.0
    windows: int = 5
    window_min_iterations: int = 30
    window_min_s: float = 5.0
    window_rest_s: float = 0.0
    sample_interval_s: float = 0.1
    # TDP for the CPU energy *estimate* used only where RAPL cannot be read; null = no estimate
    cpu_tdp_w: float | None = None
    timeout_s: float = 3600.0
    # METHOD.md rules 9-10: repeated, shuffled runs (hydra/sweeper=green), idle baseline, cool-down
    repetitions: int = 1  # runs per configuration in a sweep, each its own child run
    idle_s: float = 0.0  # idle baseline length before the sweep; 0 = no baseline (no net energy)
    cooldown_s: float = 0.0  # fixed rest before each run
    cooldown_within_c: float | None = None  # then wait until the GPU is within this many °C of idle
    cooldown_max_s: float = 600.0  # cap on the temperature wait


@dataclass
class TrackingConfig:
    name: str = "local"
    uri: str | None = None  # else $MLFLOW_TRACKING_URI, else sqlite:///<absolute cwd>/mlflow.db
    experiment_name: str | None = None  # else $MLFLOW_EXPERIMENT_NAME, else "green_mlflow"


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


def register_schemas() -> None:
    """Register the schemas so that ``conf/config.yaml`` can list ``green_schema`` first in its defaults."""
    cs = ConfigStore.instance()
    cs.store(name="green_schema", node=GreenConfig)
