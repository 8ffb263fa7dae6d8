"""Flags on a run's quality, as tags the report marks (docs/method.md rules 5 and 17).

- ``green.cpu_contention``: other processes used the CPU during the warm-up and windows (``detected: …``,
  ``none (…)`` or ``not checked: …``); GPU contention is ``green.gpu_contention`` (``metrics.contention_tags``).
- ``green.allocator_churn``: the worker's page faults per iteration above ``CHURN_FAULTS_PER_ITERATION``
  (``detected: …`` or ``none (…)``), with the allocator in effect as ``worker.allocator`` (rule 16).
- ``green.stability``: the windows' latency (and measured energy per sample) trend across the run:
  ``stable``, ``drifting: latency +x % per window (…)`` or ``not checked: …``.

Drift is a Mann–Kendall trend test (Kendall's τ of the value against the window index, exact p below 10
windows and no ties, else the normal approximation) combined with a practical threshold: significant at ``ALPHA`` *and* an OLS slope of at least
``MIN_DRIFT_REL`` of the mean per window. A monotonic trend over 5 windows is the least that can reach
p < 0.05 (p = 2/5! ≈ 0.017), so runs with fewer windows are ``not checked``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from green_mlflow.contract import CpuContention, WorkerResult
from green_mlflow.meters.base import MEASURED

CHURN_FAULTS_PER_ITERATION = 10_000  # about 40 MB of 4 KiB pages faulted in again on every inference
ALPHA = 0.05
MIN_DRIFT_REL = 0.01  # 1 % of the mean per window
MIN_WINDOWS = 5
FLAG_TAGS = ("green.gpu_contention", "green.cpu_contention", "green.stability", "green.allocator_churn")


def cpu_contention_tags(contention: CpuContention | None) -> dict[str, str]:
    if contention is None:
        return {}
    if not contention.checked:
        return {"green.cpu_contention": f"not checked: {contention.reason or 'no detail'}"}
    if not contention.detected:
        return {"green.cpu_contention": f"none (other processes: {contention.other_cores:.2f} cores on average)"}
    top = ", ".join(f"{name} {cores * 100:.0f} %" for name, cores in contention.top_processes.items())
    return {
        "green.cpu_contention": f"detected: other processes used {contention.other_cores:.2f} cores on average "
        f"during warm-up and windows (threshold {contention.threshold_cores:g}); busiest, in % of a core: {top}"
    }


def trend(values: list[float]) -> tuple[float, float] | None:
    """``(slope per window relative to the mean, Mann–Kendall p)``, None below ``MIN_WINDOWS`` values."""
    y = np.asarray(values, dtype=float)
    if y.size < MIN_WINDOWS or not np.all(np.isfinite(y)) or y.mean() == 0:
        return None
    x = np.arange(y.size)
    slope = float(np.polyfit(x, y, 1)[0]) / float(y.mean())
    if np.all(y == y[0]):
        return 0.0, 1.0
    method = "exact" if y.size < 10 and np.unique(y).size == y.size else "asymptotic"  # exact needs no ties
    p = float(stats.kendalltau(x, y, method=method).pvalue)
    return slope, p


def stability_tags_and_metrics(result: WorkerResult) -> tuple[dict[str, str], dict[str, float]]:
    windows = result.windows
    if len(windows) < MIN_WINDOWS:
        return {"green.stability": f"not checked: {len(windows)} windows; a trend needs at least {MIN_WINDOWS}"}, {}
    if all(w.latency_p50_ms is not None for w in windows):
        series = {"latency": [w.latency_p50_ms for w in windows]}
    else:  # the throughput scenario: each window's time per batch
        series = {"time per batch": [w.batch_time_ms for w in windows]}
    for domain, entry in sorted(result.energy.items()):
        if entry.method in MEASURED and all(e is not None for e in entry.window_energy_j):
            per_sample = [e / w.samples for e, w in zip(entry.window_energy_j, windows)]
            series[f"{domain} energy per sample"] = per_sample
    drifting, metrics = [], {}
    for name, values in series.items():
        found = trend(values)
        if found is None:
            continue
        slope, p = found
        metrics[f"drift_{name.replace(' ', '_')}_rel_per_window"] = slope
        if p < ALPHA and abs(slope) >= MIN_DRIFT_REL:
            drifting.append(f"{name} {slope * 100:+.1f} % per window (Mann-Kendall p={p:.2g})")
    tag = f"drifting: {'; '.join(drifting)}" if drifting else "stable"
    return {"green.stability": tag}, metrics


def allocator_tags(result: WorkerResult) -> dict[str, str]:
    """The allocator the worker ran with, and ``green.allocator_churn`` from its page faults per iteration."""
    tags = {}
    allocator = result.info.get("allocator") or {}
    if allocator:
        tags["worker.allocator"] = f"{allocator.get('name')} {allocator.get('version')}"
        tags["worker.allocator.detail"] = str(allocator.get("detail", ""))
    faults = [w.minor_faults_per_iteration for w in result.windows]
    if faults:
        mean = sum(faults) / len(faults)
        if mean > CHURN_FAULTS_PER_ITERATION:
            tags["green.allocator_churn"] = (
                f"detected: {mean:,.0f} page faults per iteration (threshold {CHURN_FAULTS_PER_ITERATION:,}): "
                "memory is returned to the kernel and faulted in again on every inference; the allocator shapes "
                "this number (try another allocator= value)"
            )
        else:
            tags["green.allocator_churn"] = f"none ({mean:,.0f} page faults per iteration)"
    return tags
