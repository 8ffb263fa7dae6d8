"""The typed contract across the process boundary: what the orchestrator sends and what comes back.

Standard library only, so every runtime environment can import it (docs/design.md decision 2). Three
boundaries share one shape, "spec.json in, result.json out" (``serve``):

- the worker (``python -m green_mlflow.worker``): ``JobSpec`` in, ``WorkerResult`` out;
- the idle worker (``python -m green_mlflow.worker.idle``): ``IdleSpec`` in, ``IdleResult`` out;
- a converter (``python -m green_mlflow.convert.<source>_to_onnx``): ``ConversionSpec`` in, ``ConversionReport`` out.

Units are in the field names (``_j``, ``_w``, ``_s``, ``_ms``). Every document carries ``schema_version``;
reading another version's fails with a message saying so, not a ``KeyError`` deep in the worker.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from green_mlflow.jsondoc import ContractError, build, plain  # noqa: F401 (ContractError: part of the contract)

SCHEMA_VERSION = 1


T = TypeVar("T", bound="Document")


@dataclass
class Document:
    """A top-level spec or result: versioned, and (de)serialised field by field."""

    def to_dict(self) -> dict:
        return plain(self)

    @classmethod
    def from_dict(cls: type[T], data: dict) -> T:
        if not isinstance(data, dict):
            raise ContractError(f"{cls.__name__} must be a JSON object, got {type(data).__name__}")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ContractError(
                f"{cls.__name__} of schema version {version} cannot be read by this green_mlflow "
                f"(schema version {SCHEMA_VERSION}): the orchestrator and the worker come from different versions"
            )
        return build(cls, data, cls.__name__)

    def write(self, path: Path) -> None:
        """Write as JSON atomically: a reader never sees half a document."""
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, default=str))
        tmp.replace(path)

    @classmethod
    def read(cls: type[T], path: Path) -> T:
        return cls.from_dict(json.loads(path.read_text()))


@dataclass
class Outcome(Document):
    """A result: ``status`` is ``ok`` or ``failed``; a failure says why and, from a child, its stderr."""

    status: str = "ok"
    error: str | None = None
    traceback: str | None = None
    stderr_tail: str | None = None  # the child's last stderr lines, added by the launcher
    schema_version: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def failed(cls: type[T], error: str, traceback: str | None = None, stderr_tail: str | None = None) -> T:
        return cls(status="failed", error=error, traceback=traceback, stderr_tail=stderr_tail)


# --- the measurement settings, shared by the config schema (conf/measure) and the worker -----------------


@dataclass
class MeasureSettings:
    """How one run is measured (the ``measure`` config group); see docs/method.md rules 7–10."""

    name: str = "custom"
    warmup_min_iterations: int = 20
    warmup_min_s: float = 5.0
    windows: int = 5
    window_min_iterations: int = 30
    window_min_s: float = 5.0
    window_rest_s: float = 0.0
    sample_interval_s: float = 0.1
    cpu_tdp_w: float | None = None  # TDP for the CPU energy *estimate*, used only where RAPL cannot be read
    timeout_s: float = 3600.0
    repetitions: int = 1  # runs per configuration in a sweep (hydra/sweeper=green), each its own child run
    idle_s: float = 0.0  # idle baseline before the sweep; 0 = no baseline (no net energy)
    cooldown_s: float = 0.0  # fixed rest before each run
    cooldown_within_c: float | None = None  # then wait until the GPU is within this many °C of idle
    cooldown_max_s: float = 600.0  # cap on the temperature wait
    # precision targeting (rule 8): after ``windows`` windows, more until the 95 % CI half-width of the run's
    # primary quantity is within this fraction of its mean, or ``max_windows`` windows; None: off
    target_ci_rel: float | None = None
    max_windows: int = 20


# --- worker: JobSpec in, WorkerResult out --------------------------------------------------------------


# latency: synchronise after every iteration (per-iteration latency); throughput: queue iterations back to back and
# synchronise at window edges only (MLPerf's Offline scenario; no per-iteration latency). docs/method.md rule 18.
SCENARIOS = ("latency", "throughput")


@dataclass
class JobSpec(Document):
    """One measurement, as the worker receives it. ``model`` is the resolved ``model`` config group."""

    runtime: str = ""
    model: dict[str, Any] = field(default_factory=dict)
    provider: str = "cpu"
    mode: str = ""
    batch_size: int = 1
    seed: int = 0
    measure: MeasureSettings = field(default_factory=MeasureSettings)
    output_dir: str = ""
    source: str | None = None  # runtime=onnx: the framework the model was exported from
    device_id: int = 0
    repetition: int = 0
    onnx_path: str | None = None  # runtime=onnx: the converted model to run
    trt_cache_dir: str | None = None  # provider=tensorrt: where built engines are kept
    idle_temp_c: float | None = None  # the cool-down's target: the GPU temperature measured while idle
    scenario: str = "latency"  # one of SCENARIOS
    schema_version: int = SCHEMA_VERSION


@dataclass
class DomainEnergy:
    """Energy of one domain (``gpu`` board, ``cpu`` package, ``dram``) over a run's windows.

    ``method`` is ``counter``, ``polled``, ``estimated`` or ``unavailable`` (then only ``detail``, the reason,
    is set — never a 0). Totals cover the clean windows; the others are in ``errors``, None in ``window_energy_j``.
    """

    method: str
    detail: str  # what the number covers, the model of an estimate, or why it is unavailable
    window_energy_j: list[float | None] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warmup_energy_j: float | None = None
    load_energy_j: float | None = None  # building the model and binding its inputs
    energy_j: float | None = None  # over the clean windows
    samples: int | None = None  # samples processed in the clean windows
    duration_s: float | None = None  # length of the clean windows
    per_sample_j: float | None = None
    mean_power_w: float | None = None


@dataclass
class PhaseSummary:
    iterations: int
    duration_s: float


@dataclass
class WindowSummary:
    """One measured window. ``start_s``/``end_s`` are ``time.monotonic()``, comparable with the trace."""

    iterations: int
    samples: int
    duration_s: float
    start_s: float
    end_s: float
    latency_p50_ms: float | None  # None in the throughput scenario: iterations are not timed one by one
    minor_faults_per_iteration: float
    batch_time_ms: float | None = None  # the window's duration over its iterations (both scenarios)


@dataclass
class LatencySummary:
    """Per-iteration latency of one batch over all windows, in milliseconds."""

    count: int
    mean_ms: float
    std_ms: float
    min_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class CoolDown:
    """The rest before a run (docs/method.md rule 10): how long, the GPU temperatures, what ended it."""

    waited_s: float
    start_temp_c: float | None
    end_temp_c: float | None
    target_temp_c: float | None
    outcome: str  # plain words: what ended the cool-down


@dataclass
class Contention:
    """Did another process use the GPU during a window (docs/method.md rule 5)? ``checked`` False: ``reason``."""

    checked: bool
    reason: str | None = None
    windows: int | None = None
    windows_with_other_processes: int | None = None
    other_processes: dict[str, float | None] = field(default_factory=dict)  # pid → MiB


@dataclass
class CpuContention:
    """Did other processes use the CPU during warm-up and windows (``other_cores``: their CPU time / span, in
    cores; ``top_processes``: ``"name (pid N)"`` → cores)? ``checked`` False: ``reason``."""

    checked: bool
    reason: str | None = None
    span_s: float | None = None
    other_cores: float | None = None
    threshold_cores: float | None = None
    detected: bool = False
    top_processes: dict[str, float] = field(default_factory=dict)


@dataclass
class Precision:
    """``outcome``: ``off``, ``reached after N windows`` or ``cap reached at N windows``; ``ci_rel``: the 95 % CI
    half-width of ``quantity`` (per-window values) over its mean, achieved."""

    outcome: str
    quantity: str
    ci_rel: float | None = None
    target_ci_rel: float | None = None


@dataclass
class SamplerFacts:
    interval_s: float
    samples: int


@dataclass
class Traces:
    utilisation: str  # path of the sampler's CSV
    latency: str | None  # path of the per-iteration latency CSV; None in the throughput scenario


@dataclass
class WorkerResult(Outcome):
    """What one measurement produced (``status`` ok), or why it did not (``failed``)."""

    info: dict[str, Any] = field(default_factory=dict)  # the session's facts: framework, version, provider in use
    host: dict[str, str] = field(default_factory=dict)
    gpu: dict[str, Any] = field(default_factory=dict)
    clock_offset_s: float = 0.0  # wall clock − monotonic clock, to time-stamp the trace
    load_s: float | None = None
    cooldown: CoolDown | None = None
    warmup: PhaseSummary | None = None
    windows: list[WindowSummary] = field(default_factory=list)
    latency: LatencySummary | None = None
    throughput_samples_per_s: float | None = None
    measured_samples: int | None = None
    measured_duration_s: float | None = None
    energy: dict[str, DomainEnergy] = field(default_factory=dict)
    utilisation: dict[str, float] = field(default_factory=dict)  # means (peaks for memory) over the windows
    temperatures: dict[str, float] = field(default_factory=dict)
    contention: Contention | None = None
    cpu_contention: CpuContention | None = None
    precision: Precision | None = None
    scenario_note: str | None = None  # how the scenario ran on this runtime (e.g. the same as latency: why)
    sampler: SamplerFacts | None = None
    malloc_env: dict[str, str] = field(default_factory=dict)
    traces: Traces | None = None


# --- idle worker: IdleSpec in, IdleResult out ----------------------------------------------------------


@dataclass
class IdleSpec(Document):
    duration_s: float = 0.0
    output_dir: str = ""
    device_id: int = 0
    cpu_tdp_w: float | None = None
    sample_interval_s: float = 0.1
    schema_version: int = SCHEMA_VERSION


@dataclass
class IdlePower:
    """One domain while idle: ``power_w`` = ``energy_j`` / duration, or ``unavailable`` and why."""

    method: str
    detail: str
    energy_j: float | None = None
    power_w: float | None = None


@dataclass
class IdleResult(Outcome):
    duration_s: float | None = None
    domains: dict[str, IdlePower] = field(default_factory=dict)
    gpu_temp_c: float | None = None  # mean while idle: the cool-down's target
    device_id: int = 0
    host: dict[str, str] = field(default_factory=dict)
    gpu: dict[str, Any] = field(default_factory=dict)
    measured_at: float | None = None  # Unix time
    host_name: str | None = None  # set by the orchestrator: whose idle this is


# --- converters: ConversionSpec in, ConversionReport out -----------------------------------------------


@dataclass
class ConversionSpec(Document):
    model: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 1
    seed: int = 0
    opset: int = 17
    output_dir: str = ""
    schema_version: int = SCHEMA_VERSION


@dataclass
class ConversionReport(Outcome):
    """An ONNX export: exporter, timing, energy where a counter could read it, checker and parity."""

    exporter: str | None = None
    source: str | None = None
    source_version: str | None = None
    source_parameters: int | None = None
    opset_requested: int | None = None
    opset: int | None = None
    export_s: float | None = None
    export_energy_j: dict[str, float] = field(default_factory=dict)  # counters only: no estimates
    export_energy_unavailable: dict[str, str] = field(default_factory=dict)
    graph_tidy: dict[str, Any] | None = None
    checker: str | None = None
    onnx_initializer_parameters: int | None = None
    parity: dict[str, Any] | None = None
    check_s: float | None = None
    parity_s: float | None = None
    onnxruntime_version: str | None = None
    onnx_version: str | None = None
    onnx_bytes: int | None = None
    conversion_process_s: float | None = None  # set by the orchestrator: the whole child process


# --- the one command-line shape ------------------------------------------------------------------------

S = TypeVar("S", bound=Document)
R = TypeVar("R", bound=Outcome)


def serve(handler: Callable[[S], R], spec_type: type[S], result_type: type[R], argv: list[str] | None = None) -> int:
    """``python -m <module> SPEC.json RESULT.json``: read the spec, run ``handler``, write its result.

    Any exception becomes a ``failed`` result with the traceback (exit 1), so the orchestrator can
    record the failure instead of losing it; exit 2 for a wrong command line.
    """
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m MODULE SPEC.json RESULT.json", file=sys.stderr)
        return 2
    spec_path, result_path = Path(argv[0]), Path(argv[1])
    try:
        result = handler(spec_type.read(spec_path))
    except BaseException as err:  # noqa: BLE001 — every failure must reach the orchestrator
        result = result_type.failed(f"{type(err).__name__}: {err}", traceback.format_exc())
    result.write(result_path)
    return 0 if result.ok else 1
