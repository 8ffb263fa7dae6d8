"""Declared hypotheses tested as one family: the report's "Claims" section and ``report/claims.json``.

Each hypothesis (``hypotheses``) gets a status — ``supported``, ``contradicted``, ``inconclusive`` (with what
would decide it) or ``not measured`` (with the overrides that would measure it) — its statistic, interval and
n per side. The declared hypotheses are one family (``study.family``): each claim is decided at alpha / (the
number of claims), so the chance that any claim is falsely supported or falsely contradicted is at most alpha.
A claim over several groups or pairs is supported only if every pair shows it (intersection-union, each at
the claim's level), and contradicted if any pair shows the opposite (Bonferroni over its pairs).

Each pair is judged with the one estimate of ``study.estimate`` (logs, Welch SE, Hsu's df) and the one-sided
repeated bounds of ``study.sequential.PairLooks`` over the looks the adaptive sweep took, so a claim is valid
under the stopping that collected its data (docs/method.md, "What a verdict guarantees").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from scipy import stats as sps

from green_mlflow.study.defaults import ALPHA, SPENDING
from green_mlflow.study.design import Design
from green_mlflow.study.estimate import Estimate
from green_mlflow.study.family import Family
from green_mlflow.study.groups import Group
from green_mlflow.study.hypotheses import Declared, Hypothesis
from green_mlflow.study.questions import pair_values, ref
from green_mlflow.study.selectors import Place, metric_of, overrides, pair_metric, pairs, quantity
from green_mlflow.study.sequential import PairLooks

PAPER_HARDWARE = "an RTX 3070 GPU (Alizadeh & Castor, CAIN 2024)"


@dataclass
class Claim:
    """One hypothesis's outcome (``record`` is its entry in ``claims.json``)."""

    hypothesis: Hypothesis
    status: str = "not measured"
    statistic: str = ""
    supported: bool | None = None  # None: nothing to test (not measured)
    contradicted: bool | None = None
    level: float | None = None  # the claim's share of the family's alpha
    ratio: float | None = None  # b/a of the weakest pair (geometric means), or ρ
    interval: tuple[float, float] | None = None  # its one-sided bounds at ``level`` (a 1 − 2 level interval)
    n: list[tuple[int, int]] = field(default_factory=list)
    detail: list[str] = field(default_factory=list)
    decide: str = ""  # inconclusive: what would decide it; not measured: the overrides that would measure it
    tested_on: str = ""
    replicated_on: str = ""  # the paper's claims tested here: the hardware this replication ran on
    quantity: str = ""  # what was compared, and whether it was measured or estimated
    config_hashes: frozenset[str] = frozenset()  # the configurations the claim read (the sweep repeats them)
    weakest: tuple | None = None  # (Estimate, shift) of a comparison's weakest pair, for "what would decide it"

    @property
    def shown_as(self) -> str:
        """The status as the reader meets it: a paper's claim tested elsewhere is a replication, never the
        paper's own outcome ("replicated on AMD EPYC: contradicted")."""
        return f"replicated on {self.replicated_on}: {self.status}" if self.replicated_on else self.status

    def record(self) -> dict:
        h = self.hypothesis
        return {
            "id": h.id,
            "statement": h.statement,
            "kind": h.kind,
            "status": self.status,
            "statistic": self.statistic,
            "level": self.level,
            "ratio": self.ratio,
            "interval_low": self.interval[0] if self.interval else None,
            "interval_high": self.interval[1] if self.interval else None,
            "n_per_side": [list(p) for p in self.n],
            "detail": self.detail,
            "what_would_decide": self.decide,
            "tested_on": self.tested_on,
            "replicated_on": self.replicated_on or None,
            "shown_as": self.shown_as,
            "quantity": self.quantity,
            "correction": "Bonferroni over the declared hypotheses: each at alpha / their number, under any stopping",
        }


def pair_looks(groups: list[Group], design: Design | None, pa: Place, pb: Place, metric: str) -> PairLooks:
    """A pair's values and the looks the sweep took at it (one look when the data came from a fixed sweep)."""
    a, b, looks, max_n = pair_values(groups, ref(pa.group, pa.series), ref(pb.group, pb.series), metric, design)
    spending = design.spending if design is not None else SPENDING
    return PairLooks(tuple(a), tuple(b), tuple(looks), max_n, spending)


POWER = 0.8  # "what would decide it": runs per series for an 80 % chance at the claim's level


def _n_to_decide(est: Estimate, shift: float, level: float) -> int | None:
    """Runs per series (equal n) for a one-sided two-sample t-test of the weakest pair's observed gap, with its
    pooled SD, to reach the claim's level with 80 % power: the noncentral t at Hsu's df, n − 1 (checked against
    statsmodels' TTestIndPower by the tests). Power grows with n, so a bisection finds the smallest n. None
    without a gap, or beyond 10,000 runs."""
    gap = abs(est.d - shift)
    if gap <= 0 or est.sd <= 0:
        return None

    def enough(n: int) -> bool:
        df = n - 1
        return sps.nct.sf(sps.t.ppf(1 - level, df), df, gap / est.sd * math.sqrt(n / 2)) >= POWER

    low, high = 2, 10_000
    if not enough(high):
        return None
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if enough(mid) else (mid + 1, high)
    return low


class _Judge:
    """The claims' shared state: the groups, the sweep's design and the level each claim is decided at."""

    def __init__(self, groups: list[Group], design: Design | None, level: float) -> None:
        self.groups, self.design, self.level = groups, design, level
        self.read: set[str] = set()  # config hashes of the series the current claim read

    def looks(self, pa: Place, pb: Place, metric: str) -> PairLooks:
        for p in (pa, pb):
            self.read.update(r.config_hash for r in p.series.runs if r.config_hash)
        return pair_looks(self.groups, self.design, pa, pb, metric)


def _shifts(h: Hypothesis) -> tuple[float, float]:
    """(low, high) on b/a − 1: a "lower" claim's bound is −min_effect, a "higher" one's +min_effect; an
    equivalence's the margins."""
    if h.kind == "equivalent":  # symmetric on the log scale around the ratio: r/(1 + m) .. r(1 + m)
        return h.ratio / (1 + h.margin) - 1, h.ratio * (1 + h.margin) - 1
    return (-h.min_effect, -h.min_effect) if h.kind == "lower" else (h.min_effect, h.min_effect)


def _compare(judge: _Judge, h: Hypothesis, claim: Claim) -> None:
    tested = []
    for pa, pb in pairs(judge.groups, h):
        metric = pair_metric(h, pa, pb)
        looks = judge.looks(pa, pb, metric) if metric else None
        est = looks.last() if looks is not None else None
        if est is None:
            claim.detail.append(f"{pb.title()} vs {pa.title()}: no common measured figure or fewer than 2 runs")
            continue
        tested.append((pa, pb, looks, est))
    if not tested:
        claim.decide = overrides(h)
        return
    low, high = _shifts(h)
    level, per_pair = judge.level, judge.level / len(tested)
    supports, contradicts = [], []
    for pa, pb, looks, est in tested:
        if h.kind == "equivalent":  # TOST at each look; contradicted when outside the margin on one side
            supports.append(looks.above(low, level) and looks.below(high, level))
            contradicts.append(looks.below(low, per_pair) or looks.above(high, per_pair))
        elif h.kind == "lower":
            supports.append(looks.below(low, level))
            contradicts.append(looks.above(low, per_pair))
        else:
            supports.append(looks.above(high, level))
            contradicts.append(looks.below(high, per_pair))
        claim.n.append((est.n_a, est.n_b))
        where = (
            pa.group.provider
            if pa.group.provider == pb.group.provider
            else f"{pa.group.provider} vs {pb.group.provider}"
        )
        claim.detail.append(
            f"{pb.series.name} / {pa.series.name} ({pa.group.model}, batch {pa.group.batch_size}, {where}): "
            f"{1 + est.rel(est.d):.3f}, n = {est.n_a} vs {est.n_b}"
        )
    claim.supported, claim.contradicted = all(supports), any(contradicts)
    # the weakest pair: the first not shown (else the one nearest its bound), whose figures the claim shows
    weakest = next((i for i, ok in enumerate(supports) if not ok), 0)
    pa, _, looks, est = tested[weakest]
    lo, hi = looks.bounds(level)[-1][1:]
    claim.ratio, claim.interval = 1 + est.rel(est.d), (1 + est.rel(lo), 1 + est.rel(hi))
    claim.quantity = quantity(h, pa.group)
    what = {"lower": "b < a", "higher": "b > a", "equivalent": "TOST"}
    effect = f" by ≥ {h.min_effect:.0%}" if h.min_effect and h.kind != "equivalent" else ""
    margin = ""
    if h.kind == "equivalent":
        around = (
            f" around ×{h.ratio:.3g} ({h.ratio / (1 + h.margin):.4g} to {h.ratio * (1 + h.margin):.4g})"
            if h.ratio != 1
            else ""
        )
        margin = f", ±{h.margin:.0%}{around}"
    claim.statistic = (
        f"{what[h.kind]}{effect}{margin}: one-sided repeated bounds on log values at {level:.2%} over "
        f"{len(tested)} pair(s) (every pair must show it); the weakest pair is shown"
    )
    shift = low if h.kind != "equivalent" or abs(est.d - est.on_scale(low)) < abs(est.d - est.on_scale(high)) else high
    claim.weakest = (est, est.on_scale(shift))
    claim.tested_on = ", ".join(sorted({p.group.hardware or p.group.provider for p, _, _, _ in tested}))


def _best(judge: _Judge, h: Hypothesis, claim: Claim) -> None:
    found = []
    for group in judge.groups:
        if not h.where.matches(model=group.model, batch_size=group.batch_size, provider=group.provider):
            continue
        metric = metric_of(h, group)
        mine = [s for s in group.series if s.finished and h.series.matches(**Place(group, s).facts)]
        others = [s for s in group.series if s.finished and s not in mine]
        others = [s for s in others if not h.b.values or h.b.matches(**Place(group, s).facts)]
        if not mine or not others or metric is None:
            continue
        for s in mine:
            looks = [judge.looks(Place(group, o), Place(group, s), metric) for o in others]
            estimates = [lk.last() for lk in looks]
            if any(e is None for e in estimates):
                continue
            found.append((group, s, looks, estimates))
    if not found:
        claim.decide = overrides(h)
        return
    pairs_count = sum(len(looks) for _, _, looks, _ in found)
    level, per_pair = judge.level, judge.level / pairs_count
    claim.supported = all(lk.below(0.0, level) for _, _, looks, _ in found for lk in looks)  # below every one
    claim.contradicted = any(lk.above(0.0, per_pair) for _, _, looks, _ in found for lk in looks)
    for group, s, _, estimates in found:
        claim.n.append((min(e.n_a for e in estimates), estimates[0].n_b))
        claim.detail.append(f"{s.name} in {group.title}: ranked {group.series.index(s) + 1} of {len(group.series)}")
        claim.tested_on = group.hardware or group.provider
        claim.quantity = quantity(h, group)
    claim.statistic = (
        f"one-sided repeated bounds on log values at {level:.2%} against every competitor in {len(found)} group(s)"
    )


def _ranking(judge: _Judge, h: Hypothesis, claim: Claim) -> None:
    groups = [g for g in judge.groups if h.where.matches(model=g.model, batch_size=g.batch_size, provider=g.provider)]
    orders: dict[tuple[str, str], list[tuple[Group, PairLooks, bool]]] = {}
    for g in groups:
        metric = metric_of(h, g)
        series = [s for s in g.series if s.finished and h.series.matches(**Place(g, s).facts)]
        for i, x in enumerate(series):
            for y in series[i + 1 :]:
                looks = judge.looks(Place(g, x), Place(g, y), metric) if metric else None
                if looks is not None and looks.last() is not None:
                    key = tuple(sorted((x.name, y.name)))
                    orders.setdefault(key, []).append((g, looks, key != (x.name, y.name)))
    shared = {k: v for k, v in orders.items() if len(v) >= 2}
    if not shared:
        claim.decide = overrides(h) + " (two groups or more with the same runtimes)"
        return
    claim.quantity = quantity(h, next(iter(shared.values()))[0][0])
    tests = sum(len(v) for v in shared.values())
    per_test = judge.level / (2 * tests)  # a reversal is shown by two directional results among all of them

    def first_lower(looks: PairLooks, flip: bool, level: float) -> bool:  # the key's first name is lower
        return looks.above(0.0, level) if flip else looks.below(0.0, level)

    def first_higher(looks: PairLooks, flip: bool, level: float) -> bool:
        return looks.below(0.0, level) if flip else looks.above(0.0, level)

    claim.supported = any(
        any(first_lower(lk, f, per_test) for _, lk, f in v) and any(first_higher(lk, f, per_test) for _, lk, f in v)
        for v in shared.values()
    )
    claim.contradicted = all(
        all(first_lower(lk, f, judge.level) for _, lk, f in v)
        or all(first_higher(lk, f, judge.level) for _, lk, f in v)
        for v in shared.values()
    )
    claim.n = [(len(v), len(shared)) for v in list(shared.values())[:1]]
    claim.statistic = (
        f"order reversal of a pair between groups (one-sided repeated bounds on log values, each direction at "
        f"{per_test:.3%}, Bonferroni over {tests} within-group comparisons); contradicted when every pair keeps "
        f"the same order in every group at {judge.level:.2%}"
    )
    claim.tested_on = ", ".join(sorted({g.hardware or g.provider for g in groups}))


def _correlation(judge: _Judge, study, h: Hypothesis, claim: Claim) -> None:
    rows = [c for c in study.correlations if h.where.matches(provider=c["provider"])]
    measured = [c for c in rows if c["rho"] is not None]
    if not measured:  # no series, or energy only estimated from time: nothing measured to correlate
        notes = "; ".join(c["note"] for c in rows)
        claim.decide = f"{notes}: run on a host with an energy counter (RAPL, NVML)" if notes else overrides(h)
        return
    c = min(measured, key=lambda c: c["rho"])
    claim.ratio = c["rho"]
    claim.interval = (c["ci95_low"], c["ci95_high"]) if c["ci95_low"] is not None else None
    claim.supported = c["rho"] >= h.threshold and c["p_value"] is not None and c["p_value"] < judge.level
    claim.contradicted = c["ci95_high"] is not None and c["ci95_high"] < h.threshold
    claim.statistic = f"Spearman ρ = {c['rho']:.2f} (n = {c['n']} series, p = {c['p_value']:.3g}, {c['p_method']}) against ≥ {h.threshold:g} at {judge.level:.2%}"
    claim.n = [(c["n"], c["n"])]
    claim.tested_on = c["hardware"] or c["provider"]
    claim.quantity = f"{c['metric']} against latency per sample, measured"
    if not claim.supported and not claim.contradicted:
        claim.decide = "more series (models, batch sizes) or a narrower interval"


def _decide(c: Claim, level: float) -> str:
    est, shift = c.weakest
    n = _n_to_decide(est, shift, level)
    if n is None:
        return ""
    now = f"(now {est.n_a} vs {est.n_b}; {POWER:.0%} power at {level:.2%}, the claim's share of the family's alpha)"
    if n <= min(est.n_a, est.n_b):
        return f"a few more runs per series: the weakest pair is near the claim's threshold {now}"
    return f"about {n} runs per series would decide the weakest pair {now}"


def family(declared: Declared, design: Design | None = None) -> Family:
    """The declared hypotheses as one family, at the sweep's alpha (the default without a design)."""
    alpha = design.alpha if design is not None else ALPHA
    return Family("the declared hypotheses", len(declared.hypotheses), alpha)


def claims(groups: list[Group], study, declared: Declared, design: Design | None = None) -> list[Claim]:
    """Every declared hypothesis decided at its share of alpha (the family's guarantee) over the looks of the
    sweep that collected the data."""
    judge = _Judge(groups, design, family(declared, design).per_comparison)
    out = []
    for h in declared.hypotheses:
        claim = Claim(h)
        judge.read = set()
        if h.kind in ("lower", "higher", "equivalent"):
            _compare(judge, h, claim)
        elif h.kind == "best":
            _best(judge, h, claim)
        elif h.kind == "ranking_changes":
            _ranking(judge, h, claim)
        else:
            _correlation(judge, study, h, claim)
        claim.config_hashes = frozenset(judge.read)
        out.append(claim)
    for c in out:
        c.level = judge.level
        if c.supported is None:
            c.status = "not measured"
        elif c.supported and not c.contradicted:
            c.status, c.decide = "supported", ""
        elif c.contradicted and not c.supported:
            c.status, c.decide = "contradicted", ""
        else:
            c.status = "inconclusive"
            if c.weakest is not None:
                c.decide = _decide(c, judge.level)
            c.decide = c.decide or "more runs per series: the data do not yet separate the series (see the detail)"
        if c.quantity:
            c.statistic += f"; on {c.quantity}"
        if c.tested_on:
            if declared.source == "paper" and c.supported is not None:
                c.replicated_on = c.tested_on
            c.tested_on = (
                f"tested on {c.tested_on}; the paper measured on {PAPER_HARDWARE}"
                if declared.source == "paper"
                else f"tested on {c.tested_on}"
            )
    return out
