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
