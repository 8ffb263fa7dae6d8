"""Anytime-safe comparison of two series that grow while they are compared: repeated confidence intervals.

An adaptive sweep repeats a configuration, looks at the data after every round and stops repeating a series
once its questions are answered. Testing at every look with a fixed-sample test finds differences that are
not there far more often than its nominal level (Armitage, McPherson & Rowe 1969). Repeated confidence
intervals (Jennison & Turnbull 1989) keep the error rates whatever the looks and whenever the sweep stops:
look k uses a boundary ``c_k`` from Lan & DeMets' (1983) alpha spending (``boundaries``: Pocock or
O'Brien-Fleming type), found by recursive numerical integration, turned into its nominal level and replaced
by the Student-t quantile of that level at the estimate's degrees of freedom (Hsu's min(n_a, n_b) − 1,
``estimate``): with 3 to 10 repetitions the normal boundary would be too narrow.

A report that is never looked at before the end is the same procedure with one look at information
fraction 1: the fixed-sample Welch interval at Hsu's df. So one procedure decides every verdict.

Verdicts, b against a, at the comparison's level ``alpha`` (``family.Family.per_comparison``): ``lower`` /
``higher`` when the 1 − alpha repeated interval excludes 0; ``equivalent`` when the 1 − 2 alpha repeated
interval lies inside the margin (two one-sided tests at alpha each); ``open`` otherwise. At most one of "no
difference" and "a difference as large as the margin" is true, so a comparison's chance of a false verdict
is at most alpha. Degenerate input never raises and no field is ever NaN or infinite: what cannot be
computed is ``None`` and ``reason`` says why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from green_mlflow.study.boundaries import boundaries, t_quantile
from green_mlflow.study.defaults import MARGIN_REL, SPENDING
from green_mlflow.study.estimate import Estimate, estimate, finite, point, use_log

SPENDING_NAMES = {"obf": "O'Brien-Fleming", "pocock": "Pocock"}


def method_text(spending: str = SPENDING, log: bool = True, looks: int = 2) -> str:
    """The one line naming the method a verdict came from (findings.json, the report, the sweep's design)."""
    scale = (
        "Welch t on log values, Hsu's df"
        if log
        else "Welch t on raw values relative to the mean of a (delta method; a value is <= 0, so no log scale), Hsu's df"
    )
    if looks <= 1:
        return "fixed-sample interval (one look), " + scale
    return (
        f"repeated confidence intervals, Lan-DeMets {SPENDING_NAMES[spending]} spending (Jennison & Turnbull 1989), "
        + scale
    )


@dataclass(frozen=True)
class SequentialResult:
    """The comparison of b against a, at the look that decided it, or at the last look while it is open.

    Relative values are b/a − 1 (positive: b larger): on the log scale the ratio of geometric means and its
    intervals back-transformed with exp(x) − 1, on the raw scale (mean_b − mean_a) / |mean_a|.
    ``ci_*`` is the 1 − alpha repeated interval (difference), ``eq_*`` the 1 − 2 alpha one (equivalence).
    """

    verdict: str  # "lower" | "higher" (b against a; difference shown) | "equivalent" | "open"
    looks: int  # looks taken (len of the look history used)
    n_a: int
    n_b: int  # at the deciding look (or the last look when open)
    decided_at_look: int | None  # 1-based
    delta_rel: float | None
    ci_low_rel: float | None
    ci_high_rel: float | None
    eq_low_rel: float | None
    eq_high_rel: float | None
    margin_rel: float
    alpha: float  # the level this comparison was decided at (its share of the family's)
    reason: str
    n_needed: int | None  # open only: estimated repetitions per side that would decide it
    method: str

    @property
    def ci_percent(self) -> str:
        """The difference interval's confidence, e.g. "99.2 %"."""
        return _level(1 - self.alpha)


def _level(x: float) -> str:
    return f"{x * 100:.3g} %"


def _fraction(n_a: int, n_b: int, max_n: float) -> float:
    """Information fraction h(n_a, n_b) / h(N, N), h = 1 / (1/n_a + 1/n_b): the Welch variance's share."""
    if n_a < 1 or n_b < 1:
        return 0.0
    return min(1.0, (n_a * n_b / (n_a + n_b)) / (max_n / 2))


def _fractions(looks: Sequence[tuple[int, int]], max_n: int | None) -> tuple[float, ...]:
    """The information fraction of each look; ``max_n`` None: the last look's information is all there will be
    (a fixed sweep, or a report of one)."""
    if max_n is None:
        n_a, n_b = looks[-1]
        max_n = 2 * n_a * n_b / (n_a + n_b) if n_a and n_b else 2
    return tuple(_fraction(n_a, n_b, max_n) for n_a, n_b in looks)


def _pct(x: float) -> str:
    if abs(x) >= 100:  # only when the interval is still unbounded in practice
        return "+∞" if x > 0 else "−∞"
    return f"{x * 100:+.1f} %".replace("-", "−")


def _interval(est: Estimate, lo: float, hi: float) -> str:
    return f"({_pct(est.rel(lo))}, {_pct(est.rel(hi))})"


def _per_side(ratio: float) -> float:
    """n = 2 ratio², ratio = boundary × SD / gap; capped before squaring, which would overflow a float."""
    return 2 * min(ratio, 1e4) ** 2


def _n_needed(
    est: Estimate, fractions: tuple[float, ...], max_n: int, alpha: float, margin: tuple[float, float], spending: str
) -> int | None:
    """Repetitions per side at which the current estimate would just reach a boundary at the final look."""
    if not est.sd > 0:
        return None
    final = fractions if fractions[-1] >= 1 else (*fractions, 1.0)
    df = max_n - 1  # Hsu's df at max_n per side
    c_diff = t_quantile(boundaries(final, alpha, spending)[-1], df)
    c_eq = t_quantile(boundaries(final, 2 * alpha, spending)[-1], df)
    routes = []
    if est.d != 0:  # difference: c × sd × sqrt(2/n) <= |d|
        routes.append(_per_side(c_diff * est.sd / abs(est.d)))
    room = margin[1] - est.d if est.d >= 0 else est.d - margin[0]  # to the nearer margin
    if room > 0:  # equivalence: c × sd × sqrt(2/n) <= distance to the margin on d's side
        routes.append(_per_side(c_eq * est.sd / room))
    best = min((n for n in routes if math.isfinite(n)), default=None)
    return None if best is None else int(min(math.ceil(best), 1_000_000))


def _open(
    looks: int, n_a: int, n_b: int, delta: float | None, margin_rel: float, alpha: float, reason: str, method: str
):
    return SequentialResult(
        "open", looks, n_a, n_b, None, delta, None, None, None, None, margin_rel, alpha, reason, None, method
    )


def sequential_compare(
    a: Sequence[float],
    b: Sequence[float],
    looks: Sequence[tuple[int, int]],
    max_n: int | None,
    margin_rel: float = MARGIN_REL,
    alpha: float = 0.05,
    spending: str = SPENDING,
) -> SequentialResult:
    """a, b: values per repetition in repetition order. looks: (n_a, n_b) at each look taken so far, increasing;
    values at look k are a[:n_a], b[:n_b]. The verdict is that of the FIRST look at which one was reached
    (the sweep stops repeating for a decided question), else open at the last look.

    The equivalence margin is symmetric on the log scale: b/a within 1/(1 + m) .. 1 + m.
    ``max_n`` (repetitions per side at most) sets the information fractions; None says no look will follow the
    last one (a report of a fixed sweep): the last look is then information fraction 1; ``margin_rel`` is the
    equivalence margin as a fraction (0.05: b/a within 0.95..1.05); ``alpha`` this comparison's two-sided level
    (its family's share: ``family.Family.per_comparison``); ``spending`` the alpha-spending function, ``obf``
    or ``pocock`` (``boundaries.SPENDING``). None, NaN and inf values are dropped. The log scale is used when
    every value the looks use is > 0, else the raw scale (``method`` says which). Raises ValueError only for
    parameters out of range, never for the values.
    """
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5) so that the 1 - 2 alpha interval exists, got {alpha}")
    if not 0 < margin_rel < 1:
        raise ValueError(f"the equivalence margin is a fraction in (0, 1), got {margin_rel}")
    if max_n is not None and max_n < 2:
        raise ValueError(f"max_n is the most repetitions per side, at least 2, got {max_n}")
    looks = [(max(0, min(int(n_a), len(a))), max(0, min(int(n_b), len(b)))) for n_a, n_b in looks]
    m = f"{margin_rel * 100:g} %"
    if not looks:
        return _open(0, 0, 0, None, margin_rel, alpha, "no look taken yet", method_text(spending))
    log = use_log(list(a[: max(n for n, _ in looks)]), list(b[: max(n for _, n in looks)]))
    fractions = _fractions(looks, max_n)
    method = method_text(spending, log, 2 if len(looks) > 1 or fractions[-1] < 1 else 1)
    # symmetric on the log scale, b/a within 1/(1 + m) .. 1 + m: the verdict does not depend on which is "a"
    margin = (-math.log1p(margin_rel), math.log1p(margin_rel)) if log else (-margin_rel, margin_rel)
    diff_pct, eq_pct = _level(1 - alpha), _level(1 - 2 * alpha)

    for k, (n_a, n_b) in enumerate(looks, start=1):
        x, y = finite(a[:n_a]), finite(b[:n_b])
        est = estimate(x, y, log)
        final = k == len(looks)
        if isinstance(est, str):
            if final:
                return _open(len(looks), int(x.size), int(y.size), point(x, y, log), margin_rel, alpha, est, method)
            continue
        if est.se == 0:  # both constant: the ratio is exact, the intervals are the point
            c_diff = c_eq = 0.0
        else:
            c_diff = t_quantile(boundaries(fractions[:k], alpha, spending)[-1], est.df)
            c_eq = t_quantile(boundaries(fractions[:k], 2 * alpha, spending)[-1], est.df)
        lo, hi = est.interval(c_diff)
        eq_lo, eq_hi = est.interval(c_eq)
        inside = margin[0] < eq_lo and eq_hi < margin[1]
        verdict = "higher" if lo > 0 else "lower" if hi < 0 else "equivalent" if inside else "open"
        if verdict == "open" and not final:
            continue
        where = f"at look {k} (n = {x.size} vs {y.size})"
        if est.se == 0:
            reason = f"{where} both samples are constant: the ratio is exact ({_pct(est.rel(est.d))})"
            if inside:
                reason += f" and inside the ±{m} margin"
        elif verdict in ("lower", "higher"):
            reason = f"{where} the {diff_pct} repeated interval {_interval(est, lo, hi)} excludes 0"
        elif verdict == "equivalent":
            reason = (
                f"{where} the {eq_pct} repeated interval {_interval(est, eq_lo, eq_hi)} lies inside the ±{m} margin"
            )
        elif margin[0] < est.d < margin[1]:
            reason = (
                f"the difference ({_pct(est.rel(est.d))}) is inside the ±{m} margin and the {eq_pct} interval "
                f"{_interval(est, eq_lo, eq_hi)} is still wider than it"
            )
        else:
            reason = (
                f"the difference ({_pct(est.rel(est.d))}) is outside the ±{m} margin but the {diff_pct} interval "
                f"{_interval(est, lo, hi)} still includes 0"
            )
        needed = None
        if verdict == "open":
            needed = _n_needed(est, fractions[:k], max(max_n or 0, n_a, n_b, 2), alpha, margin, spending)
            # Not decided now, so not at this n: the estimate used the final look's boundary, the lowest of
            # all, and the looks before it have higher ones.
            needed = None if needed is None else max(needed, min(n_a, n_b) + 1)
            if max_n is not None and min(n_a, n_b) >= max_n:
                reason += f"; n = max_n = {max_n} per side: inconclusive"
            elif needed is not None:
                beyond = f", more than max_n = {max_n}" if max_n is not None and needed > max_n else ""
                reason += f" (about {needed} per side would decide it{beyond})"
        return SequentialResult(
            verdict=verdict,
            looks=len(looks),
            n_a=int(x.size),
            n_b=int(y.size),
            decided_at_look=None if verdict == "open" else k,
            delta_rel=est.rel(est.d),
            ci_low_rel=est.rel(lo),
            ci_high_rel=est.rel(hi),
            eq_low_rel=est.rel(eq_lo),
            eq_high_rel=est.rel(eq_hi),
            margin_rel=margin_rel,
            alpha=alpha,
            reason=reason,
            n_needed=needed,
            method=method,
        )
    raise AssertionError("unreachable: the last look always returns")


@dataclass(frozen=True)
class PairLooks:
    """One pair's data at each look, for one-sided decisions at any level (the declared claims): "b is below
    ``shift`` at some look" holds when the one-sided 1 − level repeated bound crosses it, which under the null
    happens with probability at most ``level`` over all looks together."""

    a: tuple[float, ...]
    b: tuple[float, ...]
    looks: tuple[tuple[int, int], ...]
    max_n: int | None
    spending: str = SPENDING

    @property
    def log(self) -> bool:
        return use_log(self.a, self.b)

    def bounds(self, level: float) -> list[tuple[Estimate, float, float]]:
        """(estimate, lower, upper) at each look with an estimate: one-sided 1 − level bounds on the working
        scale (the two-sided 1 − 2 level repeated interval)."""
        out, fractions, log = [], _fractions(self.looks, self.max_n), self.log
        for k, (n_a, n_b) in enumerate(self.looks, start=1):
            est = estimate(self.a[:n_a], self.b[:n_b], log)
            if isinstance(est, str):
                continue
            c = 0.0 if est.se == 0 else t_quantile(boundaries(fractions[:k], 2 * level, self.spending)[-1], est.df)
            out.append((est, *est.interval(c)))
        return out

    def last(self) -> Estimate | None:
        est = estimate(self.a, self.b, self.log) if self.looks else "no look"
        return None if isinstance(est, str) else est

    def below(self, rel: float, level: float) -> bool:
        """b/a − 1 < ``rel`` shown at some look, at one-sided ``level``."""
        return any(hi < est.on_scale(rel) for est, _, hi in self.bounds(level))

    def above(self, rel: float, level: float) -> bool:
        """b/a − 1 > ``rel`` shown at some look, at one-sided ``level``."""
        return any(lo > est.on_scale(rel) for est, lo, _ in self.bounds(level))


def next_repetitions(result: SequentialResult, n: int, max_n: int, cap: int) -> int:
    """How many more repetitions per side the next round should run for an open question: from n_needed,
    at least 1, at most `cap` per round and never beyond max_n; 0 when decided or at max_n.

    ``n`` is the repetitions per side so far. Where nothing can be estimated (``n_needed`` None: fewer than
    2 values, no spread) the round runs ``cap``, the most it may. ``cap`` below 1 counts as 1.
    """
    if result.verdict != "open" or n >= max_n:
        return 0
    cap = max(1, int(cap))
    want = cap if result.n_needed is None else result.n_needed - n
    return max(1, min(want, cap, max_n - n))
