"""The study's questions across groups: conversion, providers, batch size, equivalence, energy against time.

``analysis`` answers one question per group (which runtime is lowest). The study (Alizadeh & Castor, CAIN
2024) asks more, and this module answers it from the same series, never pooling runs of different hardware:

- conversions: every ``onnx (from X)`` against native ``X`` in the same model, batch, provider and hardware;
- providers: the same ONNX series on cpu / cuda / tensorrt side by side;
- batch effects: a series' energy per sample at its smallest and largest batch size;
- equivalences: "A and B are equivalent within ±m" only from a TOST (docs/method.md rule 13);
- correlation: energy per sample against latency per sample across series (rule 15), and the series that
  depart most from the trend;
- overview: every series' energy relative to its group's best.

Relative differences follow ``stats``: ``other / reference − 1`` with a delta-method 95 % interval (rule 14).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from green_mlflow.report.analysis import ALPHA, BASES, LATENCY, Group, Quantity, Series, View
from green_mlflow.report.correlation import Correlation, spearman
from green_mlflow.report.stats import Comparison, compare, holm, tost, welch_p

DEFAULT_MARGIN = 0.05  # equivalence margin: ±5 % of the reference mean
MIN_N = 3  # fewer runs per series: every verdict is "inconclusive", whatever a test says
DEPARTURES = 3  # series named as departing most from the energy-time trend


@dataclass
class Row:
    """One comparison in a table: ``other`` against ``reference`` on ``metric`` (``delta_rel = other/ref − 1``)."""

    model: str
    batch_size: str
    provider: str
    hardware: str
    metric: str
    reference: str
    other: str
    n_reference: int
    n_other: int
    reference_mean: float | None
    other_mean: float | None
    delta_rel: float | None
    ci_low: float | None
    ci_high: float | None
    test: str | None
    p_value: float | None
    p_holm: float | None = None
    verdict: str = ""
    estimated: bool = False
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class EquivalenceRow:
    model: str
    batch_size: str
    provider: str
    hardware: str
    metric: str
    a: str
    b: str
    n_a: int
    n_b: int
    margin_rel: float
    diff_rel: float | None  # (mean_b − mean_a) / mean_a
    ci90_low_rel: float | None
    ci90_high_rel: float | None
    p_tost: float | None
    p_difference: float | None
    verdict: str  # equivalent | different | inconclusive
    estimated: bool = False


@dataclass
class Study:
    margin_rel: float
    conversions: list[Row]
    providers: list[Row]
    batch_effects: list[Row]
    equivalences: list[EquivalenceRow]
    correlations: list[dict]
    overview: list[dict]
    adaptive: dict | None = None  # an adaptive sweep: its design and every question's sequential answer
    claims: dict | None = None  # declared hypotheses tested as one family (``claims.py``): claims.json


def _energy(series: list[Series]) -> Quantity | None:
    """The energy quantity every one of ``series`` has (measured before estimated, net before gross)."""
    for quantity in BASES:
        if quantity.energy and all(s.mean(quantity.metric) is not None for s in series):
            return quantity
    return None


def _row(group: Group, metric: Quantity, ref: Series, other: Series, **extra: str) -> Row:
    c: Comparison = compare(ref.values(metric.metric), other.values(metric.metric))
    half = c.relative_diff_ci95
    return Row(
        model=group.model,
        batch_size=group.batch_size,
        provider=group.provider,
        hardware=group.hardware,
        metric=metric.metric,
        reference=ref.name,
        other=other.name,
        n_reference=c.n_a,
        n_other=c.n_b,
        reference_mean=c.mean_a,
        other_mean=c.mean_b,
        delta_rel=c.relative_diff,
        ci_low=None if half is None or c.relative_diff is None else c.relative_diff - half,
        ci_high=None if half is None or c.relative_diff is None else c.relative_diff + half,
        test=c.test,
        p_value=c.p_value,
        estimated=metric.estimated,
        extra=dict(extra),
    )


def _judge(rows: list[Row]) -> list[Row]:
    """Holm over the table (one family per metric kind), then a verdict per row."""
    for energy in (True, False):
        family = [r for r in rows if (r.metric != LATENCY.metric) == energy]
        for row, p in zip(family, holm([r.p_value for r in family])):
            row.p_holm = p
    for row in rows:
        if min(row.n_reference, row.n_other) < MIN_N:
            row.verdict = f"inconclusive: n = {row.n_reference} vs {row.n_other} is too few"
        elif row.p_holm is None:
            row.verdict = "inconclusive: no test was possible"
        elif row.p_holm < ALPHA:
            row.verdict = "lower" if (row.delta_rel or 0) < 0 else "higher"
        else:
            row.verdict = "no significant difference"
    return rows


def conversions(groups: list[Group]) -> list[Row]:
    """Every ONNX series against the native series of its source framework, in the same group."""
    rows = []
    for group in groups:
        for onnx in (s for s in group.series if s.runtime_label.startswith("onnx (from ")):
            source = onnx.runtime_label[len("onnx (from ") : -1]
            for native in (s for s in group.series if s.runtime_label == source):
                pair = [native, onnx]
                energy = _energy(pair)
                for metric in (energy, LATENCY):
                    if metric is not None and all(s.values(metric.metric) for s in pair):
                        rows.append(_row(group, metric, native, onnx, source=source, mode=onnx.mode))
    return _judge(rows)


def providers(groups: list[Group]) -> list[Row]:
    """The same series (an ONNX model, or a native runtime) on each provider, against its lowest provider."""
    by_series: dict[tuple, list[tuple[Group, Series]]] = defaultdict(list)
    for group in groups:
        for s in group.series:
            by_series[(group.model, group.batch_size, group.hardware, s.runtime_label, s.mode)].append((group, s))
    rows = []
    for placed in by_series.values():
        if len({g.provider for g, _ in placed}) < 2:
            continue
        for metric in (_energy([s for _, s in placed]), LATENCY):
            if metric is None:
                continue
            valued = [(g, s) for g, s in placed if s.values(metric.metric)]
            if len(valued) < 2:
                continue
            ref_group, ref = min(valued, key=lambda gs: gs[1].mean(metric.metric))
            for group, s in valued:
                if s is not ref:
                    row = _row(group, metric, ref, s, reference_provider=ref_group.provider)
                    row.reference, row.other = f"{ref.name} on {ref_group.provider}", f"{s.name} on {group.provider}"
                    rows.append(row)
    return _judge(rows)


def batch_effects(groups: list[Group]) -> list[Row]:
    """A series' energy per sample (and latency per batch) at its largest batch size against its smallest."""
    by_series: dict[tuple, list[tuple[Group, Series]]] = defaultdict(list)
    for group in groups:
        if group.batch_size.isdigit():
            for s in group.series:
                by_series[(group.model, group.provider, group.hardware, s.runtime_label, s.mode)].append((group, s))
    rows = []
    for placed in by_series.values():
        if len(placed) < 2:
            continue
        placed.sort(key=lambda gs: int(gs[0].batch_size))
        (small_group, small), (large_group, large) = placed[0], placed[-1]
        metric = _energy([small, large])
        if metric is None or not (small.values(metric.metric) and large.values(metric.metric)):
            continue
        row = _row(large_group, metric, small, large, small_batch=small_group.batch_size)
        row.reference, row.other = f"{small.name} at batch {small_group.batch_size}", f"batch {large_group.batch_size}"
        rows.append(row)
    return _judge(rows)


def equivalences(groups: list[Group], margin_rel: float = DEFAULT_MARGIN) -> list[EquivalenceRow]:
    """Every pair of series in a group, on the group's basis: equivalent, different or inconclusive."""
    rows = []
    for group in groups:
        if group.basis is None:
            continue
        metric = group.basis.metric
        ranked = [s for s in group.series if s.values(metric)]
        for i, a in enumerate(ranked):
            for b in ranked[i + 1 :]:
                e = tost(a.values(metric), b.values(metric), margin_rel)
                p_difference = welch_p(a.values(metric), b.values(metric))
                scale = abs(e.mean_a) if e.mean_a else None

                def rel(value: float | None, scale: float | None = scale) -> float | None:
                    return value / scale if value is not None and scale else None

                if min(e.n_a, e.n_b) < MIN_N or e.p_tost is None:
                    verdict = f"inconclusive: n = {e.n_a} vs {e.n_b} is too few"
                elif e.p_tost < ALPHA:
                    verdict = "equivalent"
                elif p_difference is not None and p_difference < ALPHA:
                    verdict = "different"
                else:
                    verdict = "inconclusive: neither equivalent nor different at this n"
                rows.append(
                    EquivalenceRow(
                        group.model,
                        group.batch_size,
                        group.provider,
                        group.hardware,
                        metric,
                        a.name,
                        b.name,
                        e.n_a,
                        e.n_b,
                        margin_rel,
                        rel(e.diff),
                        rel(e.ci90_low),
                        rel(e.ci90_high),
                        e.p_tost,
                        p_difference,
                        verdict,
                        group.basis.estimated,
                    )
                )
    return rows


def correlations(groups: list[Group]) -> list[dict]:
    """Per provider and hardware: Spearman's ρ of energy per sample against latency per sample over the series,
    and the series furthest from the log-log trend (where energy is not just time × power)."""
    by_place: dict[tuple[str, str], list[tuple[Group, Series]]] = defaultdict(list)
    for group in groups:
        if group.batch_size.isdigit():
            by_place[(group.provider, group.hardware)].extend((group, s) for s in group.series if s.finished)
    out = []
    for (provider, hardware), placed in sorted(by_place.items()):
        metric = _energy([s for _, s in placed])
        if metric is None:
            continue
        if metric.estimated:  # an estimate is power × time: its correlation with time says nothing about energy
            out.append(_circular(provider, hardware, metric.metric, len(placed)))
            continue
        points = [
            (
                f"{s.name} · {g.model} · batch {g.batch_size}",
                s.mean(LATENCY.metric) / int(g.batch_size),
                s.mean(metric.metric),
            )
            for g, s in placed
            if s.mean(LATENCY.metric) and s.mean(metric.metric) and s.mean(metric.metric) > 0
        ]
        result: Correlation = spearman([p[1] for p in points], [p[2] for p in points])
        departures = []
        if len(points) >= 3:
            x, y = np.log([p[1] for p in points]), np.log([p[2] for p in points])
            slope, intercept = np.polyfit(x, y, 1)
            residuals = y - (slope * x + intercept)
            for index in np.argsort(-np.abs(residuals))[:DEPARTURES]:
                if abs(residuals[index]) < 1e-6:  # on the trend, to rounding: no departure to name
                    break
                departures.append({"series": points[index][0], "energy_vs_trend_rel": math.expm1(residuals[index])})
        out.append(
            {
                "provider": provider,
                "hardware": hardware,
                "metric": metric.metric,
                "estimated": metric.estimated,
                "x": "latency per sample (latency_mean_ms / batch_size)",
                "n": result.n,
                "rho": result.rho,
                "p_value": result.p_value,
                "ci95_low": result.ci95_low,
                "ci95_high": result.ci95_high,
                "note": result.note,
                "p_method": result.p_method,
                "departures": departures,
            }
        )
    return out


def _circular(provider: str, hardware: str, metric: str, series: int) -> dict:
    """The correlation not computed: the only energy figure is estimated from time (docs/method.md rule 15)."""
    note = (
        f"the energy here is estimated ({metric}: TDP × utilisation × time), so its correlation with time is "
        "circular; energy against time is reported for measured energy (a counter) only"
    )
    return {
        "provider": provider,
        "hardware": hardware,
        "metric": metric,
        "estimated": True,
        "x": "latency per sample (latency_mean_ms / batch_size)",
        "n": series,
        "rho": None,
        "p_value": None,
        "ci95_low": None,
        "ci95_high": None,
        "note": note,
        "p_method": "",
        "departures": [],
    }


def overview(groups: list[Group]) -> list[dict]:
    """Each series' mean on its group's basis, relative to the group's best: the study at a glance."""
    cells = []
    for group in groups:
        if group.basis is None or group.best is None:
            continue
        best = group.best.mean(group.basis.metric)
        for s in group.series:
            mean = s.mean(group.basis.metric)
            cells.append(
                {
                    "model": group.model,
                    "batch_size": group.batch_size,
                    "provider": group.provider,
                    "hardware": group.hardware,
                    "series": s.name,
                    "metric": group.basis.metric,
                    "estimated": group.basis.estimated,
                    "mean": mean,
                    "relative_to_best": mean / best if mean is not None and best else None,
                }
            )
    return cells


def study(view: View, margin_rel: float = DEFAULT_MARGIN) -> Study:
    groups = view.groups
    result = Study(
        margin_rel=margin_rel,
        conversions=conversions(groups),
        providers=providers(groups),
        batch_effects=batch_effects(groups),
        equivalences=equivalences(groups, margin_rel),
        correlations=correlations(groups),
        overview=overview(groups),
    )
    if view.dataset.design or view.dataset.hypotheses:
        from green_mlflow.report.decisions import adaptive_answers, tested_claims

        if view.dataset.design:
            result.adaptive = adaptive_answers(view, result, view.dataset.design)
        if view.dataset.hypotheses:
            result.claims = tested_claims(view, result, view.dataset.hypotheses)
    return result
