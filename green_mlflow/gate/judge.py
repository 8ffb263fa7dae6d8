"""The regression gate's statistics: match series of two selections and judge each, with a verdict.

A *series* is one configuration (model, batch size, provider, runtime — ``onnx (from torch)`` counts as its
own —, mode) on one hardware; its runs are the repetitions. For each series present on both sides and each
metric asked for (``latency``: the p50 latency per batch; ``energy``: the energy per sample, the best quantity
both sides have, measured before estimated, net before gross), the candidate is compared with the baseline:

- the ratio candidate / baseline (geometric means; the study's one estimate, ``study.estimate``: logs, Welch
  SE, Hsu's df), with a 95 % interval;
- *regressed*: a one-sided Welch test rejects "the candidate's mean is at most (1 + margin) × the baseline's"
  (Holm-adjusted over every series and metric judged);
- *improved*: a one-sided Welch test rejects "at least (1 − margin) × the baseline's" (Holm-adjusted too);
- *unchanged*: otherwise, a TOST puts the difference within ± margin × the baseline's mean;
- *inconclusive*: none of these, or fewer than ``min_runs`` runs on a side (then no test is run).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats as sps

from green_mlflow.study.estimate import estimate
from green_mlflow.study.groups import BASES, Quantity
from green_mlflow.study.runs import JobRun
from green_mlflow.study.summary import holm

LATENCY = Quantity("latency_p50_ms", "p50 latency per batch", "ms", energy=False)
ENERGY_QUANTITIES = tuple(q for q in BASES if q.energy)
METRICS = ("latency", "energy")
VERDICTS = ("regressed", "improved", "unchanged", "inconclusive")


@dataclass
class Judgement:
    """One series and metric: baseline against candidate, and the verdict."""

    series: str
    metric: str  # latency | energy
    quantity: str  # the logged metric compared (e.g. energy_per_sample_net_estimated_j)
    estimated: bool
    n_baseline: int
    n_candidate: int
    mean_baseline: float | None = None
    mean_candidate: float | None = None
    ratio: float | None = None  # candidate / baseline
    ratio_ci95_low: float | None = None
    ratio_ci95_high: float | None = None
    p_regressed: float | None = None  # Holm-adjusted
    p_improved: float | None = None  # Holm-adjusted
    p_equivalent: float | None = None  # TOST within ± margin
    verdict: str = "inconclusive"
    note: str = ""


@dataclass
class GateResult:
    baseline: str
    candidate: str
    margin: float
    alpha: float
    judgements: list[Judgement] = field(default_factory=list)
    unmatched_baseline: list[str] = field(default_factory=list)
    unmatched_candidate: list[str] = field(default_factory=list)

    @property
    def judged(self) -> list[Judgement]:
        return [j for j in self.judgements if j.n_baseline and j.n_candidate and j.p_regressed is not None]

    @property
    def exit_code(self) -> int:
        """0: nothing regressed; 1: something did; 2: nothing could be judged (no match, too few runs)."""
        if any(j.verdict == "regressed" for j in self.judgements):
            return 1
        return 0 if self.judged else 2

    @property
    def outcome(self) -> str:
        return {0: "passed", 1: "regressed", 2: "cannot judge"}[self.exit_code]

    def to_dict(self) -> dict:
        return {**asdict(self), "exit_code": self.exit_code, "outcome": self.outcome}


def series_key(run: JobRun, across_hardware: bool) -> str:
    parts = [run.model, f"batch {run.batch_size}", run.provider, run.runtime_label, run.mode]
    if not across_hardware:
        parts.append(run.hardware or "unknown hardware")
    return " · ".join(parts)


def _by_series(runs: Iterable[JobRun], across_hardware: bool) -> dict[str, list[JobRun]]:
    out: dict[str, list[JobRun]] = {}
    for run in runs:
        if run.finished:
            out.setdefault(series_key(run, across_hardware), []).append(run)
    return out


def _values(runs: list[JobRun], metric: str) -> list[float]:
    return [r.metrics[metric] for r in runs if metric in r.metrics and math.isfinite(r.metrics[metric])]


def _quantity(metric: str, baseline: list[JobRun], candidate: list[JobRun]) -> Quantity | None:
    """The quantity both sides logged in every run (energy: the best one, never measured against estimated)."""
    if metric == "latency":
        return LATENCY
    for quantity in ENERGY_QUANTITIES:
        a, b = _values(baseline, quantity.metric), _values(candidate, quantity.metric)
        if len(a) == len(baseline) and len(b) == len(candidate) and min(a + b) > 0:
            return quantity
    return None


def one_sided_p(baseline: list[float], candidate: list[float], factor: float, worse: bool) -> float | None:
    """The one-sided test of the candidate against ``factor`` × the baseline, from the study's one estimate
    (``study.estimate``: logs, Welch SE, Hsu's df; the raw scale where a value is <= 0): p of H0 "candidate <=
    factor × baseline" (``worse``) or "candidate >= factor × baseline" (not ``worse``). Logs, because a
    slowed-down run is slowed by a factor: on a loaded CPU one run at 40× and the others at 5× would make the
    raw means' variance hide a regression every run shows."""
    est = estimate(baseline, candidate)
    if isinstance(est, str):
        return None
    shift = est.on_scale(factor - 1)
    if est.se == 0:
        return 0.0 if (est.d > shift if worse else est.d < shift) else 1.0
    t = (est.d - shift) / est.se
    return float(sps.t.sf(t, est.df) if worse else sps.t.cdf(t, est.df))


def _judge_one(name: str, metric: str, base: list[JobRun], cand: list[JobRun], margin: float, min_runs: int):
    quantity = _quantity(metric, base, cand)
    if quantity is None:
        return Judgement(name, metric, "", False, len(base), len(cand), note="no energy figure both sides logged")
    a, b = _values(base, quantity.metric), _values(cand, quantity.metric)
    judgement = Judgement(name, metric, quantity.metric, quantity.estimated, len(a), len(b))
    judgement.mean_baseline = float(np.mean(a)) if a else None
    judgement.mean_candidate = float(np.mean(b)) if b else None
    if len(a) < min_runs or len(b) < min_runs:
        judgement.note = f"too few runs to judge: {len(a)} vs {len(b)}; the gate needs {min_runs} on each side"
        return judgement, None, None
    est = estimate(a, b)
    if not isinstance(est, str):
        half = float(sps.t.ppf(0.975, est.df)) * est.se if est.se > 0 else 0.0
        judgement.ratio = 1 + est.rel(est.d)
        judgement.ratio_ci95_low, judgement.ratio_ci95_high = 1 + est.rel(est.d - half), 1 + est.rel(est.d + half)
        # TOST within ± margin: the larger of the two one-sided p-values
        above = one_sided_p(a, b, 1 - margin, worse=True)
        below = one_sided_p(a, b, 1 + margin, worse=False)
        judgement.p_equivalent = None if above is None or below is None else max(above, below)
    return judgement, one_sided_p(a, b, 1 + margin, worse=True), one_sided_p(a, b, 1 - margin, worse=False)


def judge(
    baseline_runs: Iterable[JobRun],
    candidate_runs: Iterable[JobRun],
    *,
    baseline: str,
    candidate: str,
    margin: float = 0.05,
    alpha: float = 0.05,
    metrics: tuple[str, ...] = METRICS,
    min_runs: int = 3,
    across_hardware: bool = False,
) -> GateResult:
    """Match the two selections' series and judge each (see the module's docstring)."""
    if not 0 < margin < 1:
        raise ValueError(f"the regression margin is a fraction of the baseline's mean in (0, 1), got {margin}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha is a significance level in (0, 1), got {alpha}")
    base, cand = _by_series(baseline_runs, across_hardware), _by_series(candidate_runs, across_hardware)
    result = GateResult(baseline, candidate, margin, alpha)
    result.unmatched_baseline = sorted(set(base) - set(cand))
    result.unmatched_candidate = sorted(set(cand) - set(base))
    tested = []
    for name in sorted(set(base) & set(cand)):
        for metric in metrics:
            judged = _judge_one(name, metric, base[name], cand[name], margin, min_runs)
            if isinstance(judged, Judgement):
                result.judgements.append(judged)
                continue
            judgement, p_worse, p_better = judged
            result.judgements.append(judgement)
            if p_worse is not None:
                tested.append((judgement, p_worse, p_better))
    worse = holm([t[1] for t in tested])
    better = holm([t[2] for t in tested])
    for (judgement, _, _), p_worse, p_better in zip(tested, worse, better):
        judgement.p_regressed, judgement.p_improved = p_worse, p_better
        judgement.verdict = _verdict(judgement, alpha)
    return result


def _verdict(j: Judgement, alpha: float) -> str:
    if j.p_regressed is not None and j.p_regressed < alpha:
        return "regressed"
    if j.p_improved is not None and j.p_improved < alpha:
        return "improved"
    if j.p_equivalent is not None and j.p_equivalent < alpha:
        return "unchanged"
    if not j.note:
        j.note = "neither worse, better nor within the margin at this alpha: more runs would tell"
    return "inconclusive"
