"""Descriptive statistics for repeated measurements, and Holm's adjustment (the gate's families).

One value per repetition goes in. ``summarise`` reports mean, median, sample standard deviation and a
Student-t 95% confidence interval of the mean: what a series looks like, not a verdict. Comparisons and
their verdicts are ``green_mlflow.study``'s (one estimate, one decision procedure).

Degenerate input never raises and no field is ever NaN: what cannot be computed is ``None``.

Sources: L. Cruz, "Green Software Engineering Done Right: a Scientific Guide to Set Up Energy Efficiency
Experiments" (2021); S. Holm, "A Simple Sequentially Rejective Multiple Test Procedure", Scandinavian
Journal of Statistics 6 (1979) 65-70.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Summary:
    """One configuration's repeated measurements; the CI is Student-t on the mean, ``None`` when ``n < 2``."""

    n: int
    mean: float | None
    median: float | None
    std: float | None
    ci95_low: float | None
    ci95_high: float | None


def _clean(values: Sequence[float | None]) -> np.ndarray:
    # Infinite values are dropped with NaN: a repetition can't have taken infinite time or energy.
    x = np.array([v for v in values if v is not None], dtype=float)
    return x[np.isfinite(x)]


def _num(value: Any) -> float | None:
    """A finite float, or None: overflow on extreme input must not surface as NaN or inf."""
    value = float(value)
    return value if math.isfinite(value) else None


def _quiet(fn: Callable[..., Any], *args: Any, notes: list[str], **kwargs: Any) -> Any:
    """Call a scipy function, turning its warnings into notes: they inform the reader, not the log."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    # A warning repeated per sample (ttest_ind warns once for each) is said once.
    notes.extend(dict.fromkeys(f"{fn.__name__}: {w.message}" for w in caught))
    return result


def summarise(values: Sequence[float | None]) -> Summary:
    """Mean, median, sample std (ddof=1) and Student-t 95% CI of the mean; None and NaN values are ignored."""
    x = _clean(values)
    n = int(x.size)
    if n == 0:
        return Summary(0, None, None, None, None, None)
    with np.errstate(all="ignore"):
        mean, median = _num(x.mean()), _num(np.median(x))
        if n < 2:
            return Summary(n, mean, median, None, None, None)
        std = _num(x.std(ddof=1))
        half = None if std is None else _num(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n))
    if mean is None or half is None:
        return Summary(n, mean, median, std, None, None)
    return Summary(n, mean, median, std, mean - half, mean + half)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni step-down adjusted p-values, in input order, monotone and capped at 1.

    None (and NaN) stays None and does not count in the family size.
    """
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None and not math.isnan(p))
    adjusted: list[float | None] = [None] * len(p_values)
    running, m = 0.0, len(present)
    for rank, (p, i) in enumerate(present):
        # The running max keeps the order of adjusted p-values the order of the raw ones (step-down).
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted
