"""Spearman's rank correlation of energy against time, honest at small n (docs/method.md rule 15).

For 10 series or fewer the p-value is exact (every pairing counted); the 95 % interval is Fisher's z with
Bonett & Wright's (2000) variance, given only where it exists (n >= 4, |ρ| < 1). Checked against brute-force
enumeration and scipy in ``tests/report/test_stats.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from green_mlflow.study.summary import _num, _quiet


@dataclass(frozen=True)
class Correlation:
    """Spearman's rank correlation with ``n``, its p-value (exact permutation for n <= 10) and a 95 % interval
    (Fisher z with Bonett & Wright's 2000 variance: n >= 4 and |ρ| < 1 only); ``note`` says what is absent."""

    n: int
    rho: float | None
    p_value: float | None
    ci95_low: float | None
    ci95_high: float | None
    note: str
    p_method: str = ""  # "exact permutation (n! orderings)" or "t approximation"


EXACT_MAX_N = 10  # up to here the p-value is exact: all n! orderings (10! = 3,628,800), counted by dynamic programming


def exact_spearman_p(x_ranks: Sequence[float], y_ranks: Sequence[float]) -> float:
    """Two-sided p of Spearman's ρ from its exact permutation distribution: the share of the n! pairings whose
    |ρ| is at least the observed one (ties as average ranks). Counted by dynamic programming over the subsets
    of ``y`` already paired, on ``sum(rank_x * rank_y)``, which ρ is a linear function of."""
    a = np.rint(2 * np.asarray(x_ranks, dtype=float)).astype(np.int64)  # average ranks are multiples of 1/2
    b = np.rint(2 * np.asarray(y_ranks, dtype=float)).astype(np.int64)
    n = a.size
    if n > EXACT_MAX_N:
        raise ValueError(f"exact Spearman p is for n <= {EXACT_MAX_N}, got {n}")
    top = int(np.sort(a) @ np.sort(b))
    counts = np.zeros((1 << n, top + 1), dtype=np.int64)
    counts[0, 0] = 1
    for mask in range(1 << n):
        row = counts[mask]
        k = mask.bit_count()  # the next x value to pair
        if k == n or not row.any():
            continue
        for j in range(n):
            if not mask >> j & 1:
                w = int(a[k] * b[j])
                counts[mask | 1 << j, w:] += row[: top + 1 - w]
    totals = counts[(1 << n) - 1]
    centre = a.sum() * b.sum() / n
    observed = abs(float(a @ b) - centre)
    t = np.arange(top + 1)
    return float(totals[np.abs(t - centre) >= observed - 1e-9].sum() / totals.sum())


def spearman(x: Sequence[float], y: Sequence[float]) -> Correlation:
    """Spearman's ρ between paired values; ρ needs n ≥ 3, the interval n ≥ 4 and |ρ| < 1 (docs/method.md rule 15)."""
    pairs = [(a, b) for a, b in zip(x, y) if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)]
    n = len(pairs)
    if n < 3:
        return Correlation(n, None, None, None, None, f"n = {n}: a correlation needs at least 3 series")
    notes: list[str] = []
    xs, ys = [a for a, _ in pairs], [b for _, b in pairs]
    res = _quiet(stats.spearmanr, xs, ys, notes=notes)
    rho, p = _num(res.statistic), _num(res.pvalue)
    if rho is None:
        return Correlation(n, None, None, None, None, "; ".join(notes) or "constant values: no correlation")
    method = "t approximation"
    if n <= EXACT_MAX_N:
        p, method = exact_spearman_p(stats.rankdata(xs), stats.rankdata(ys)), f"exact permutation ({n}! orderings)"
    low = high = None
    if n <= 3:
        notes.append("no 95 % interval: Fisher's z needs n >= 4")
    elif abs(rho) >= 1:
        notes.append(f"no 95 % interval: Fisher's z is undefined at ρ = {rho:+.0f}")
    else:
        z, se = math.atanh(rho), math.sqrt((1 + rho**2 / 2) / (n - 3))
        low, high = math.tanh(z - 1.959963984540054 * se), math.tanh(z + 1.959963984540054 * se)
    return Correlation(n, rho, p, low, high, "; ".join(notes), method)


def fisher_bounds(rho: float, n: int, level: float) -> tuple[float, float] | None:
    """One-sided bounds on Spearman's ρ, each at ``level`` (together a 1 − 2·level interval): Fisher's z with
    Bonett & Wright's (2000) variance (1 + ρ²/2) / (n − 3). None below 4 series. At |ρ| = 1, where z is
    infinite, ρ is taken as the nearest value n series can show short of it, 1 − 12 / (n(n² − 1)) (one adjacent
    pair swapped): a perfect order among few series is not proof of a strong correlation (rule 15)."""
    if n < 4:
        return None
    nearest = 1 - 12 / (n * (n * n - 1))
    r = max(-nearest, min(nearest, rho))
    z, se = math.atanh(r), math.sqrt((1 + r**2 / 2) / (n - 3))
    q = float(stats.norm.isf(level))
    return math.tanh(z - q * se), math.tanh(z + q * se)
