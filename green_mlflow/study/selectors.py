"""Where a declared hypothesis points: the series its selectors name (``Place``), the pairs a comparison
hypothesis makes, the quantity it reads in a group, and the overrides that would measure it."""

from __future__ import annotations

from dataclasses import dataclass

from green_mlflow.registry import RUNTIMES
from green_mlflow.study.groups import LATENCY, Group, Series
from green_mlflow.study.hypotheses import Hypothesis, Selector


@dataclass(frozen=True)
class Place:
    """A series where it was measured: its group and the facts a selector reads."""

    group: Group
    series: Series

    @property
    def facts(self) -> dict[str, str | None]:
        run = self.series.runs[0]
        return {
            "runtime": run.runtime,
            "source": run.source,
            "mode": self.series.mode,
            "model": self.group.model,
            "batch_size": self.group.batch_size,
            "provider": self.group.provider,
            "hardware": self.group.hardware,
        }

    def title(self) -> str:
        return f"{self.series.name} · {self.group.model} · batch {self.group.batch_size} · {self.group.provider}"


def places(groups: list[Group]) -> list[Place]:
    return [Place(g, s) for g in groups for s in g.series if s.finished]


CPU_UTILISATION = "cpu_util_process_percent"  # metric=cpu_utilisation: the process's mean CPU % while measured


def metric_of(h: Hypothesis, group: Group) -> str | None:
    if h.metric == "latency":
        return LATENCY.metric
    if h.metric == "cpu_utilisation":
        return CPU_UTILISATION
    return group.basis.metric if group.basis is not None and group.basis.energy else None


def quantity(h: Hypothesis, group: Group) -> str:
    """What a hypothesis compares in ``group``, in words; an estimated energy says it is not a measurement."""
    if h.metric == "cpu_utilisation":
        return "CPU utilisation of the inference process (mean %), measured"
    if h.metric == "latency" or group.basis is None:
        return "latency (mean per batch)"
    if group.basis.estimated:
        return f"{group.basis.label}, estimated (power × time: no energy counter here), not measured"
    return f"{group.basis.label}, measured"


def pair_metric(h: Hypothesis, pa: Place, pb: Place) -> str | None:
    """The metric a comparison hypothesis reads on a pair: both groups' energy basis (the same one), or latency."""
    metric = metric_of(h, pa.group)
    return metric if metric is not None and metric == metric_of(h, pb.group) else None


def _as_run_by_default(place: Place, side: Selector, where: Selector) -> bool:
    """A side that names no mode reads its runtime's default mode only (torch eager, tf function, mxnet
    hybrid, onnx ort_all: how the runtime runs unless told otherwise); a claim that wants other modes names them."""
    if "mode" in side.values or "mode" in where.values:
        return True
    entry = RUNTIMES.get(place.facts["runtime"] or "")
    return entry is None or place.facts["mode"] == entry.default_mode


def _conversion(h: Hypothesis) -> bool:
    """ONNX Runtime on one side (naming no source) against frameworks on the other: each ONNX model is paired
    with the framework it was converted from, never with another."""
    sides = (h.a, h.b)
    return any(s.get("runtime") == ("onnx",) and not s.get("source") for s in sides) and any(
        s.get("runtime") and "onnx" not in s.get("runtime") for s in sides
    )


def _converted_from(pa: Place, pb: Place) -> bool:
    native, onnx = (pb, pa) if pa.facts["runtime"] == "onnx" else (pa, pb)
    return onnx.facts["runtime"] == "onnx" and onnx.facts["source"] == native.facts["runtime"]


def pairs(groups: list[Group], h: Hypothesis) -> list[tuple[Place, Place]]:
    """(a, b) series a comparison hypothesis pairs: like for like — the same model, batch, provider, hardware
    (and source, and mode, unless the selectors name them) — but for what its selectors name. Where the sides
    name different runtimes, their modes cannot match (torch eager against mxnet hybrid): each side reads its
    runtime's default mode unless it names its own, so torch CUDA graphs are never paired with MXNet's default.
    ONNX against frameworks, with no source named, is a conversion: each ONNX model against its own source."""
    named = set(h.a.values) | set(h.b.values)
    conversion = _conversion(h)
    key_facts = [k for k in ("model", "batch_size", "provider", "hardware", "source", "mode") if k not in named]
    if conversion and "source" in key_facts:
        key_facts.remove("source")
    by_default = "runtime" in named and "mode" in key_facts
    if by_default:
        key_facts.remove("mode")
    found = [p for p in places(groups) if h.where.matches(**p.facts)]
    side_a = [p for p in found if h.a.matches(**p.facts) and (not by_default or _as_run_by_default(p, h.a, h.where))]
    side_b = [p for p in found if h.b.matches(**p.facts) and (not by_default or _as_run_by_default(p, h.b, h.where))]
    return [
        (pa, pb)
        for pa in side_a
        for pb in side_b
        if pa is not pb
        and all(pa.facts[k] == pb.facts[k] for k in key_facts)
        and (not conversion or _converted_from(pa, pb))
    ]


def overrides(h: Hypothesis) -> str:
    """The ``-m`` overrides that would measure what a hypothesis speaks of."""
    merged: dict[str, list[str]] = {}
    for selector in (h.a, h.b, h.series, h.where):
        for key, values in selector.values.items():
            merged.setdefault(key, [])
            merged[key] += [v for v in values if v not in merged[key]]
    if "source" in merged and "onnx" not in merged.get("runtime", ["onnx"]):
        merged.setdefault("runtime", []).append("onnx")
    parts = [f"{'runtime.source' if k == 'source' else k}={','.join(v)}" for k, v in merged.items()]
    return (
        "python -m green_mlflow -m " + " ".join(parts)
        if parts
        else "python -m green_mlflow -m runtime=torch,tf,mxnet,onnx"
    )
