"""The study engine's error rates, measured on whole adaptive sweeps run through the sweep's own planning code.

``tests/helpers/sweep_sim.py`` drives ``AdaptiveSweep.first_round`` / ``next_round`` (only MLflow replaced by
pre-drawn synthetic runs) and judges every final answer and claim against the known truth. A few hundred
seeded sweeps per case: each rate must stay within its target plus 3 Monte-Carlo standard errors (the SE at
the target), so a rule that is off by a few points can pass here; ``benchmarks/study_error_rates.py`` runs
5,000 sweeps per case. The last test shows that the check fails a rule whose level is too high.
"""

from __future__ import annotations

import numpy as np
import pytest

from green_mlflow.study.design import AdaptiveSettings
from tests.helpers import sweep_sim as sim

SEED = 20260101
TARGET = 0.05


def _within(stats: sim.CaseStats, rate: tuple[float, float]) -> None:
    limit = sim.bound(TARGET, stats.sweeps)
    assert rate[0] <= limit, (
        f"{stats.case.name}: {rate[0]:.2%} ± {rate[1]:.2%} over {stats.sweeps} sweeps > {limit:.2%}"
    )


def test_a_simulated_sweep_is_planned_and_decided_by_the_sweeps_own_code():
    result = sim.run_sweep(sim.four_equal("normal").specs, "normal", seed=SEED, index=3)
    assert result.family_size == 6 and len(result.verdicts) == 6  # the six pairs of four series, one family
    assert result.level == pytest.approx(0.05 / 6)
    assert {(v.a, v.b) for v in result.verdicts} | {(v.b, v.a) for v in result.verdicts} >= {
        ("torch", "tf"), ("mxnet", "onnx (from torch)"), ("tf", "onnx (from torch)"),
    }  # fmt: skip
    assert all(3 <= n <= 10 for n in result.reps.values()) and result.rounds >= 1
    assert result.stopped in ("every question decided", "max_repetitions reached")
    for v in result.verdicts:  # the answer read as many runs as the sweep ran for each of its series
        assert (v.n_a, v.n_b) == (result.reps[v.a], result.reps[v.b]) or v.verdict != "open"
    again = sim.run_sweep(sim.four_equal("normal").specs, "normal", seed=SEED, index=3)
    assert again == result  # seeded


def test_the_runs_carry_the_drawn_values_on_the_metric_the_report_ranks_on():
    case = sim.power("normal", 1.3)
    rng = np.random.default_rng(0)
    values = sim.draw(case.specs, "normal", 10, rng)
    spec = case.specs[1]
    run = sim.job_run(spec, 4, float(values[spec.config_hash][4]), 7)
    assert run.metrics[sim.BASIS] == pytest.approx(values[spec.config_hash][4], rel=1e-12)
    assert (run.runtime_label, run.repetition, run.config_hash, run.finished) == ("tf", 4, spec.config_hash, True)
    assert run.methods["cpu"] == "estimated"


@pytest.mark.parametrize("noise", sim.NOISES)
def test_noise_laws_have_the_mean_and_cv_asked_for(noise):
    x = sim.factors(noise, 0.05, 400_000, np.random.default_rng(1))
    assert x.mean() == pytest.approx(1.0, abs=5e-4)
    assert x.std() == pytest.approx(0.05, rel=0.03)


def test_a_sweep_with_false_declared_hypotheses_decides_every_claim_and_repeats_for_the_open_ones():
    case = sim.false_claims("normal")
    result = sim.run_sweep(case.specs, case.noise, declared=case.declared(), seed=SEED, index=0)
    assert set(result.claims) == {"H1", "H2", "H3", "H4", "H5"}
    assert set(result.claims.values()) <= {"supported", "contradicted", "inconclusive"}  # every one measured
    if "inconclusive" in result.claims.values():  # an open claim repeats its series to the cap
        assert result.stopped == "max_repetitions reached" and set(result.reps.values()) == {10}


@pytest.mark.parametrize("noise", sim.NOISES)
def test_four_equal_series_rarely_give_a_false_difference(noise):
    """(a) six pair questions, no true difference: sweeps with any false "lower"/"higher" <= 5 %."""
    stats = sim.simulate(sim.four_equal(noise), 150, SEED)
    _within(stats, stats.any_verdict("false_difference"))


@pytest.mark.parametrize("noise", sim.NOISES)
def test_one_quiet_and_one_noisy_series_rarely_give_a_false_difference(noise):
    """(b) CV 1 % against CV 8 %, no true difference: "lower"/"higher" <= 5 %."""
    stats = sim.simulate(sim.unequal_noise(noise), 250, SEED)
    _within(stats, stats.any_verdict("false_difference"))


@pytest.mark.parametrize("noise", sim.NOISES)
def test_a_pair_exactly_at_the_margin_is_rarely_called_equivalent(noise):
    """(c) b = 1.05 a: "equivalent" <= 5 %."""
    stats = sim.simulate(sim.at_margin(noise, ratio=1.05), 250, SEED)
    _within(stats, stats.any_verdict_word(["equivalent"]))


def test_false_declared_hypotheses_are_rarely_supported():
    """(d) five hypotheses, each false at its boundary, under adaptive stopping: any "supported" <= 5 %."""
    stats = sim.simulate(sim.false_claims("normal"), 120, SEED)
    _within(stats, stats.any_claim("supported"))
    _within(stats, stats.fraction(lambda r: any(s in ("supported", "contradicted") for s in r.claims.values())))


def test_a_large_difference_is_found_as_often_as_by_the_fixed_test_with_fewer_repetitions():
    """(e) b = 1.30 a at CV 5 %: the adaptive sweep decides it (the right way) nearly always, as the fixed
    10-repetition test of the same draws does, and stops after 3 or 4 repetitions per series."""
    stats = sim.simulate(sim.power("normal", 1.30), 100, SEED)
    adaptive, _ = stats.any_verdict("correct_difference")
    fixed, _ = stats.any_verdict("correct_difference", fixed=True)
    assert adaptive >= 0.95 and fixed >= 0.95
    assert np.median(stats.reps()) <= 4 and all(len(r.fixed) == 1 and r.fixed[0].n_a == 10 for r in stats.results)


def test_the_check_fails_a_rule_whose_level_is_too_high():
    """The same check on sweeps whose questions are decided at alpha = 0.25: far above 5 % + 3 SE."""
    case = sim.unequal_noise("normal")
    loose = sim.Case(case.name + ", alpha 0.25", case.specs, case.noise, settings=AdaptiveSettings(alpha=0.25))
    stats = sim.simulate(loose, 100, SEED)
    with pytest.raises(AssertionError, match="sweeps >"):
        _within(stats, stats.any_verdict("false_difference"))
