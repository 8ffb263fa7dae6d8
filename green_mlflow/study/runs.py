"""A job's run as the study sees it: the configuration it measured, its outcome and its scalar metrics.

``green_mlflow.report.data`` builds these from MLflow's child runs (docs/metrics.md); the study needs nothing
else of MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def runtime_label(runtime: str, source: str | None) -> str:
    """``torch``, ``tf``, ``mxnet`` or ``onnx (from <source>)``: what the study compares (and the runs' tag)."""
    return f"{runtime} (from {source})" if runtime == "onnx" and source else runtime


@dataclass(frozen=True)
class JobRun:
    """One job's child run: the config it measured, its outcome and its scalar metrics (units in names)."""

    run_id: str
    run_name: str
    parent_run_id: str | None
    status: str
    status_reason: str
    runtime: str
    source: str | None
    mode: str
    model: str
    batch_size: str
    provider: str
    repetition: int | None
    config_hash: str
    start_time_ms: int
    metrics: dict[str, float]
    methods: dict[str, str]  # energy domain -> counter | polled | estimated | unavailable
    details: dict[str, str]  # energy domain -> what the number covers, or why it is unavailable
    idle: dict[str, str]  # energy domain -> where its idle power came from, or why there is no net energy
    covers: dict[str, str]  # total (total_gross, total_net_estimated, …) -> the domains it sums
    hardware: str = ""  # the GPU (GPU providers) or the CPU model the job ran on: runs of two are never pooled
    flags: dict[str, str] = field(default_factory=dict)  # quality tag -> "detected: …" / "drifting: …"

    @property
    def runtime_label(self) -> str:
        return runtime_label(self.runtime, self.source)

    @property
    def group_key(self) -> tuple[str, str, str, str]:
        return (self.model, self.batch_size, self.provider, self.hardware)

    @property
    def series_key(self) -> tuple[str, str]:
        return (self.runtime_label, self.mode)

    @property
    def finished(self) -> bool:
        return self.status == "FINISHED"
