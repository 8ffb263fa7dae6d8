"""Anytime-safe comparison of two series that grow while they are compared: repeated confidence intervals.

An adaptive sweep repeats a configuration, looks at the data after every round and stops repeating a series
once its questions are answered. Testing at every look with a fixed-sample test finds differences that are
not there far more often than its nominal 5 % (Armitage, McPherson & Rowe 1969). Repeated confidence
intervals (Jennison & Turnbull 1989) keep the error rates whatever the looks and whenever the sweep stops:
look k uses a boundary ``c_k`` from Lan & DeMets' (1983) alpha spending of O'Brien-Fleming type,
``2 - 2 Phi(z_{1-alpha/4} / sqrt(t))`` on each side at information fraction ``t`` (``obf_spending``), found by
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
from functools import lru_cache

import numpy as np
from scipy import optimize, special

METHOD = (
    "repeated confidence intervals, Lan-DeMets O'Brien-Fleming spending (Jennison & Turnbull 1989), "
    "Welch t on log values"
)
METHOD_RAW = (
    "repeated confidence intervals, Lan-DeMets O'Brien-Fleming spending (Jennison & Turnbull 1989), "
    "Welch t on raw values relative to the mean of a (delta method; a value is <= 0, so no log scale)"
)

# Grid resolution of Jennison & Turnbull's (2000, §19.2) Simpson rule: 12r - 3 points at most. gsDesign uses
# r = 18 for 3 decimals; r = 32 costs under a millisecond a look and keeps c_k within 1e-4 of the exact value.
_R = 32
# A boundary is never above this: sf(37) ~ 6e-300 is the smallest alpha a double carries. A look whose alpha
# increment underflows (information fraction ~0) gets it and so decides nothing.
_C_MAX = 37.0
# Keys are rounded fractions: h(n_a, n_b) / h(N, N) from different sums must hit the same cache entry.
_ROUND = 9
# Log-scale bounds are clipped here before exp: an interval of a look with 2 values and 1 df can be ~1e40 wide.
_LOG_CAP = 700.0


def _sf(z: float) -> float:
    """Upper tail of the standard normal, accurate far out (1 - Phi(z) would round to 0)."""
    return float(special.ndtr(-z))


def obf_spending(t: float, alpha: float) -> float:
    """Cumulative two-sided alpha spent at information fraction ``t``, O'Brien-Fleming type (Lan & DeMets 1983).

    Each side spends ``2 - 2 Phi(z_{1-alpha/4} / sqrt(t))``, the Lan-DeMets function at ``alpha/2``, and the
    two-sided total is twice that: ``alpha`` at t = 1. This is the convention of ldbounds and of gsDesign's
    ``sfLDOF`` with symmetric two-sided bounds (one-sided ``alpha/2``), whose published boundaries it
    reproduces (5 equal looks at 0.05: 4.877, 3.357, 2.680, 2.290, 2.031). The literal two-sided form
    ``2 - 2 Phi(z_{1-alpha/2} / sqrt(t))`` spends more early and less late (4.383 … 2.064).
    ``t`` is clipped to (0, 1]: 0 at t <= 0, ``alpha`` at t >= 1.
    """
    if not t > 0:
        return 0.0
    t = min(float(t), 1.0)
    return 4.0 * _sf(-float(special.ndtri(alpha / 4)) / math.sqrt(t))


def _grid(c: float) -> tuple[np.ndarray, np.ndarray]:
    """Simpson points and weights on [-c, c] for a statistic that is N(0, 1) under H0 (J&T 2000, §19.2).

    Dense (spacing 3/(2r)) within ±3, spreading logarithmically to ±(3 + 4 log r) in the tails.
    """
    r = _R
    i = np.arange(1, 6 * r, dtype=float)
    x = np.where(
        i <= r - 1,
        -3 - 4 * np.log(r / i),
        np.where(i <= 5 * r, -3 + 3 * (i - r) / (2 * r), 3 + 4 * np.log(r / (6 * r - i))),
    )
    x = np.concatenate(([-c], x[(x > -c) & (x < c)], [c]))
    z = np.empty(2 * x.size - 1)
    z[0::2], z[1::2] = x, (x[:-1] + x[1:]) / 2
    w = np.empty_like(z)
    gaps = np.diff(x)
    w[0::2] = np.concatenate(([gaps[0]], gaps[:-1] + gaps[1:], [gaps[-1]])) / 6
    w[1::2] = 4 * gaps / 6
    return z, w


@dataclass(frozen=True)
class _State:
    """After a look: its boundaries so far, its fraction, and the sub-density of Z on the continuation region."""

    bounds: tuple[float, ...]
    t: float
    z: np.ndarray
    h: np.ndarray  # Simpson weight x density at z: sum(h) = P(no crossing so far)


def _first(t: float, alpha: float) -> _State:
    spent = obf_spending(t, alpha)
    c = min(_C_MAX, -float(special.ndtri(spent / 2))) if spent > 0 else _C_MAX
    z, w = _grid(c)
    return _State((c,), t, z, w * np.exp(-(z**2) / 2) / math.sqrt(2 * math.pi))


def _next(prev: _State, t: float, alpha: float) -> _State:
    if t <= prev.t:  # no new information: Z_k is Z_{k-1}, nothing new to spend
        return _State((*prev.bounds, prev.bounds[-1]), prev.t, prev.z, prev.h)
    increment = obf_spending(t, alpha) - obf_spending(prev.t, alpha)
    # On the score scale S = Z sqrt(t), a Brownian motion: S_k - S_{k-1} ~ N(0, t_k - t_{k-1}), independent.
    rt, step = math.sqrt(t), math.sqrt(t - prev.t)
    mean = prev.z * math.sqrt(prev.t)

    def crossing(c: float) -> float:
        """P(no crossing before look k, |Z_k| >= c) under H0."""
        upper = special.ndtr((mean - c * rt) / step)
        lower = special.ndtr((-mean - c * rt) / step)
        return float(prev.h @ (upper + lower))

    if increment <= 0 or crossing(_C_MAX) >= increment:
        c = _C_MAX
    else:  # crossing(0) is the whole continuation mass, >= 1 - alpha > increment
        c = float(optimize.brentq(lambda c: crossing(c) - increment, 0.0, _C_MAX, xtol=1e-10))
    z, w = _grid(c)
    kernel = np.exp(-(((z[:, None] * rt - mean[None, :]) / step) ** 2) / 2) / math.sqrt(2 * math.pi)
    return _State((*prev.bounds, c), t, z, w * (rt / step) * (kernel @ prev.h))


@lru_cache(maxsize=2048)
def _state(fractions: tuple[float, ...], alpha: float) -> _State:
    # Extends the state of the prefix, which boundaries() has just computed or found in this cache.
    if len(fractions) == 1:
        return _first(fractions[0], alpha)
    return _next(_state(fractions[:-1], alpha), fractions[-1], alpha)


def boundaries(fractions: tuple[float, ...], alpha: float) -> tuple[float, ...]:
    """Two-sided symmetric z boundaries c_1..c_K for looks at increasing information fractions (last may be < 1),
    such that P(|Z_k| >= c_k for some k <= K | H0) spends alpha(t_k) cumulatively. Recursive numerical
    integration over a grid (Armitage, McPherson & Rowe 1969; Jennison & Turnbull 2000 ch. 19). lru_cache'd.

    Fractions are clipped to [1e-6, 1] and rounded to 9 decimals (the cache key). A look without new
    information (a fraction not above the previous one) repeats the previous boundary. Boundaries are in
    standard-normal units, at most 37 (where the alpha to spend underflows).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha is a two-sided level strictly between 0 and 1, got {alpha}")
    key = tuple(round(min(max(float(f), 1e-6), 1.0), _ROUND) for f in fractions)
    if not key:
        return ()
    for k in range(1, len(key)):  # shortest prefix first, so each call finds its predecessor cached
        _state(key[:k], alpha)
    return _state(key, alpha).bounds


def _t_quantile(c: float, df: float) -> float:
    """Student-t quantile with the two-sided level of the normal boundary c (the small-sample correction)."""
    half = _sf(c)  # the one-sided level, kept in the lower tail: 1 - tiny rounds to 1 in the upper one
    q = -float(special.stdtrit(df, half)) if half > 0 else math.inf
    return q if math.isfinite(q) else 1e300


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


def _n_needed(est: _Estimate, fractions: tuple[float, ...], max_n: int, alpha: float, scale: _Scale) -> int | None:
    """Repetitions per side at which the current estimate would just reach a boundary at the final look."""
    if not est.sd > 0:
        return None
    final = fractions if fractions[-1] >= 1 else (*fractions, 1.0)
    df = 2 * max_n - 2  # what Welch's df approaches at max_n with equal variances
    c95 = _t_quantile(boundaries(final, alpha)[-1], df)
    c90 = _t_quantile(boundaries(final, 2 * alpha)[-1], df)
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
) -> SequentialResult:
    """a, b: values per repetition in repetition order. looks: (n_a, n_b) at each look taken so far, increasing;
    values at look k are a[:n_a], b[:n_b]. The verdict is that of the FIRST look at which one was reached
    (the sweep stops repeating for a decided question), else open at the last look.

    ``max_n`` (repetitions per side at most) sets the information fractions; ``margin_rel`` is the
    equivalence margin as a fraction (0.05: b/a within 0.95..1.05); ``alpha`` the two-sided level of the
    difference test (the equivalence interval is 1 - 2 alpha). None, NaN and inf values are dropped. The
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
            "open", 0, 0, 0, None, None, None, None, None, None, margin_rel, "no look taken yet", None, METHOD
        )
    last_a, last_b = _finite(a, max(n for n, _ in looks)), _finite(b, max(n for _, n in looks))
    log = bool(np.all(last_a > 0) and np.all(last_b > 0))
    scale, method = _Scale(log, margin_rel), METHOD if log else METHOD_RAW
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
            c95 = _t_quantile(boundaries(fractions[:k], alpha)[-1], est.df)
            c90 = _t_quantile(boundaries(fractions[:k], 2 * alpha)[-1], est.df)
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
            needed = _n_needed(est, fractions[:k], max_n, alpha, scale)
            # Not decided now, so not at this n: the estimate reaches the final look's boundary, a later
            # look's is wider, and the estimate itself is noisy.
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
