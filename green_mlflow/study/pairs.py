"""The pairs of series the study compares across its tables and questions: each ONNX model against its source
framework (conversions), and a series on each provider against its lowest provider (providers).

Made once from the groups; the tables' rows (``tables``) and the study's questions (``questions``) are both
views of these pairs, so a table can never show a comparison the study did not ask.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from green_mlflow.study.groups import BASES, LATENCY, Group, Quantity, Series


def energy_quantity(series: list[Series]) -> Quantity | None:
    """The energy quantity every one of ``series`` has (measured before estimated, net before gross)."""
    for quantity in BASES:
        if quantity.energy and all(s.mean(quantity.metric) is not None for s in series):
            return quantity
    return None


@dataclass(frozen=True)
class Pair:
    """Two series the study compares on one quantity: ``b`` (other) against ``a`` (reference), perhaps in two
    groups (providers). The tables' rows and the study's questions are both made from pairs."""

    ga: Group
    a: Series
    gb: Group
    b: Series
    quantity: Quantity
    kind: str  # conversion | provider
    extra: tuple[tuple[str, str], ...] = ()


def conversion_pairs(groups: list[Group]) -> list[Pair]:
    """Every ONNX series against the native series of its source framework, in the same group: on the pair's
    energy quantity, and on latency."""
    pairs = []
    for group in groups:
        for onnx in (s for s in group.series if s.runtime_label.startswith("onnx (from ")):
            source = onnx.runtime_label[len("onnx (from ") : -1]
            for native in (s for s in group.series if s.runtime_label == source):
                for metric in (energy_quantity([native, onnx]), LATENCY):
                    if metric is not None and native.values(metric.metric) and onnx.values(metric.metric):
                        extra = (("source", source), ("mode", onnx.mode))
                        pairs.append(Pair(group, native, group, onnx, metric, "conversion", extra))
    return pairs


def provider_pairs(groups: list[Group]) -> list[Pair]:
    """The same series (an ONNX model, or a native runtime) on each provider, against its lowest provider."""
    by_series: dict[tuple, list[tuple[Group, Series]]] = defaultdict(list)
    for group in groups:
        for s in group.series:
            by_series[(group.model, group.batch_size, group.hardware, s.runtime_label, s.mode)].append((group, s))
    pairs = []
    for placed in by_series.values():
        if len({g.provider for g, _ in placed}) < 2:
            continue
        for metric in (energy_quantity([s for _, s in placed]), LATENCY):
            if metric is None:
                continue
            valued = [(g, s) for g, s in placed if s.values(metric.metric)]
            if len(valued) < 2:
                continue
            ref_group, ref = min(valued, key=lambda gs: gs[1].mean(metric.metric))
            for group, s in valued:
                if s is not ref:
                    extra = (("reference_provider", ref_group.provider),)
                    pairs.append(Pair(ref_group, ref, group, s, metric, "provider", extra))
    return pairs


def primary(pairs: list[Pair]) -> list[Pair]:
    """The pairs the study asks about: a pair's energy quantity where it has one, else its latency."""
    with_energy = {(id(p.a), id(p.b)) for p in pairs if p.quantity.energy}
    return [p for p in pairs if p.quantity.energy or (id(p.a), id(p.b)) not in with_energy]
