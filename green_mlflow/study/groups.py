"""From job runs to groups and series: per-series summaries, the quantity that ranks them, the Pareto front.

A group is one (model, batch size, provider, hardware); within it a series is one (runtime label, mode), and
each finished run of a series (one repetition) is one sample. The series are ranked by one quantity, the
group's *basis*: net energy per sample when every series has it, else gross, measured before estimated, and
latency when no energy figure covers every series. Which differences are real is the questions' answer
(``questions``), not the ranking's.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from green_mlflow.study.runs import JobRun
from green_mlflow.study.summary import Summary, summarise


@dataclass(frozen=True)
class Quantity:
    """A per-run metric the view summarises; ``estimated`` ones are always shown marked."""

    metric: str
    label: str
    unit: str
    estimated: bool = False
    energy: bool = True


ENERGY_NET = Quantity("energy_per_sample_net_j", "net energy per sample", "J")
ENERGY_GROSS = Quantity("energy_per_sample_gross_j", "gross energy per sample", "J")
ENERGY_NET_EST = Quantity("energy_per_sample_net_estimated_j", "net energy per sample", "J", estimated=True)
ENERGY_GROSS_EST = Quantity("energy_per_sample_gross_estimated_j", "gross energy per sample", "J", estimated=True)
LATENCY = Quantity("latency_mean_ms", "mean latency per batch", "ms", energy=False)
# only where the sweep was given a carbon intensity (carbon.intensity_g_per_kwh); they never rank runtimes
CARBON = tuple(
    Quantity(f"co2e_{kind}{est}_g_per_1000_samples", f"CO2e per 1,000 samples ({kind})", "g", bool(est), energy=False)
    for kind in ("net", "gross")
    for est in ("", "_estimated")
)
QUANTITIES = (ENERGY_GROSS, ENERGY_NET, ENERGY_GROSS_EST, ENERGY_NET_EST, LATENCY, *CARBON)
# Order of preference for ranking: measured before estimated; net (the paper's idle-subtracted figure) first.
BASES = (ENERGY_NET, ENERGY_GROSS, ENERGY_NET_EST, ENERGY_GROSS_EST, LATENCY)


@dataclass
class Series:
    """One runtime and mode in a group: its runs, and a summary per quantity over its finished runs."""

    runtime_label: str
    mode: str
    name: str
    runs: list[JobRun]
    summaries: dict[str, Summary] = field(default_factory=dict)
    methods: dict[str, list[str]] = field(default_factory=dict)  # domain -> distinct methods of its runs

    @property
    def finished(self) -> list[JobRun]:
        return [r for r in self.runs if r.finished]

    def values(self, metric: str) -> list[float]:
        return [r.metrics[metric] for r in self.finished if _finite(r.metrics.get(metric))]

    def mean(self, metric: str) -> float | None:
        summary = self.summaries.get(metric)
        return summary.mean if summary else None


@dataclass(frozen=True)
class Point:
    """A series in the energy-versus-latency plane; ``on_front`` when no other series beats it on both."""

    name: str
    latency_ms: float
    energy_j: float
    on_front: bool


@dataclass
class Group:
    """One (model, batch size, provider): what the view shows as one section."""

    model: str
    batch_size: str
    provider: str
    series: list[Series]
    quantities: list[Quantity]
    basis: Quantity | None
    best: Series | None
    points: list[Point]
    trace_runs: list[tuple[str, JobRun]]  # (why it was chosen, run)
    comparisons: dict[str, dict | None] = field(default_factory=dict)  # series -> its answer against the best
    verdict: str = ""  # the group's top line (written by the report from the answers)
    traces: dict[str, dict[str, list[tuple[float, float]]]] = field(default_factory=dict)  # run id -> traces
    notes: list[str] = field(default_factory=list)
    hardware: str = ""  # the GPU or CPU model: groups of different hardware are never pooled
    show_hardware: bool = False  # the view holds several hardware: titles name it

    @property
    def title(self) -> str:
        title = f"{self.model} · batch {self.batch_size} · {self.provider}"
        return f"{title} · {self.hardware or 'unknown hardware'}" if self.show_hardware else title

    @property
    def failed(self) -> list[JobRun]:
        return [r for s in self.series for r in s.runs if not r.finished]


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _batch_order(batch_size: str) -> tuple[int, str]:
    return (int(batch_size), "") if batch_size.isdigit() else (1 << 30, batch_size)


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """For (latency, energy) pairs, whether each is on the front: no other point is ≤ on both and < on one."""
    flags = []
    for i, (x, y) in enumerate(points):
        dominated = any((ox <= x and oy <= y) and (ox < x or oy < y) for j, (ox, oy) in enumerate(points) if j != i)
        flags.append(not dominated)
    return flags


def choose_basis(series: list[Series]) -> tuple[Quantity | None, list[str]]:
    """The quantity every series with finished runs has; notes say why a preferred one was passed over."""
    notes = []
    ranked = [s for s in series if s.finished]
    for quantity in BASES:
        means = [s.mean(quantity.metric) for s in ranked]
        if not ranked or any(m is None for m in means):
            continue
        if quantity.energy and any(m <= 0 for m in means):
            notes.append(
                f"{quantity.label}{' (estimated)' if quantity.estimated else ''} is not positive for every "
                "runtime (idle power above the workload's?), so it does not rank them"
            )
            continue
        return quantity, notes
    return None, notes


def _series_name(runtime_label: str, mode: str, modes_per_label: dict[str, set[str]]) -> str:
    # The mode is part of the name only where one runtime ran in several modes: "torch" reads better than
    # "torch eager" when eager is all there is.
    return f"{runtime_label} {mode}" if len(modes_per_label[runtime_label]) > 1 else runtime_label


def _trace_runs(series: list[Series], basis: Quantity | None) -> list[tuple[str, JobRun]]:
    finished = [r for s in series for r in s.finished]
    if not finished:
        return []
    if basis is None:
        return [("first finished run", finished[0])]
    valued = [r for r in finished if _finite(r.metrics.get(basis.metric))]
    if not valued:
        return [("first finished run", finished[0])]
    label = basis.label + (" (estimated)" if basis.estimated else "")
    best = min(valued, key=lambda r: r.metrics[basis.metric])
    worst = max(valued, key=lambda r: r.metrics[basis.metric])
    chosen = [(f"lowest {label}", best)]
    if worst.run_id != best.run_id:
        chosen.append((f"highest {label}", worst))
    return chosen


def analyse_group(key: tuple[str, ...], runs: list[JobRun]) -> Group:
    """Statistics, tests, verdict and Pareto front of one group (traces are loaded separately)."""
    by_series: dict[tuple[str, str], list[JobRun]] = defaultdict(list)
    for run in runs:
        by_series[run.series_key].append(run)
    modes: dict[str, set[str]] = defaultdict(set)
    for label, mode in by_series:
        modes[label].add(mode)
    series = [Series(label, mode, _series_name(label, mode, modes), rs) for (label, mode), rs in by_series.items()]
    quantities = [q for q in QUANTITIES if any(s.values(q.metric) for s in series)]
    for s in series:
        s.summaries = {q.metric: summarise(s.values(q.metric)) for q in quantities}
        for run in s.finished:
            for domain, method in run.methods.items():
                s.methods.setdefault(domain, [])
                if method not in s.methods[domain]:
                    s.methods[domain].append(method)
    basis, notes = choose_basis(series)

    def rank(s: Series) -> tuple[int, float, str]:
        mean = s.mean(basis.metric) if basis else None
        return (0 if mean is not None else 1, mean if mean is not None else 0.0, s.name)

    series.sort(key=rank)
    best = series[0] if basis and series and series[0].mean(basis.metric) is not None else None
    points: list[Point] = []
    if basis is not None and basis.energy:
        placed = [s for s in series if s.mean(LATENCY.metric) is not None and s.mean(basis.metric) is not None]
        pairs = [(s.mean(LATENCY.metric), s.mean(basis.metric)) for s in placed]
        points = [Point(s.name, x, y, f) for s, (x, y), f in zip(placed, pairs, pareto_front(pairs))]
    group = Group(
        model=key[0],
        batch_size=key[1],
        provider=key[2],
        hardware=key[3] if len(key) > 3 else "",
        series=series,
        quantities=quantities,
        basis=basis,
        best=best,
        points=points,
        trace_runs=_trace_runs(series, basis),
        notes=notes,
    )
    return group


def group_runs(runs: list[JobRun]) -> list[Group]:
    """The runs grouped and each group analysed, in reading order (model, provider, batch size, hardware)."""
    grouped: dict[tuple[str, ...], list[JobRun]] = defaultdict(list)
    for run in runs:
        grouped[run.group_key].append(run)
    keys = sorted(grouped, key=lambda k: (k[0], k[2], _batch_order(k[1]), k[3]))
    groups = [analyse_group(key, grouped[key]) for key in keys]
    if len({key[3] for key in keys}) > 1:  # several machines: every title says which one
        for group in groups:
            group.show_hardware = True
    return groups
