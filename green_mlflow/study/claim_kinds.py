"""Each kind of declared hypothesis tested on the groups: comparisons (lower, higher, equivalent; "usually"
with a share), best, ranking changes and correlation. Each fills a ``Claim`` with ``supported`` /
``contradicted`` at the claim's level, its figures, the pairs it read and its coverage of the claim's scope;
``claims.claims`` turns those into the status the reader meets.

Each pair is judged with the one estimate of ``study.estimate`` (logs, Welch SE, Hsu's df) and the one-sided
repeated bounds of ``study.sequential.PairLooks`` over the looks the adaptive sweep took, so a claim is valid
under the stopping that collected its data (docs/method.md, "What a verdict guarantees").
"""

from __future__ import annotations

import math

from green_mlflow.study.correlation import fisher_bounds
from green_mlflow.study.coverage import comparison_coverage, group_coverage
from green_mlflow.study.defaults import SPENDING
from green_mlflow.study.design import Design
from green_mlflow.study.groups import Group
from green_mlflow.study.hypotheses import Hypothesis
from green_mlflow.study.questions import pair_values, ref
from green_mlflow.study.selectors import Place, metric_of, overrides, pair_metric, pairs, quantity
from green_mlflow.study.sequential import PairLooks
from green_mlflow.study.tables import by_place, correlation_row

UNIVERSAL = frozenset({"contradicted"})  # "always", "every": one pair the other way contradicts it on any part
EXISTENTIAL = frozenset({"supported"})  # "changes somewhere": one reversal supports it on any part
COUNTED = frozenset({"supported", "contradicted"})  # "usually": the missing pairs are counted either way


def pair_looks(groups: list[Group], design: Design | None, pa: Place, pb: Place, metric: str) -> PairLooks:
    """A pair's values and the looks the sweep took at it (one look when the data came from a fixed sweep)."""
    a, b, looks, max_n = pair_values(groups, ref(pa.group, pa.series), ref(pb.group, pb.series), metric, design)
    spending = design.spending if design is not None else SPENDING
    return PairLooks(tuple(a), tuple(b), tuple(looks), max_n, spending)


class Judge:
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


def _where(pa: Place, pb: Place) -> str:
    p = pa.group.provider if pa.group.provider == pb.group.provider else f"{pa.group.provider} vs {pb.group.provider}"
    return f"{pa.group.model}, batch {pa.group.batch_size}, {p}"


def compare(judge: Judge, h: Hypothesis, claim) -> None:
    """lower / higher / equivalent: every pair must show it (intersection-union, each at the claim's level) and
    one pair the other way contradicts it (Bonferroni over the pairs); with ``share``, more than that share of
    the scope's pairs must show it, each pair at level / pairs (simultaneous), the missing pairs counted as
    either."""
    tested = []
    for pa, pb in pairs(judge.groups, h):
        metric = pair_metric(h, pa, pb)
        looks = judge.looks(pa, pb, metric) if metric else None
        est = looks.last() if looks is not None else None
        if est is None:
            claim.detail.append(
                f"{pb.series.name} vs {pa.series.name} ({_where(pa, pb)}): no common figure, or < 2 runs"
            )
            continue
        tested.append((pa, pb, looks, est))
    claim.coverage = comparison_coverage(judge.groups, h, [(pa, pb) for pa, pb, _, _ in tested])
    if not tested:
        claim.decide = overrides(h)
        return
    low, high = _shifts(h)
    level, per_pair = judge.level, judge.level / len(tested)
    shown, against = [], []  # per pair: the claim's direction shown / the opposite shown
    for pa, pb, looks, est in tested:
        at = per_pair if h.share is not None else level
        if h.kind == "equivalent":  # TOST at each look; contradicted when outside the margin on one side
            shown.append(looks.above(low, at) and looks.below(high, at))
            against.append(looks.below(low, per_pair) or looks.above(high, per_pair))
        elif h.kind == "lower":
            shown.append(looks.below(low, at))
            against.append(looks.above(low, per_pair))
        else:
            shown.append(looks.above(high, at))
            against.append(looks.below(high, per_pair))
        claim.n.append((est.n_a, est.n_b))
        verdict = "shown" if shown[-1] else "the other way" if against[-1] else "open"
        claim.detail.append(
            f"{pb.series.name} / {pa.series.name} ({_where(pa, pb)}): {1 + est.rel(est.d):.3f}, "
            f"n = {est.n_a} vs {est.n_b}: {verdict}"
        )
    if h.share is None:
        claim.valid_on_part = UNIVERSAL
        claim.supported, claim.contradicted = all(shown), any(against)
    else:
        claim.valid_on_part = COUNTED
        total = len(tested) + len(claim.coverage.missing)
        need = math.floor(h.share * total) + 1  # more than the share
        claim.supported = sum(shown) >= need
        claim.contradicted = total - sum(against) < need  # even if every open or missing pair showed it
        claim.counted = f"{sum(shown)} of {total} pairs shown (more than {h.share:.0%} needs {need})"
        # more runs of the measured pairs can decide it only if they are enough to reach the share, or if the
        # missing ones could not reach it on their own
        claim.reachable = len(tested) >= need or len(claim.coverage.missing) < need

    def room(est) -> float:  # how far a pair's estimate is inside the claim's side of its bound
        if h.kind == "lower":
            return est.on_scale(low) - est.d
        if h.kind == "higher":
            return est.d - est.on_scale(high)
        return min(est.d - est.on_scale(low), est.on_scale(high) - est.d)

    # the weakest pair: the first not shown, else the one nearest its bound; the claim shows its figures
    weakest = next((i for i, ok in enumerate(shown) if not ok), None)
    if weakest is None:
        weakest = min(range(len(tested)), key=lambda i: room(tested[i][3]))
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
    if h.share is None:
        rule = f"at {level:.2%} over {len(tested)} pair(s) (every pair must show it); the weakest pair is shown"
    else:
        rule = f"each pair at {per_pair:.3%} (simultaneous over {len(tested)}); {claim.counted}"
    claim.statistic = f"{what[h.kind]}{effect}{margin}: one-sided repeated bounds on log values {rule}"
    shift = low if h.kind != "equivalent" or abs(est.d - est.on_scale(low)) < abs(est.d - est.on_scale(high)) else high
    claim.weakest = (est, est.on_scale(shift))
    claim.n_counts = f"{est.n_a} vs {est.n_b} runs per side (weakest of {len(tested)} pairs)"
    claim.tested_on = ", ".join(sorted({p.group.hardware or p.group.provider for p, _, _, _ in tested}))


def best(judge: Judge, h: Hypothesis, claim) -> None:
    """``series`` below every competitor in every group of the scope."""
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
    claim.coverage = group_coverage(judge.groups, h, [g for g, _, _, _ in found])
    claim.valid_on_part = UNIVERSAL
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
    claim.n_counts = f"{min(a for a, _ in claim.n)}+ runs per series, {len(found)} group(s)"
    claim.statistic = (
        f"one-sided repeated bounds on log values at {level:.2%} against every competitor in {len(found)} group(s)"
    )


def ranking(judge: Judge, h: Hypothesis, claim) -> None:
    """The order of two of ``series`` reverses between groups: shown by two directional results, each at
    level / (2 × the within-group comparisons) (Bonferroni across groups and pairs); contradicted when every
    pair keeps its order in every group, each at the claim's level (intersection-union), on the whole scope."""
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
    claim.coverage = group_coverage(
        judge.groups, h, list({id(g): g for v in shared.values() for g, _, _ in v}.values())
    )
    claim.valid_on_part = EXISTENTIAL
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

    reversed_ = [
        k for k, v in shared.items()
        if any(first_lower(lk, f, per_test) for _, lk, f in v) and any(first_higher(lk, f, per_test) for _, lk, f in v)
    ]  # fmt: skip
    claim.supported = bool(reversed_)
    claim.contradicted = all(
        all(first_lower(lk, f, judge.level) for _, lk, f in v)
        or all(first_higher(lk, f, judge.level) for _, lk, f in v)
        for v in shared.values()
    )
    for key, v in shared.items():
        state = "reverses" if key in reversed_ else "order kept or open"
        claim.detail.append(f"{key[0]} vs {key[1]} in {len(v)} groups: {state}")
    groups_read = {id(g) for v in shared.values() for g, _, _ in v}
    plural = "s" if len(shared) != 1 else ""
    claim.n_counts = f"{len(groups_read)} groups, {len(shared)} runtime pair{plural}, {tests} within-group comparisons"
    claim.statistic = (
        f"order reversal of a pair between groups (one-sided repeated bounds on log values, each direction at "
        f"{per_test:.3%}, Bonferroni over {tests} within-group comparisons); contradicted when every pair keeps "
        f"the same order in every group at {judge.level:.2%}"
    )
    claim.tested_on = ", ".join(sorted({g.hardware or g.provider for g in groups}))


def correlation(judge: Judge, h: Hypothesis, claim) -> None:
    """Spearman's ρ of energy per sample against latency per sample over the series of the claim's scope, on
    each provider and hardware: supported when the one-sided lower bound at the claim's level reaches the
    threshold on each, contradicted when the upper bound (at level / places) stays below it on one."""
    scoped = [g for g in judge.groups if h.where.matches(model=g.model, batch_size=g.batch_size, provider=g.provider)]
    rows = [row for (p, hw), placed in by_place(scoped) if (row := correlation_row(p, hw, placed))]
    measured = [r for r in rows if r["rho"] is not None]
    if not measured:  # no series, or energy only estimated from time: nothing measured to correlate
        notes = "; ".join(r["note"] for r in rows if r["note"])
        claim.decide = f"{notes}: run on a host with an energy counter (RAPL, NVML)" if notes else overrides(h)
        return
    level, per_place = judge.level, judge.level / len(measured)
    bounds = [fisher_bounds(r["rho"], r["n"], level) for r in measured]
    uppers = [fisher_bounds(r["rho"], r["n"], per_place) for r in measured]
    claim.supported = all(b is not None and b[0] >= h.threshold for b in bounds)
    claim.contradicted = any(u is not None and u[1] < h.threshold for u in uppers)
    weakest = min(range(len(measured)), key=lambda i: measured[i]["rho"])
    c = measured[weakest]
    claim.ratio, claim.interval = c["rho"], bounds[weakest]
    for r, b in zip(measured, bounds):
        bound = f"lower bound {b[0]:.3f}" if b else "no bound (fewer than 4 series)"
        claim.detail.append(f"{r['hardware'] or r['provider']}: ρ = {r['rho']:.3f} over {r['n']} series, {bound}")
    claim.statistic = (
        f"Spearman ρ = {c['rho']:.3f} over {c['n']} series: its one-sided lower bound at {level:.2%} (Fisher z, "
        f"Bonett-Wright variance) against ρ ≥ {h.threshold:g}"
    )
    claim.n_counts = f"{c['n']} series (each a runtime, mode, model and batch size)"
    claim.tested_on = c["hardware"] or c["provider"]
    claim.quantity = f"{c['metric']} against latency per sample, measured"
    if not claim.supported and not claim.contradicted:
        claim.decide = "more series (models, batch sizes, runtimes) or a narrower interval"
