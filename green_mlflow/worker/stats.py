"""Latency statistics computed in one place."""

from __future__ import annotations

import numpy as np

from green_mlflow.contract import LatencySummary


def latency_summary(latencies_ns: list[int]) -> LatencySummary:
    """Mean, spread and percentiles of per-iteration latencies given in nanoseconds, in milliseconds."""
    if not latencies_ns:
        raise ValueError("no latencies to summarise")
    ms = np.asarray(latencies_ns, dtype=np.float64) / 1e6
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return LatencySummary(
        count=int(ms.size),
        mean_ms=float(ms.mean()),
        std_ms=float(ms.std(ddof=1)) if ms.size > 1 else 0.0,
        min_ms=float(ms.min()),
        p50_ms=float(p50),
        p90_ms=float(p90),
        p99_ms=float(p99),
        max_ms=float(ms.max()),
    )


# Student's t, 97.5 % quantile, for 1..30 degrees of freedom (beyond: 1.96 is within 2 %); no scipy in the
# runtime environments
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip


def ci_rel(values: list[float]) -> float | None:
    """Half-width of the 95 % confidence interval of the mean (Student's t) over the mean; None below 2."""
    if len(values) < 2:
        return None
    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean())
    if mean == 0:
        return None
    t = T975[len(values) - 2] if len(values) - 1 <= len(T975) else 1.96
    return float(t * x.std(ddof=1) / np.sqrt(x.size) / abs(mean))
