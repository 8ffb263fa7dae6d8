"""Statistics for repeated measurements: summaries, two-sample comparisons, effect sizes, Holm correction.

One value per repetition goes in. ``summarise`` reports mean, median, sample standard deviation and a
Student-t 95% confidence interval of the mean. ``compare`` tests one configuration against a reference
with Welch's t-test when Shapiro-Wilk does not reject normality of either sample, else with Mann-Whitney U,
and reports an effect size (Cohen's d with Welch, Cliff's delta with Mann-Whitney) and the relative
difference of the means with a 95% interval. ``holm_correct`` adjusts a family of comparisons.

Sign convention everywhere: ``b`` is compared against ``a``; positive statistic, effect size and relative
difference all mean ``b`` is larger.

Degenerate input never raises and no field is ever NaN: what cannot be computed is ``None`` and ``note``
says why. Warnings from scipy (e.g. precision loss on near-constant data) become part of ``note``.

Sources: L. Cruz, "Green Software Engineering Done Right: a Scientific Guide to Set Up Energy Efficiency
Experiments" (2021); S. Holm, "A Simple Sequentially Rejective Multiple Test Procedure", Scandinavian
Journal of Statistics 6 (1979) 65-70.
"""

from __future__ import annotations

import dataclasses
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


@dataclass(frozen=True)
class Comparison:
    """``b`` against the reference ``a``; ``p_holm`` stays ``None`` until ``holm_correct`` fills it."""

    n_a: int
    n_b: int
    mean_a: float | None
    mean_b: float | None
    test: str | None
    normality_p_a: float | None
    normality_p_b: float | None
    statistic: float | None
    p_value: float | None
    p_holm: float | None
    effect_size_name: str | None
    effect_size: float | None
    relative_diff: float | None
    relative_diff_ci95: float | None
    note: str


def _clean(values: Sequence[float | None]) -> np.ndarray:
    # Infinite values are dropped with NaN: a repetition can't have taken infinite time or energy.
    x = np.array([v for v in values if v is not None], dtype=float)
    return x[np.isfinite(x)]


def _num(value: Any) -> float | None:
    """A finite float, or None: overflow on extreme input must not surface as NaN or inf."""
    value = float(value)
    return value if math.isfinite(value) else None


def _flat(x: np.ndarray) -> bool:
    # ptp catches exact constants whose computed variance is a rounding residue; var catches underflow.
    return bool(np.ptp(x) == 0 or not np.var(x, ddof=1) > 0)


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


def cliffs_delta(a: Sequence[float], b: Sequence[float]) -> float:
    """Cliff's delta = P(b > a) - P(b < a) over all pairs; in [-1, 1], positive when b tends to be larger."""
    x, y = np.sort(np.asarray(a, dtype=float)), np.asarray(b, dtype=float)
    if x.size == 0 or y.size == 0:
        raise ValueError(f"Cliff's delta needs values in both samples, got {x.size} and {y.size}")
    # Sorting a once gives, for every b value, how many a values lie below and above it: O(n log n), no n*m matrix.
    below = np.searchsorted(x, y, side="left").sum()
    above = (x.size - np.searchsorted(x, y, side="right")).sum()
    return float((below - above) / (x.size * y.size))


def cohens_d(a: Sequence[float], b: Sequence[float]) -> float:
    """Cohen's d = (mean_b - mean_a) / pooled sd (ddof=1); positive when b is larger."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.size < 2 or y.size < 2:
        raise ValueError(f"Cohen's d needs at least 2 values per sample, got {x.size} and {y.size}")
    pooled = math.sqrt(((x.size - 1) * x.var(ddof=1) + (y.size - 1) * y.var(ddof=1)) / (x.size + y.size - 2))
    if pooled == 0:
        raise ValueError("Cohen's d is undefined when both samples are constant (pooled sd is 0)")
    return float((y.mean() - x.mean()) / pooled)


def _relative_diff(x: np.ndarray, y: np.ndarray, notes: list[str]) -> tuple[float | None, float | None]:
    """mean_b / mean_a - 1 and the half-width of its 95% CI (delta method, Welch-Satterthwaite df)."""
    if x.size == 0 or y.size == 0:
        return None, None
    mean_a, mean_b = x.mean(), y.mean()
    if mean_a == 0:
        notes.append("relative difference undefined: the mean of a is 0")
        return None, None
    ratio = mean_b / mean_a
    if x.size < 2 or y.size < 2:
        return _num(ratio - 1), None
    # Var(R) ~ (s_b^2/n_b + R^2 s_a^2/n_a) / mean_a^2 for independent samples; the two terms set the df.
    term_a = ratio**2 * x.var(ddof=1) / x.size / mean_a**2
    term_b = y.var(ddof=1) / y.size / mean_a**2
    se2 = term_a + term_b
    if se2 == 0:  # both samples constant: the ratio is exact, whatever the df
        return _num(ratio - 1), 0.0
    df = se2**2 / (term_a**2 / (x.size - 1) + term_b**2 / (y.size - 1))
    return _num(ratio - 1), _num(stats.t.ppf(0.975, df) * math.sqrt(se2))


def _test(x: np.ndarray, y: np.ndarray, alpha: float, notes: list[str]) -> dict[str, Any]:
    """Pick and run the test; the fields of Comparison that describe it."""
    out: dict[str, Any] = dict.fromkeys(
        ("test", "normality_p_a", "normality_p_b", "statistic", "p_value", "effect_size_name", "effect_size")
    )
    samples = {"a": x, "b": y}
    few = [f"{name} has {s.size} value(s)" for name, s in samples.items() if s.size < 2]
    if few:
        notes.append(f"no test: {' and '.join(few)}; a test needs at least 2 per sample")
        return out
    flat = [name for name, s in samples.items() if _flat(s)]
    if len(flat) == 2:
        if x.mean() == y.mean():
            out["p_value"] = 1.0
            notes.append(f"no variance: both samples are constant at {x.mean():g}, so they do not differ (p = 1)")
        else:
            notes.append(f"no variance: a is constant at {x.mean():g} and b at {y.mean():g}; no test is possible")
        return out
    unchecked = []
    for name, s in samples.items():
        if s.size < 3:
            unchecked.append(f"{name} has fewer than 3 values")
        elif name in flat:
            unchecked.append(f"{name} is constant")
        else:
            p = _num(_quiet(stats.shapiro, s, notes=notes).pvalue)
            out[f"normality_p_{name}"] = p
            if p is None:
                unchecked.append(f"Shapiro-Wilk gave no p-value for {name}")
    normality = {name: out[f"normality_p_{name}"] for name in samples}
    rejected = [f"{name} (p={p:.3g})" for name, p in normality.items() if p is not None and p < alpha]
    if unchecked:
        notes.append(f"Mann-Whitney U: normality cannot be checked ({'; '.join(unchecked)})")
    if rejected:
        notes.append(f"Mann-Whitney U: Shapiro-Wilk rejects normality of {' and '.join(rejected)} at alpha={alpha:g}")
    # b goes first so that a positive t, or U above n_a*n_b/2, means b is larger, as the effect sizes do.
    if unchecked or rejected:
        res = _quiet(stats.mannwhitneyu, y, x, alternative="two-sided", notes=notes)
        out.update(test="mann_whitney_u", effect_size_name="cliffs_delta", effect_size=cliffs_delta(x, y))
    else:
        res = _quiet(stats.ttest_ind, y, x, equal_var=False, notes=notes)
        out.update(test="welch_t", effect_size_name="cohens_d", effect_size=_num(cohens_d(x, y)))
    out.update(statistic=_num(res.statistic), p_value=_num(res.pvalue))
    if out["p_value"] is None:
        notes.append(f"{out['test']} gave no finite p-value: the values are too extreme for floating point")
    return out


def compare(a: Sequence[float | None], b: Sequence[float | None], alpha: float = 0.05) -> Comparison:
    """Compare b against the reference a: test chosen by Shapiro-Wilk, effect size, relative difference.

    Welch's t-test when Shapiro-Wilk does not reject normality (p >= alpha) for both samples; Mann-Whitney U
    (two-sided) when it rejects, or when normality cannot be checked (n < 3, a constant sample); no test when
    either sample has fewer than 2 values or both are constant. None and NaN values are ignored.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha is a significance level strictly between 0 and 1, got {alpha}")
    x, y = _clean(a), _clean(b)
    notes: list[str] = []
    with np.errstate(all="ignore"):
        fields = _test(x, y, alpha, notes)
        rel, rel_ci = _relative_diff(x, y, notes)
        mean_a = _num(x.mean()) if x.size else None
        mean_b = _num(y.mean()) if y.size else None
    return Comparison(
        n_a=int(x.size),
        n_b=int(y.size),
        mean_a=mean_a,
        mean_b=mean_b,
        p_holm=None,
        relative_diff=rel,
        relative_diff_ci95=rel_ci,
        note="; ".join(notes),
        **fields,
    )


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


def holm_correct(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """Copies of the comparisons with ``p_holm`` filled, the whole sequence being one family."""
    adjusted = holm([c.p_value for c in comparisons])
    return [dataclasses.replace(c, p_holm=p) for c, p in zip(comparisons, adjusted)]


@dataclass(frozen=True)
class Equivalence:
    """Two one-sided tests (TOST; Schuirmann 1987) that ``b`` is within ``±margin_rel × mean_a`` of ``a``.

    Welch's form (unequal variances), as statsmodels' ``ttost_ind(usevar="unequal")``: the difference of the
    means ``mean_b − mean_a``, its 90 % interval (the one a TOST at 5 % implies), and ``p_tost``, the larger of
    the two one-sided p-values. ``None`` with ``note`` where it cannot be computed (fewer than 2 values).
    """

    n_a: int
    n_b: int
    mean_a: float | None
    mean_b: float | None
    margin_rel: float
    diff: float | None  # mean_b − mean_a
    ci90_low: float | None
    ci90_high: float | None
    p_tost: float | None
    note: str


def tost(a: Sequence[float | None], b: Sequence[float | None], margin_rel: float) -> Equivalence:
    """Is ``b`` equivalent to the reference ``a`` within ``±margin_rel`` of ``a``'s mean? (Welch TOST)"""
    if not 0 < margin_rel < 1:
        raise ValueError(f"the equivalence margin is a fraction of the reference mean in (0, 1), got {margin_rel}")
    x, y = _clean(a), _clean(b)
    base = {"n_a": int(x.size), "n_b": int(y.size), "margin_rel": margin_rel}
    if x.size < 2 or y.size < 2:
        return Equivalence(
            **base,
            mean_a=_num(x.mean()) if x.size else None,
            mean_b=_num(y.mean()) if y.size else None,
            diff=None,
            ci90_low=None,
            ci90_high=None,
            p_tost=None,
            note=f"no equivalence test: n = {x.size} vs {y.size}; it needs at least 2 per sample",
        )
    mean_a, mean_b = float(x.mean()), float(y.mean())
    bound = margin_rel * abs(mean_a)
    diff = mean_b - mean_a
    var_a, var_b = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(var_a + var_b)
    if se == 0:  # both constant: the difference is exact
        inside = abs(diff) < bound
        return Equivalence(
            **base,
            mean_a=mean_a,
            mean_b=mean_b,
            diff=diff,
            ci90_low=diff,
            ci90_high=diff,
            p_tost=0.0 if inside else 1.0,
            note="no variance: both samples are constant",
        )
    df = (var_a + var_b) ** 2 / (var_a**2 / (x.size - 1) + var_b**2 / (y.size - 1))
    p_lower = float(stats.t.sf((diff + bound) / se, df))  # H0: diff <= -bound
    p_upper = float(stats.t.cdf((diff - bound) / se, df))  # H0: diff >= +bound
    half = float(stats.t.ppf(0.95, df)) * se
    return Equivalence(
        **base,
        mean_a=mean_a,
        mean_b=mean_b,
        diff=diff,
        ci90_low=diff - half,
        ci90_high=diff + half,
        p_tost=max(p_lower, p_upper),
        note="",
    )


def welch_p(a: Sequence[float | None], b: Sequence[float | None]) -> float | None:
    """Two-sided Welch t-test p-value (what scipy's ``ttest_ind(equal_var=False)`` gives), without scipy's
    per-call overhead: the equivalence table asks it for every pair of series. None below 2 values a side."""
    x, y = _clean(a), _clean(b)
    if x.size < 2 or y.size < 2:
        return None
    var_a, var_b = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    if var_a + var_b == 0:
        return 1.0 if x.mean() == y.mean() else None
    df = (var_a + var_b) ** 2 / (var_a**2 / (x.size - 1) + var_b**2 / (y.size - 1))
    return _num(2 * stats.t.sf(abs(y.mean() - x.mean()) / math.sqrt(var_a + var_b), df))
