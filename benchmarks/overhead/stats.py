"""Statistics of the comparisons: paired per-round ratios, a bootstrap interval, page-fault regimes."""

from __future__ import annotations

import statistics

import numpy as np

MIN_ROUNDS_TO_RESOLVE = 6  # a bootstrap over fewer rounds says nothing

# Page faults per iteration that tell two arms apart: glibc's malloc either reuses freed activation memory
# (~0 faults per iteration) or gives it back and faults it in again every iteration (torch mobilenet_v2 bs1:
# ~2,600-3,500, ~10-14 MB), depending on the process's heap history; that costs ~20-40 % of latency there.
FAULT_REGIME_GAP = 100


def regime_mismatch(a: list[float], b: list[float]) -> bool:
    return abs(statistics.median(a) - statistics.median(b)) > FAULT_REGIME_GAP


def p50_ms(latencies_ns: list[int]) -> float:
    return float(np.median(np.asarray(latencies_ns, dtype=np.float64))) / 1e6


def pct_ms(latencies_ns: list[int], q: float) -> float:
    return float(np.percentile(np.asarray(latencies_ns, dtype=np.float64), q)) / 1e6


def bootstrap_median_ci(values: list[float], n: int = 4000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the median of ``values`` (resampling rounds)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2:
        return float(v[0]), float(v[0])
    idx = np.random.default_rng(seed).integers(0, v.size, (n, v.size))
    meds = np.median(v[idx], axis=1)
    lo, hi = np.percentile(meds, [2.5, 97.5])
    return float(lo), float(hi)


def compare(name_a: str, rounds_a: list[list[int]], name_b: str, rounds_b: list[list[int]], target: float) -> dict:
    """b/a: the median of per-round p50 ratios (paired by round, the judged number) and the pooled p50s."""
    pooled_a = [x for r in rounds_a for x in r]
    pooled_b = [x for r in rounds_b for x in r]
    per_round = [p50_ms(b) / p50_ms(a) for a, b in zip(rounds_a, rounds_b)]
    a_p50s = [p50_ms(r) for r in rounds_a]
    ratio = statistics.median(per_round)
    ci = bootstrap_median_ci(per_round)
    return {
        "ratio": ratio,
        "ratio_ci95": list(ci),
        "target": target,
        "passed": ratio <= target,
        # the interval lies wholly on one side of the target: this host was quiet enough to decide
        "resolved": len(per_round) >= MIN_ROUNDS_TO_RESOLVE and (ci[1] <= target or ci[0] > target),
        f"{name_a}_p50_ms": p50_ms(pooled_a),
        f"{name_b}_p50_ms": p50_ms(pooled_b),
        f"{name_a}_p10_ms": pct_ms(pooled_a, 10),
        f"{name_b}_p10_ms": pct_ms(pooled_b, 10),
        f"{name_a}_p90_ms": pct_ms(pooled_a, 90),
        f"{name_b}_p90_ms": pct_ms(pooled_b, 90),
        f"{name_a}_iterations": len(pooled_a),
        f"{name_b}_iterations": len(pooled_b),
        "ratio_pooled_p50": p50_ms(pooled_b) / p50_ms(pooled_a),
        "ratio_pooled_p10": pct_ms(pooled_b, 10) / pct_ms(pooled_a, 10),
        "ratio_per_round_min": min(per_round),
        "ratio_per_round_max": max(per_round),
        "ratio_per_round": per_round,
        f"{name_a}_round_p50_ms": a_p50s,
        f"{name_b}_round_p50_ms": [p50_ms(r) for r in rounds_b],
        # spread of the reference arm's own round medians: the noise floor of one round
        f"{name_a}_round_p50_cv": statistics.pstdev(a_p50s) / statistics.mean(a_p50s) if len(a_p50s) > 1 else 0.0,
    }


def verdict(c: dict) -> str:
    """PASS/FAIL against the target, and whether the interval decides it on this host."""
    return ("PASS" if c["passed"] else "FAIL") + (" (resolved)" if c["resolved"] else " (within noise)")
