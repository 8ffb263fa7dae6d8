"""The one estimate of a comparison: b against a, its standard error and degrees of freedom.

Every verdict the product prints (the adaptive sweep's stopping, the report's tables, ``findings.json``, the
declared claims, the gate) is a view of this estimate, so a test, its interval and an equivalence check can
never disagree (docs/method.md, "One estimate per comparison").

- **Scale.** The log scale when every value is > 0: ``d`` = mean log b − mean log a, the log of the ratio of
  the geometric means, where the multiplicative noise of timings and energies becomes additive. Where a value
  is <= 0 (a net energy below idle, say) the raw scale: ``d`` = (mean b − mean a) / |mean a| with the delta
  method's standard error (the variance of a ratio of means).
- **Standard error.** Welch's: each side's variance over its n, unequal variances allowed.
- **Degrees of freedom.** Hsu's conservative df = min(n_a, n_b) − 1 (Hsu 1938; Best & Rayner 1987). At
  3 vs 3 with one side eight times noisier, the Welch-Satterthwaite df (~2) is too generous for the statistic's
  true tail and a nominal 5 % test rejects ~7 %; Hsu's df keeps the level whatever the two variances.

Sign convention everywhere: positive ``d`` means b is larger. Relative values are b/a − 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Log-scale values are clipped here before exp: an interval with 1 df at an early look can be ~1e40 wide.
_LOG_CAP = 700.0


@dataclass(frozen=True)
class Estimate:
    """b against a on the working scale: difference ``d``, its standard error, df and the pooled SD.

    ``se`` is 0 when both samples are constant (the difference is exact; ``df`` is then infinite).
    ``sd`` is the pooled standard deviation on the working scale (for sample-size planning).
    """

    d: float
    se: float
    df: float
    sd: float
    n_a: int
    n_b: int
    log: bool  # True: log scale (d = log ratio of geometric means); False: raw scale relative to |mean a|

    def rel(self, x: float) -> float:
        """A value on the working scale as b/a − 1."""
        return math.expm1(max(-_LOG_CAP, min(_LOG_CAP, x))) if self.log else max(-1e300, min(1e300, x))

    def on_scale(self, rel: float) -> float:
        """b/a − 1 on the working scale (a margin or a minimum effect): log(1 + rel), or rel itself."""
        return math.log1p(rel) if self.log else rel

    def interval(self, quantile: float) -> tuple[float, float]:
        """``d ± quantile × se`` on the working scale."""
        return self.d - quantile * self.se, self.d + quantile * self.se


def finite(values: Sequence[float | None]) -> np.ndarray:
    """The finite values: None, NaN and inf are dropped (a repetition cannot take infinite time or energy)."""
    x = np.array([v for v in values if v is not None], dtype=float)
    return x[np.isfinite(x)]


def use_log(a: Sequence[float | None], b: Sequence[float | None]) -> bool:
    """The scale rule: logs when every finite value of both sides is > 0."""
    return bool(np.all(finite(a) > 0) and np.all(finite(b) > 0))


def hsu_df(n_a: int, n_b: int) -> int:
    """Hsu's conservative degrees of freedom for Welch's statistic: min(n_a, n_b) − 1."""
    return min(n_a, n_b) - 1


def estimate(a: Sequence[float | None], b: Sequence[float | None], log: bool | None = None) -> Estimate | str:
    """The estimate of b against a, or why there is none (fewer than 2 values a side, a zero reference mean
    on the raw scale, values too extreme for floating point). ``log`` forces the scale (the caller decided it
    once for all looks of a comparison); None applies ``use_log`` to these values."""
    x, y = finite(a), finite(b)
    if x.size < 2 or y.size < 2:
        if x.size == y.size:
            return f"n = {x.size} per side: no variance yet"
        return f"n = {x.size} vs {y.size}: a variance needs at least 2 values per side"
    if log is None:
        log = use_log(x, y)
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
        # Raw scale: delta method for mean_b / mean_a (Var R ~ (s_b²/n_b + R² s_a²/n_a) / mean_a²).
        term_x = var_x / x.size if log else (y.mean() / mean_x) ** 2 * var_x / x.size / scale**2
        term_y = var_y / y.size / scale**2
        sd = np.sqrt(((x.size - 1) * var_x + (y.size - 1) * var_y) / (x.size + y.size - 2)) / scale
        se = 0.0 if flat or term_x + term_y == 0 else np.sqrt(term_x + term_y)
    values = (float(d), float(se), float(sd))
    if not all(math.isfinite(v) for v in values):
        return "the values are too extreme for floating point: no estimate"
    df = math.inf if values[1] == 0 else float(hsu_df(int(x.size), int(y.size)))
    return Estimate(values[0], values[1], df, values[2], int(x.size), int(y.size), log)


def point(a: Sequence[float | None], b: Sequence[float | None], log: bool) -> float | None:
    """b/a − 1 from the means alone (one value a side is enough); None without values or with a zero mean."""
    x, y = finite(a), finite(b)
    if x.size == 0 or y.size == 0:
        return None
    with np.errstate(all="ignore"):
        if log:
            d = float(np.log(y).mean() - np.log(x).mean())
            return math.expm1(max(-_LOG_CAP, min(_LOG_CAP, d))) if math.isfinite(d) else None
        mean_x = float(x.mean())
        d = (float(y.mean()) - mean_x) / abs(mean_x) if mean_x != 0 else math.nan
    return d if math.isfinite(d) else None
