"""The study across groups: its tables, and its questions answered as one family.

``analysis`` groups the runs (model, batch size, provider, hardware; never pooled across hardware). The
study (Alizadeh & Castor, CAIN 2024) asks more, and this module lays it out from the same series:

- conversions: every ``onnx (from X)`` against native ``X`` in the same model, batch, provider and hardware;
- providers: the same series on cpu / cuda / tensorrt side by side;
- batch effects: a series' energy per sample at its smallest and largest batch size (descriptive);
- correlation: energy per sample against latency per sample across series, and the series that depart most
  from the trend;
- overview: every series' energy relative to its group's best.

Every verdict word comes from ``questions.answers`` (``green_mlflow.study``: one estimate, one decision
procedure, one family), written into the tables by ``comparisons.apply``. Relative differences are
``other / reference − 1`` (the ratio of geometric means where every value is > 0).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from green_mlflow.study.correlation import Correlation, spearman
from green_mlflow.study.defaults import MARGIN_REL
from green_mlflow.study.design import Design
from green_mlflow.study.estimate import point, use_log
from green_mlflow.study.family import Family
from green_mlflow.study.groups import LATENCY, Group, Quantity, Series
from green_mlflow.study.pairs import Pair, conversion_pairs, energy_quantity, provider_pairs
from green_mlflow.study.questions import Answer, answers

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
    ci_low: float | None  # the answer's repeated interval (``questions``); None for a descriptive row
    ci_high: float | None
    verdict: str = ""  # the answer's verdict, or "descriptive (…)" where the row is not a question
    estimated: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    pair: Pair | None = field(default=None, repr=False, compare=False)  # the series behind the row


@dataclass
class Study:
    margin_rel: float
    conversions: list[Row]
    providers: list[Row]
    batch_effects: list[Row]
    correlations: list[dict]
    overview: list[dict]
    family: Family | None = None  # the questions' family: what each verdict guarantees
    answers: list[Answer] = field(default_factory=list)  # one per comparison: every verdict of the study
    design: Design | None = None  # the adaptive sweep's looks, when the data came from one
    claims: dict | None = None  # declared hypotheses tested as one family (``claims.py``): claims.json


def _row(group: Group, metric: Quantity, ref: Series, other: Series, **extra: str) -> Row:
    """A descriptive row: means and the ratio of b to a; ``comparisons.apply`` adds the answer's verdict."""
    a, b = ref.values(metric.metric), other.values(metric.metric)
    return Row(
        model=group.model,
        batch_size=group.batch_size,
        provider=group.provider,
        hardware=group.hardware,
        metric=metric.metric,
        reference=ref.name,
        other=other.name,
        n_reference=len(a),
        n_other=len(b),
        reference_mean=ref.mean(metric.metric),
        other_mean=other.mean(metric.metric),
        delta_rel=point(a, b, use_log(a, b)),
        ci_low=None,
        ci_high=None,
        estimated=metric.estimated,
        extra=dict(extra),
    )


def _pair_row(pair: Pair) -> Row:
    row = _row(pair.gb, pair.quantity, pair.a, pair.b, **dict(pair.extra))
    if pair.kind == "provider":
        row.reference, row.other = f"{pair.a.name} on {pair.ga.provider}", f"{pair.b.name} on {pair.gb.provider}"
    row.pair = pair
    return row


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
        metric = energy_quantity([small, large])
        if metric is None or not (small.values(metric.metric) and large.values(metric.metric)):
            continue
        row = _row(large_group, metric, small, large, small_batch=small_group.batch_size)
        row.reference, row.other = f"{small.name} at batch {small_group.batch_size}", f"batch {large_group.batch_size}"
        rows.append(row)
    return rows


def correlations(groups: list[Group]) -> list[dict]:
    """Per provider and hardware: Spearman's ρ of energy per sample against latency per sample over the series,
    and the series furthest from the log-log trend (where energy is not just time × power)."""
    return [row for row in (correlation_row(p, h, placed) for (p, h), placed in by_place(groups)) if row]


def by_place(groups: list[Group]) -> list[tuple[tuple[str, str], list[tuple[Group, Series]]]]:
    """The finished series of ``groups`` by (provider, hardware): what one correlation spans."""
    out: dict[tuple[str, str], list[tuple[Group, Series]]] = defaultdict(list)
    for group in groups:
        if group.batch_size.isdigit():
            out[(group.provider, group.hardware)].extend((group, s) for s in group.series if s.finished)
    return sorted(out.items())


def correlation_row(provider: str, hardware: str, placed: list[tuple[Group, Series]]) -> dict | None:
    """Spearman's ρ of energy per sample against latency per sample over ``placed`` (one provider and hardware);
    a note instead where the energy is estimated from time; None without a common energy figure."""
    metric = energy_quantity([s for _, s in placed])
    if metric is None:
        return None
    if metric.estimated:  # an estimate is power × time: its correlation with time says nothing about energy
        return _circular(provider, hardware, metric.metric, len(placed))
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
    return {
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


def build(groups: list[Group], design: Design | None, margin_rel: float = MARGIN_REL) -> Study:
    """The study of ``groups`` in one pass: its tables, and every question answered as one family by the one
    decision procedure, over the looks of the adaptive sweep that collected the data when there was one."""
    result = Study(
        margin_rel=design.margin_rel if design is not None else margin_rel,
        conversions=[_pair_row(p) for p in conversion_pairs(groups)],
        providers=[_pair_row(p) for p in provider_pairs(groups)],
        batch_effects=batch_effects(groups),
        correlations=correlations(groups),
        overview=overview(groups),
        design=design,
    )
    result.family, result.answers = answers(groups, design, result.margin_rel)
    for row in result.batch_effects:
        row.verdict = "descriptive (not one of the study's questions)"
    return result
