"""Anytime-safe comparison of two series that grow while they are compared: repeated confidence intervals.

An adaptive sweep repeats a configuration, looks at the data after every round and stops repeating a series
once its questions are answered. Testing at every look with a fixed-sample test finds differences that are
not there far more often than its nominal 5 % (Armitage, McPherson & Rowe 1969). Repeated confidence
intervals (Jennison & Turnbull 1989) keep the error rates whatever the looks and whenever the sweep stops:
look k uses a boundary ``c_k`` from Lan & DeMets' (1983) alpha spending of O'Brien-Fleming type,
``2 - 2 Phi(z_{1-alpha/4} / sqrt(t))`` on each side at information fraction ``t`` (``boundaries.obf_spending``), found by
recursive numerical integration (Armitage, McPherson & Rowe 1969; Jennison & Turnbull 2000, ch. 19).

Each look estimates the difference on the log scale (difference of mean logs: the log of the ratio of the
geometric means, where log-normal noise becomes normal) with Welch's standard error and Welch-Satterthwaite
degrees of freedom; ``c_k`` is turned into its nominal level and replaced by the Student-t quantile of that
level, because with 3 to 10 repetitions the normal boundary would be too narrow. Where a value is <= 0 the
raw scale is used instead (difference of the means relative to the mean of ``a``, delta method).

Verdicts, b against a: ``lower``/``higher`` when the 1 - alpha repeated interval excludes 0; ``equivalent``
when the 1 - 2 alpha repeated interval lies inside the margin (two one-sided tests at alpha each); ``open``
otherwise. Sign convention as in ``stats.py``: positive means b is larger. Degenerate input never raises
and no field is ever NaN or infinite: what cannot be computed is ``None`` and ``reason`` says why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from green_mlflow.report.boundaries import boundaries, t_quantile

SPENDING_NAMES = {"obf": "O'Brien-Fleming", "pocock": "Pocock"}


def method_text(spending: str = "obf", log: bool = True) -> str:
    """The one line naming the method a verdict came from (findings.json, the report, the sweep's design)."""
    scale = (
        "Welch t on log values"
        if log
        else "Welch t on raw values relative to the mean of a (delta method; a value is <= 0, so no log scale)"
    )
    return (
        f"repeated confidence intervals, Lan-DeMets {SPENDING_NAMES[spending]} spending (Jennison & Turnbull 1989), "
        + scale
    )


METHOD = method_text("obf")
METHOD_RAW = method_text("obf", log=False)

# Log-scale bounds are clipped here before exp: an interval of a look with 2 values and 1 df can be ~1e40 wide.
_LOG_CAP = 700.0


@dataclass(frozen=True)
class SequentialResult:
    """The comparison of b against a, at the look that decided it, or at the last look while it is open.

    Relative values are b/a - 1 (positive: b larger): on the log scale the ratio of geometric means and its
    intervals back-transformed with exp(x) - 1, on the raw scale (mean_b - mean_a) / |mean_a|.
    """

    verdict: str  # "lower" | "higher" (b against a; difference shown) | "equivalent" | "open"
    looks: int  # looks taken (len of the look history used)
    n_a: int
    n_b: int  # at the deciding look (or the last look when open)
    decided_at_look: int | None  # 1-based
    delta_rel: float | None
    ci95_low_rel: float | None  # repeated 1 - alpha interval of b/a - 1
    ci95_high_rel: float | None
    ci90_low_rel: float | None  # repeated 1 - 2 alpha interval (equivalence)
    ci90_high_rel: float | None
    margin_rel: float
    reason: str
    n_needed: int | None  # open only: estimated repetitions per side that would decide it
    method: str


@dataclass(frozen=True)
class _Estimate:
    """One look on the working scale (log, or raw relative to |mean_a|): difference, SE, df, pooled SD."""

    d: float
    se: float  # 0 when both samples are constant: the difference is exact
    df: float
    sd: float


def _finite(values: Sequence[float | None], n: int) -> np.ndarray:
    # None, NaN and inf are dropped: a repetition cannot have taken infinite time or energy.
    x = np.array(list(values[:n]), dtype=float)
    return x[np.isfinite(x)]


def _estimate(x: np.ndarray, y: np.ndarray, log: bool) -> _Estimate | str:
    """The look's estimate, or why there is none (the reason for an open verdict)."""
    if x.size < 2 or y.size < 2:
        if x.size == y.size:
            return f"n = {x.size} per side: no variance yet"
        return f"n = {x.size} vs {y.size}: a variance needs at least 2 values per side"
    flat = np.ptp(x) == 0 and np.ptp(y) == 0  # ptp: a constant's computed variance can be a rounding residue
    with np.errstate(all="ignore"):  # overflow on extreme values is caught below as a non-finite estimate
        if log:
            x, y = np.log(x), np.log(y)
            mean_x, scale = np.float64(0.0), np.float64(1.0)
        else:
            mean_x = x.mean()
            if mean_x == 0:
                return "the mean of a is 0: a difference relative to it is undefined"
            scale = abs(mean_x)
        var_x, var_y = x.var(ddof=1), y.var(ddof=1)
        d = (y.mean() - x.mean()) / scale
        # Raw scale: delta method for mean_b / mean_a, as stats.py's _relative_diff; log scale: plain Welch.
        term_x = (y.mean() / mean_x) ** 2 * var_x / x.size / scale**2 if not log else var_x / x.size
        term_y = var_y / y.size / scale**2
        sd = np.sqrt(((x.size - 1) * var_x + (y.size - 1) * var_y) / (x.size + y.size - 2)) / scale
        if flat or term_x + term_y == 0:
            estimate = (d, 0.0, math.inf, 0.0)
        else:
            df = (term_x + term_y) ** 2 / (term_x**2 / (x.size - 1) + term_y**2 / (y.size - 1))
            estimate = (d, np.sqrt(term_x + term_y), df, sd)
    if not all(math.isfinite(v) for v in estimate[:2] + estimate[3:]) or not estimate[2] > 0:
        return "the values are too extreme for floating point: no estimate"
    return _Estimate(*(float(v) for v in estimate))


def _fraction(n_a: int, n_b: int, max_n: int) -> float:
    """Information fraction h(n_a, n_b) / h(N, N), h = 1 / (1/n_a + 1/n_b): the Welch variance's share."""
    if n_a < 1 or n_b < 1:
        return 0.0
    return min(1.0, (n_a * n_b / (n_a + n_b)) / (max_n / 2))


def _pct(x: float) -> str:
    if abs(x) >= 100:  # only when the interval is still unbounded in practice
        return "+∞" if x > 0 else "−∞"
    return f"{x * 100:+.1f} %".replace("-", "−")


class _Scale:
    """Log or raw working scale: the margin on it, and the way back to b/a - 1."""

    def __init__(self, log: bool, margin_rel: float) -> None:
        self.log = log
        self.low, self.high = (math.log1p(-margin_rel), math.log1p(margin_rel)) if log else (-margin_rel, margin_rel)

    def rel(self, x: float) -> float:
        return math.expm1(max(-_LOG_CAP, min(_LOG_CAP, x))) if self.log else max(-1e300, min(1e300, x))

    def interval(self, lo: float, hi: float) -> str:
        return f"({_pct(self.rel(lo))}, {_pct(self.rel(hi))})"


def _per_side(ratio: float) -> float:
    """n = 2 ratio², ratio = boundary × SD / gap; capped before squaring, which would overflow a float."""
    return 2 * min(ratio, 1e4) ** 2


def _n_needed(
    est: _Estimate, fractions: tuple[float, ...], max_n: int, alpha: float, scale: _Scale, spending: str
) -> int | None:
    """Repetitions per side at which the current estimate would just reach a boundary at the final look."""
    if not est.sd > 0:
        return None
    final = fractions if fractions[-1] >= 1 else (*fractions, 1.0)
    df = 2 * max_n - 2  # what Welch's df approaches at max_n with equal variances
    c95 = t_quantile(boundaries(final, alpha, spending)[-1], df)
    c90 = t_quantile(boundaries(final, 2 * alpha, spending)[-1], df)
    routes = []
    if est.d != 0:  # difference: c95 * sd * sqrt(2/n) <= |d|
        routes.append(_per_side(c95 * est.sd / abs(est.d)))
    room = scale.high - est.d if est.d >= 0 else est.d - scale.low  # to the nearer margin
    if room > 0:  # equivalence: c90 * sd * sqrt(2/n) <= distance to the margin on d's side
        routes.append(_per_side(c90 * est.sd / room))
    best = min((n for n in routes if math.isfinite(n)), default=None)
    return None if best is None else int(min(math.ceil(best), 1_000_000))


def _point(x: np.ndarray, y: np.ndarray, scale: _Scale) -> float | None:
    """b/a - 1 from the means where there is no variance yet (one value a side); None without values."""
    if x.size == 0 or y.size == 0:
        return None
    with np.errstate(all="ignore"):
        if scale.log:
            d = float(np.log(y).mean() - np.log(x).mean())
        else:
            mean_x = float(x.mean())
            d = (float(y.mean()) - mean_x) / abs(mean_x) if mean_x != 0 else math.nan
    return scale.rel(d) if math.isfinite(d) else None


def _open_reason(est: _Estimate, lo95: float, hi95: float, lo90: float, hi90: float, scale: _Scale, m: str) -> str:
    if scale.low < est.d < scale.high:
        return (
            f"the difference ({_pct(scale.rel(est.d))}) is inside the ±{m} margin and the 90 % interval "
            f"{scale.interval(lo90, hi90)} is still wider than it"
        )
    return (
        f"the difference ({_pct(scale.rel(est.d))}) is outside the ±{m} margin but the 95 % interval "
        f"{scale.interval(lo95, hi95)} still includes 0"
    )


def sequential_compare(
    a: Sequence[float],
    b: Sequence[float],
    looks: Sequence[tuple[int, int]],
    max_n: int,
    margin_rel: float = 0.05,
    alpha: float = 0.05,
    spending: str = "obf",
) -> SequentialResult:
    """a, b: values per repetition in repetition order. looks: (n_a, n_b) at each look taken so far, increasing;
    values at look k are a[:n_a], b[:n_b]. The verdict is that of the FIRST look at which one was reached
    (the sweep stops repeating for a decided question), else open at the last look.

    ``max_n`` (repetitions per side at most) sets the information fractions; ``margin_rel`` is the
    equivalence margin as a fraction (0.05: b/a within 0.95..1.05); ``alpha`` the two-sided level of the
    difference test (the equivalence interval is 1 - 2 alpha); ``spending`` the alpha-spending function,
    ``obf`` (O'Brien-Fleming type) or ``pocock`` (``boundaries.SPENDING``). None, NaN and inf values are dropped. The
    log scale is used when every value the looks use is > 0, else the raw scale (``method`` says which).
    Raises ValueError only for parameters out of range, never for the values.
    """
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5) so that the 1 - 2 alpha interval exists, got {alpha}")
    if not 0 < margin_rel < 1:
        raise ValueError(f"the equivalence margin is a fraction in (0, 1), got {margin_rel}")
    if max_n < 2:
        raise ValueError(f"max_n is the most repetitions per side, at least 2, got {max_n}")
    looks = [(max(0, min(int(n_a), len(a))), max(0, min(int(n_b), len(b)))) for n_a, n_b in looks]
    m = f"{margin_rel * 100:g} %"
    if not looks:
        return SequentialResult(
            "open",
            0,
            0,
            0,
            None,
            None,
            None,
            None,
            None,
            None,
            margin_rel,
            "no look taken yet",
            None,
            method_text(spending),
        )
    last_a, last_b = _finite(a, max(n for n, _ in looks)), _finite(b, max(n for _, n in looks))
    log = bool(np.all(last_a > 0) and np.all(last_b > 0))
    scale, method = _Scale(log, margin_rel), method_text(spending, log)
    fractions = tuple(_fraction(n_a, n_b, max_n) for n_a, n_b in looks)

    for k, (n_a, n_b) in enumerate(looks, start=1):
        x, y = _finite(a, n_a), _finite(b, n_b)
        est = _estimate(x, y, log)
        final = k == len(looks)
        if isinstance(est, str):
            if not final:
                continue
            none = dict.fromkeys(("decided_at_look", "ci95_low_rel", "ci95_high_rel", "ci90_low_rel", "ci90_high_rel"))
            return SequentialResult(
                verdict="open",
                looks=len(looks),
                n_a=int(x.size),
                n_b=int(y.size),
                delta_rel=_point(x, y, scale),
                margin_rel=margin_rel,
                reason=est,
                n_needed=None,
                method=method,
                **none,
            )
        if est.se == 0:  # both constant: the ratio is exact, the intervals are the point
            c95 = c90 = 0.0
        else:
            c95 = t_quantile(boundaries(fractions[:k], alpha, spending)[-1], est.df)
            c90 = t_quantile(boundaries(fractions[:k], 2 * alpha, spending)[-1], est.df)
        lo95, hi95 = est.d - c95 * est.se, est.d + c95 * est.se
        lo90, hi90 = est.d - c90 * est.se, est.d + c90 * est.se
        inside = scale.low < lo90 and hi90 < scale.high
        verdict = "higher" if lo95 > 0 else "lower" if hi95 < 0 else "equivalent" if inside else "open"
        if verdict == "open" and not final:
            continue
        where = f"at look {k} (n = {x.size} vs {y.size})"
        if est.se == 0:
            reason = f"{where} both samples are constant: the ratio is exact ({_pct(scale.rel(est.d))})"
            if inside:
                reason += f" and inside the ±{m} margin"
        elif verdict in ("lower", "higher"):
            reason = f"{where} the 95 % repeated interval {scale.interval(lo95, hi95)} excludes 0"
            if inside:
                reason += (
                    f"; the difference is also inside the ±{m} margin (90 % interval {scale.interval(lo90, hi90)})"
                )
        elif verdict == "equivalent":
            reason = f"{where} the 90 % repeated interval {scale.interval(lo90, hi90)} lies inside the ±{m} margin"
        else:
            reason = _open_reason(est, lo95, hi95, lo90, hi90, scale, m)
        needed = None
        if verdict == "open":
            needed = _n_needed(est, fractions[:k], max_n, alpha, scale, spending)
            # Not decided now, so not at this n: the estimate used the final look's boundary, the lowest of
            # all, and the looks before it have higher ones.
            needed = None if needed is None else max(needed, min(n_a, n_b) + 1)
            if min(n_a, n_b) >= max_n:
                reason += f"; n = max_n = {max_n} per side: inconclusive"
            elif needed is not None:
                beyond = f", more than max_n = {max_n}" if needed > max_n else ""
                reason += f" (about {needed} per side would decide it{beyond})"
        return SequentialResult(
            verdict=verdict,
            looks=len(looks),
            n_a=int(x.size),
            n_b=int(y.size),
            decided_at_look=None if verdict == "open" else k,
            delta_rel=scale.rel(est.d),
            ci95_low_rel=scale.rel(lo95),
            ci95_high_rel=scale.rel(hi95),
            ci90_low_rel=scale.rel(lo90),
            ci90_high_rel=scale.rel(hi90),
            margin_rel=margin_rel,
            reason=reason,
            n_needed=needed,
            method=method,
        )
    raise AssertionError("unreachable: the last look always returns")


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
