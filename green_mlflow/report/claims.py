"""Declared hypotheses tested as one family: the report's "Claims" section and ``report/claims.json``.

Each hypothesis (``hypotheses``) gets a status — ``supported``, ``contradicted``, ``inconclusive`` (with what
would decide it) or ``not measured`` (with the overrides that would measure it) — its statistic, interval and
n per side. A claim over several groups or pairs holds only if it holds in each (intersection-union: its
p-value is the largest), and is contradicted if it fails in any (its p-value the smallest, Bonferroni over
the pairs). Holm then corrects each of the two across all declared hypotheses (docs/method.md rule 20).

Comparisons are one-sided Welch t-tests on the logs of the values (ratios of geometric means; a relative
``min_effect`` is a shift of log(1 − m) or log(1 + m)); equivalence is TOST on the same scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps

from green_mlflow.report.analysis import ALPHA, LATENCY, Group, Series, View
from green_mlflow.report.hypotheses import Declared, Hypothesis
from green_mlflow.report.stats import holm

PAPER_HARDWARE = "an RTX 3070 GPU (Alizadeh & Castor, CAIN 2024)"


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


@dataclass
class Claim:
    """One hypothesis's outcome (``record`` is its entry in ``claims.json``)."""

    hypothesis: Hypothesis
    status: str = "not measured"
    statistic: str = ""
    p_support: float | None = None
    p_contradict: float | None = None
    p_support_holm: float | None = None
    p_contradict_holm: float | None = None
    ratio: float | None = None  # b/a of the decisive pair (geometric means)
    ci95: tuple[float, float] | None = None
    n: list[tuple[int, int]] = field(default_factory=list)
    detail: list[str] = field(default_factory=list)
    decide: str = ""  # inconclusive: what would decide it; not measured: the overrides that would measure it
    tested_on: str = ""
    quantity: str = ""  # what was compared, and whether it was measured or estimated
    weakest: tuple | None = None  # (Test, shift) of a comparison's weakest pair, for "what would decide it"

    def record(self) -> dict:
        h = self.hypothesis
        return {
            "id": h.id,
            "statement": h.statement,
            "kind": h.kind,
            "status": self.status,
            "statistic": self.statistic,
            "p_support": self.p_support,
            "p_contradict": self.p_contradict,
            "p_support_holm": self.p_support_holm,
            "p_contradict_holm": self.p_contradict_holm,
            "ratio": self.ratio,
            "ci95_low": self.ci95[0] if self.ci95 else None,
            "ci95_high": self.ci95[1] if self.ci95 else None,
            "n_per_side": [list(p) for p in self.n],
            "detail": self.detail,
            "what_would_decide": self.decide,
            "tested_on": self.tested_on,
            "quantity": self.quantity,
            "correction": "Holm over all declared hypotheses (support and contradiction apart)",
        }


def places(view: View) -> list[Place]:
    return [Place(g, s) for g in view.groups for s in g.series if s.finished]


def _metric(h: Hypothesis, group: Group) -> str | None:
    if h.metric == "latency":
        return LATENCY.metric
    return group.basis.metric if group.basis is not None and group.basis.energy else None


def quantity(h: Hypothesis, group: Group) -> str:
    """What a hypothesis compares in ``group``, in words; an estimated energy says it is not a measurement."""
    if h.metric == "latency" or group.basis is None:
        return "latency (mean per batch)"
    if group.basis.estimated:
        return f"{group.basis.label}, estimated (power × time: no energy counter here), not measured"
    return f"{group.basis.label}, measured"


def pair_metric(h: Hypothesis, pa: Place, pb: Place) -> str | None:
    """The metric a comparison hypothesis reads on a pair: both groups' energy basis (the same one), or latency."""
    metric = _metric(h, pa.group)
    return metric if metric is not None and metric == _metric(h, pb.group) else None


def _logs(series: Series, metric: str) -> np.ndarray | None:
    values = np.asarray(series.values(metric), dtype=float)
    return np.log(values) if values.size and np.all(values > 0) else None


@dataclass(frozen=True)
class Test:
    """b against a on the log scale: d = mean log b − mean log a, Welch SE and df."""

    d: float
    se: float
    df: float
    n_a: int
    n_b: int

    def below(self, shift: float) -> float:
        """One-sided p of H1: d < shift."""
        return float(sps.t.cdf((self.d - shift) / self.se, self.df)) if self.se > 0 else float(self.d >= shift)

    def above(self, shift: float) -> float:
        return float(sps.t.sf((self.d - shift) / self.se, self.df)) if self.se > 0 else float(self.d <= shift)

    def ci95(self) -> tuple[float, float]:
        half = float(sps.t.ppf(0.975, self.df)) * self.se if self.se > 0 else 0.0
        return math.exp(self.d - half), math.exp(self.d + half)


def welch_log(a: Series, b: Series, metric: str) -> Test | None:
    x, y = _logs(a, metric), _logs(b, metric)
    if x is None or y is None or x.size < 2 or y.size < 2:
        return None
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1)) if se > 0 else float(x.size + y.size - 2)
    return Test(float(y.mean() - x.mean()), se, df, int(x.size), int(y.size))


def pairs(view: View, h: Hypothesis) -> list[tuple[Place, Place]]:
    """(a, b) series a comparison hypothesis pairs: the same measurement but for what its selectors name."""
    named = set(h.a.values) | set(h.b.values)
    key_facts = [k for k in ("model", "batch_size", "provider", "hardware", "source", "mode") if k not in named]
    if "runtime" in named and "mode" in key_facts:
        key_facts.remove("mode")  # modes belong to a runtime: torch eager is compared with mxnet hybrid
    found = [p for p in places(view) if h.where.matches(**p.facts)]
    side_a = [p for p in found if h.a.matches(**p.facts)]
    side_b = [p for p in found if h.b.matches(**p.facts)]
    return [
        (pa, pb)
        for pa in side_a
        for pb in side_b
        if pa is not pb and all(pa.facts[k] == pb.facts[k] for k in key_facts)
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


POWER = 0.8  # "what would decide it": runs per series for an 80 % chance at the family-corrected level


def _n_to_decide(t: Test, shift: float, family: int) -> int | None:
    """Runs per series (equal n) for a one-sided two-sample t-test of the weakest pair's observed gap, with its
    pooled SD, to reach Holm's strictest level (alpha / family) with 80 % power: the noncentral t, exact at small
    n (checked against statsmodels' TTestIndPower). None without a gap, or beyond 10,000 runs."""
    gap = abs(t.d - shift)
    sd = t.se / math.sqrt(1 / t.n_a + 1 / t.n_b)
    if gap <= 0 or sd <= 0:
        return None
    alpha = ALPHA / max(family, 1)
    for n in range(2, 10_001):
        df = 2 * n - 2
        if sps.nct.sf(sps.t.ppf(1 - alpha, df), df, gap / sd * math.sqrt(n / 2)) >= POWER:
            return n
    return None


def _compare(view: View, h: Hypothesis, claim: Claim) -> None:
    sign = -1.0 if h.kind == "lower" else 1.0
    shift = math.log(1 + sign * h.min_effect) if h.kind != "equivalent" else 0.0
    tests = []
    for pa, pb in pairs(view, h):
        metric = pair_metric(h, pa, pb)
        t = welch_log(pa.series, pb.series, metric) if metric else None
        if t is None:
            claim.detail.append(f"{pb.title()} vs {pa.title()}: no common measured figure or fewer than 2 runs")
            continue
        tests.append((pa, pb, t))
    if not tests:
        claim.decide = overrides(h)
        return
    support, contradict = [], []
    for pa, pb, t in tests:
        if h.kind == "equivalent":
            lo, hi = math.log(1 - h.margin), math.log(1 + h.margin)
            support.append(max(t.above(lo), t.below(hi)))  # TOST
            contradict.append(min(t.below(lo), t.above(hi)))  # outside the margin on one side
        elif h.kind == "lower":
            support.append(t.below(shift))
            contradict.append(t.above(shift))
        else:
            support.append(t.above(shift))
            contradict.append(t.below(shift))
        claim.n.append((t.n_a, t.n_b))
        claim.detail.append(f"{pb.series.name} / {pa.series.name} ({pa.group.model}, batch {pa.group.batch_size}, "
                            f"{pa.group.provider if pa.group.provider == pb.group.provider else pa.group.provider + ' vs ' + pb.group.provider}): "
                            f"{math.exp(t.d):.3f}, n = {t.n_a} vs {t.n_b}")  # fmt: skip
    worst = int(np.argmax(support))
    claim.p_support = float(support[worst])
    claim.p_contradict = min(1.0, float(min(contradict)) * len(contradict))
    pa, pb, t = tests[worst]
    claim.ratio, claim.ci95 = math.exp(t.d), t.ci95()
    claim.quantity = quantity(h, pa.group)
    what = {"lower": "one-sided Welch t (b < a", "higher": "one-sided Welch t (b > a", "equivalent": "TOST (Welch"}
    effect = f" by ≥ {h.min_effect:.0%}" if h.min_effect and h.kind != "equivalent" else ""
    margin = f", ±{h.margin:.0%}" if h.kind == "equivalent" else ""
    claim.statistic = (
        f"{what[h.kind]}{effect}{margin}) on log values over {len(tests)} pair(s); the weakest pair is shown"
    )
    if h.kind == "equivalent":  # what decides an equivalence is the distance to the nearer margin
        lo, hi = math.log(1 - h.margin), math.log(1 + h.margin)
        shift = lo if abs(t.d - lo) < abs(t.d - hi) else hi
    claim.weakest = (t, shift)
    claim.tested_on = ", ".join(sorted({p.group.hardware or p.group.provider for p, _, _ in tests}))


def _best(view: View, h: Hypothesis, claim: Claim) -> None:
    support, contradict = [], []
    for group in view.groups:
        if not h.where.matches(model=group.model, batch_size=group.batch_size, provider=group.provider):
            continue
        metric = _metric(h, group)
        mine = [s for s in group.series if s.finished and h.series.matches(**Place(group, s).facts)]
        others = [s for s in group.series if s.finished and s not in mine]
        others = [s for s in others if not h.b.values or h.b.matches(**Place(group, s).facts)]
        if not mine or not others or metric is None:
            continue
        for s in mine:
            tests = [welch_log(o, s, metric) for o in others]
            if any(t is None for t in tests):
                continue
            support.append(max(t.below(0.0) for t in tests))  # lower than every competitor
            contradict.append(min(min(t.above(0.0) for t in tests) * len(tests), 1.0))
            claim.n.append((min(t.n_a for t in tests), tests[0].n_b))
            claim.detail.append(f"{s.name} in {group.title}: ranked {group.series.index(s) + 1} of {len(group.series)}")
            claim.tested_on = group.hardware or group.provider
            claim.quantity = quantity(h, group)
    if not support:
        claim.decide = overrides(h)
        return
    claim.p_support, claim.p_contradict = max(support), min(1.0, min(contradict) * len(contradict))
    claim.statistic = f"one-sided Welch t on log values against every competitor in {len(support)} group(s)"


def _ranking(view: View, h: Hypothesis, claim: Claim) -> None:
    groups = [g for g in view.groups if h.where.matches(model=g.model, batch_size=g.batch_size, provider=g.provider)]
    orders: dict[tuple[str, str], list[tuple[Group, float, float]]] = {}
    for g in groups:
        metric = _metric(h, g)
        series = [s for s in g.series if s.finished and h.series.matches(**Place(g, s).facts)]
        for i, x in enumerate(series):
            for y in series[i + 1 :]:
                t = welch_log(x, y, metric) if metric else None
                if t is not None:
                    key = tuple(sorted((x.name, y.name)))
                    flip = key != (x.name, y.name)
                    # p that the first name of the key is lower, and that it is higher
                    lower, higher = (t.above(0.0), t.below(0.0)) if not flip else (t.below(0.0), t.above(0.0))
                    orders.setdefault(key, []).append((g, lower, higher))
    shared = {k: v for k, v in orders.items() if len(v) >= 2}
    if not shared:
        claim.decide = overrides(h) + " (two groups or more with the same runtimes)"
        return
    claim.quantity = quantity(h, next(iter(shared.values()))[0][0])
    # a reversal: the pair's first series significantly lower in one group and significantly higher in another
    reversals = [max(min(a[1] for a in v), min(a[2] for a in v)) for v in shared.values()]
    # the same order everywhere: significantly lower in every group, or significantly higher in every group
    same = [min(max(a[1] for a in v), max(a[2] for a in v)) for v in shared.values()]
    claim.p_support = min(1.0, min(reversals) * len(reversals))
    claim.p_contradict = max(same)
    claim.n = [(len(v), len(shared)) for v in list(shared.values())[:1]]
    claim.statistic = (
        f"order reversal of a pair between groups (one-sided Welch t on log values, each direction; Bonferroni over "
        f"{len(shared)} pair(s)); contradicted when every pair keeps a significant order in every group"
    )
    claim.tested_on = ", ".join(sorted({g.hardware or g.provider for g in groups}))


def _correlation(study, h: Hypothesis, claim: Claim) -> None:
    rows = [c for c in study.correlations if h.where.matches(provider=c["provider"])]
    measured = [c for c in rows if c["rho"] is not None]
    if not measured:  # no series, or energy only estimated from time: nothing measured to correlate
        notes = "; ".join(c["note"] for c in rows)
        claim.decide = f"{notes}: run on a host with an energy counter (RAPL, NVML)" if notes else overrides(h)
        return
    c = min(measured, key=lambda c: c["rho"])
    claim.ratio = c["rho"]
    claim.ci95 = (c["ci95_low"], c["ci95_high"]) if c["ci95_low"] is not None else None
    supported = c["rho"] >= h.threshold and c["p_value"] is not None and c["p_value"] < ALPHA
    claim.p_support = c["p_value"] if c["rho"] >= h.threshold else 1.0
    claim.p_contradict = 0.0 if c["ci95_high"] is not None and c["ci95_high"] < h.threshold else 1.0
    claim.statistic = f"Spearman ρ = {c['rho']:.2f} (n = {c['n']} series, p = {c['p_value']:.3g}, {c['p_method']}) against ≥ {h.threshold:g}"
    claim.n = [(c["n"], c["n"])]
    claim.tested_on = c["hardware"] or c["provider"]
    claim.quantity = f"{c['metric']} against latency per sample, measured"
    if not supported and claim.p_contradict != 0.0:
        claim.decide = "more series (models, batch sizes) or a narrower interval"


def _decide(c: Claim, family: int) -> str:
    t, shift = c.weakest
    n = _n_to_decide(t, shift, family)
    if n is None:
        return ""
    now = f"(now {t.n_a} vs {t.n_b}; {POWER:.0%} power at alpha {ALPHA:g}/{family}, Holm's strictest level)"
    if n <= min(t.n_a, t.n_b):
        return f"a few more runs per series: the weakest pair is near the family-corrected threshold {now}"
    return f"about {n} runs per series would decide the weakest pair {now}"


def claims(view: View, study, declared: Declared) -> list[Claim]:
    """Every declared hypothesis tested on ``view`` as one family (Holm)."""
    out = []
    for h in declared.hypotheses:
        claim = Claim(h)
        if h.kind in ("lower", "higher", "equivalent"):
            _compare(view, h, claim)
        elif h.kind == "best":
            _best(view, h, claim)
        elif h.kind == "ranking_changes":
            _ranking(view, h, claim)
        else:
            _correlation(study, h, claim)
        out.append(claim)
    tested = [c for c in out if c.p_support is not None]
    for c, p in zip(tested, holm([c.p_support for c in tested])):
        c.p_support_holm = p
    for c, p in zip(tested, holm([c.p_contradict for c in tested])):
        c.p_contradict_holm = p
    for c in out:
        if c.p_support is None:
            c.status = "not measured"
        elif c.p_support_holm is not None and c.p_support_holm < ALPHA:
            c.status, c.decide = "supported", ""
        elif c.p_contradict_holm is not None and c.p_contradict_holm < ALPHA:
            c.status, c.decide = "contradicted", ""
        else:
            c.status = "inconclusive"
            if c.weakest is not None:
                c.decide = _decide(c, len(tested))
            c.decide = c.decide or "more runs per series: the data do not yet separate the series (see the detail)"
        if c.quantity:
            c.statistic += f"; on {c.quantity}"
        if c.tested_on:
            c.tested_on = (
                f"tested on {c.tested_on}; the paper measured on {PAPER_HARDWARE}"
                if declared.source == "paper"
                else f"tested on {c.tested_on}"
            )
    return out
