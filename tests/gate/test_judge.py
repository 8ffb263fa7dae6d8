"""The gate's statistics on runs with a known answer."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from green_mlflow.gate import render
from green_mlflow.gate.judge import judge, one_sided_p
from green_mlflow.study.runs import JobRun


def runs(latency_ms: list[float], energy_j: list[float] | None = None, *, runtime="torch", hardware="cpu-a", **kw):
    """Finished job runs of one configuration; energy as the CPU estimate (no counter on these hosts)."""
    out = []
    for i, latency in enumerate(latency_ms):
        metrics = {"latency_p50_ms": latency}
        if energy_j is not None:
            metrics["energy_per_sample_net_estimated_j"] = energy_j[i]
        fields = dict(
            run_id=f"{runtime}{i:030d}",
            run_name=f"{runtime} {i}",
            parent_run_id="p" * 32,
            status="FINISHED",
            status_reason="",
            runtime=runtime,
            source="torch" if runtime == "onnx" else None,
            mode="eager",
            model="mobilenet_v2",
            batch_size="1",
            provider="cpu",
            repetition=i,
            config_hash="h",
            start_time_ms=i,
            metrics=metrics,
            methods={"cpu": "estimated"},
            details={},
            idle={},
            covers={},
            hardware=hardware,
        )
        fields.update(kw)
        out.append(JobRun(**fields))
    return out


def noisy(mean: float, n: int = 8, cv: float = 0.02, seed: int = 0) -> list[float]:
    return list(mean * (1 + cv * np.random.default_rng(seed).standard_normal(n)))


def gate(baseline, candidate, **kw):
    return judge(baseline, candidate, baseline="base", candidate="cand", **kw)


def verdicts(result) -> dict[str, str]:
    return {j.metric: j.verdict for j in result.judgements}


def test_thirty_percent_slower_and_costlier_is_a_regression():
    result = gate(runs(noisy(10), noisy(1.0, seed=1)), runs(noisy(13, seed=2), noisy(1.3, seed=3)))
    assert verdicts(result) == {"latency": "regressed", "energy": "regressed"}
    assert result.exit_code == 1 and result.outcome == "regressed"
    latency = next(j for j in result.judgements if j.metric == "latency")
    assert latency.ratio == pytest.approx(1.3, rel=0.05) and latency.ratio_ci95_low < 1.3 < latency.ratio_ci95_high
    energy = next(j for j in result.judgements if j.metric == "energy")
    assert energy.estimated and energy.quantity == "energy_per_sample_net_estimated_j"


def test_thirty_percent_faster_is_an_improvement_and_passes():
    result = gate(runs(noisy(10), noisy(1.0)), runs(noisy(7, seed=2), noisy(0.7, seed=3)))
    assert verdicts(result) == {"latency": "improved", "energy": "improved"} and result.exit_code == 0


def test_the_same_cost_is_unchanged_and_passes():
    result = gate(runs(noisy(10), noisy(1.0)), runs(noisy(10, seed=5), noisy(1.0, seed=6)), margin=0.05)
    assert verdicts(result) == {"latency": "unchanged", "energy": "unchanged"} and result.exit_code == 0


def test_a_change_inside_the_margin_is_not_a_regression():
    result = gate(runs(noisy(10, cv=0.005)), runs(noisy(10.2, cv=0.005, seed=1)), margin=0.05, metrics=("latency",))
    assert verdicts(result) == {"latency": "unchanged"}, "2 % slower with a 5 % margin"


def test_two_runs_against_two_are_inconclusive_and_the_gate_cannot_judge():
    result = gate(runs([10, 10.1]), runs([13, 13.1]), metrics=("latency",))
    [j] = result.judgements
    assert j.verdict == "inconclusive" and "too few runs" in j.note and j.p_regressed is None
    assert result.exit_code == 2 and result.outcome == "cannot judge"


def test_noise_too_large_for_the_margin_is_inconclusive_not_unchanged():
    result = gate(runs(noisy(10, n=4, cv=0.3)), runs(noisy(10.5, n=4, cv=0.3, seed=9)), metrics=("latency",))
    assert verdicts(result) == {"latency": "inconclusive"} and result.exit_code == 0


def test_series_are_matched_by_configuration_and_hardware():
    base = runs(noisy(10)) + runs(noisy(5), runtime="onnx")
    cand = runs(noisy(10, seed=3), hardware="cpu-b") + runs(noisy(5, seed=4), runtime="onnx", batch_size="64")
    result = gate(base, cand, metrics=("latency",))
    assert result.judgements == [] and result.exit_code == 2
    assert len(result.unmatched_baseline) == 2 and len(result.unmatched_candidate) == 2
    across = gate(base, cand, metrics=("latency",), across_hardware=True)
    assert [j.series for j in across.judgements] == ["mobilenet_v2 · batch 1 · cpu · torch · eager"]
    assert across.exit_code == 0


def test_failed_runs_are_not_measurements():
    failed = runs([100.0] * 3, status="FAILED")
    result = gate(runs(noisy(10)) + failed, runs(noisy(10, seed=1)), metrics=("latency",))
    assert result.judgements[0].n_baseline == 8 and verdicts(result) == {"latency": "unchanged"}


def test_no_common_energy_figure_is_said_not_guessed():
    result = gate(runs(noisy(10), noisy(1.0)), runs(noisy(10, seed=1)), metrics=("energy",))
    [j] = result.judgements
    assert j.verdict == "inconclusive" and "no energy figure" in j.note and result.exit_code == 2


def test_holm_adjusts_over_the_series():
    # ten series each 6 % slower with a 5 % margin: weak evidence each; Holm keeps the family error at alpha
    base, cand = [], []
    for k in range(10):
        base += runs(noisy(10, n=4, cv=0.01, seed=k), batch_size=str(k))
        cand += runs(noisy(10.6, n=4, cv=0.01, seed=100 + k), batch_size=str(k))
    result = gate(base, cand, metrics=("latency",))
    raw = [one_sided_p(b, c, 1.05, worse=True) for b, c in _pairs(base, cand)]
    adjusted = [j.p_regressed for j in result.judgements]
    assert len(adjusted) == 10 and all(p is not None for p in adjusted)
    assert min(adjusted) == pytest.approx(min(1.0, 10 * min(raw))), "Holm: the smallest p times the number of tests"
    assert all(a >= r for a, r in zip(sorted(adjusted), sorted(raw))), "never smaller than unadjusted"


def _pairs(base, cand):
    for k in range(10):
        yield (
            [r.metrics["latency_p50_ms"] for r in base if r.batch_size == str(k)],
            [r.metrics["latency_p50_ms"] for r in cand if r.batch_size == str(k)],
        )


def test_one_sided_p_is_small_only_beyond_the_margin():
    base = [10.0, 10.1, 9.9, 10.0]
    assert one_sided_p(base, [12.0, 12.1, 11.9, 12.0], 1.05, worse=True) < 0.001
    assert one_sided_p(base, [10.2, 10.3, 10.1, 10.2], 1.05, worse=True) > 0.5
    assert one_sided_p(base, [8.0, 8.1, 7.9, 8.0], 0.95, worse=False) < 0.001
    assert one_sided_p([10.0], [12.0], 1.05, worse=True) is None


def test_the_three_formats_carry_the_verdict():
    result = gate(runs(noisy(10)), runs(noisy(13, seed=2)), metrics=("latency",))
    assert render.text(result).startswith("REGRESSED: 1 regressed")
    md = render.markdown(result)
    assert "| ❌ regressed | mobilenet_v2 · batch 1 · cpu · torch · eager · cpu-a | latency_p50_ms |" in md
    import json

    data = json.loads(render.as_json(result))
    assert data["exit_code"] == 1 and data["judgements"][0]["verdict"] == "regressed"


def test_a_loaded_cpus_runs_slowed_by_very_different_factors_are_still_a_regression():
    # seen in the suite: two busy processes on both cores slowed six runs 4x to 230x; the raw means' variance
    # hid it (Welch p 0.11), while every run is far beyond the 25 % margin
    base = [4.8, 5.0, 5.1, 5.2, 5.4, 6.0]
    loaded = [22.6, 26.5, 30.5, 43.7, 370.1, 1216.0]
    p = one_sided_p(base, loaded, 1.25, worse=True)
    # scipy's Welch statistic on the logs, at the study's df (Hsu: min(n) − 1 = 5)
    reference = stats.ttest_ind(np.log(loaded), np.log(base) + np.log(1.25), equal_var=False, alternative="greater")
    assert p == pytest.approx(stats.t.sf(reference.statistic, 5), rel=1e-9) and p < 0.01
    assert p >= reference.pvalue
    assert one_sided_p(base, loaded, 0.75, worse=False) > 0.99
