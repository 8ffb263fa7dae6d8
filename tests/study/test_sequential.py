"""Repeated confidence intervals (study/sequential.py): boundaries against published numbers and two
independent computations, error rates of simulated adaptive sweeps against the naive repeated test, the
single-look case against scipy's Welch statistic at Hsu's df and statsmodels' TOST, and degenerate input."""

from __future__ import annotations

import math
import time
from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from green_mlflow.study.boundaries import boundaries, obf_spending, pocock_spending
from green_mlflow.study.sequential import SequentialResult, method_text, next_repetitions, sequential_compare
from tests.helpers.sequential_sim import difference_only, naive_compare, simulate

METHOD = method_text(looks=1)  # one look at information fraction 1: the fixed-sample interval
METHOD_RAW = method_text(log=False, looks=1)

SWEEPS = 2000
# Three Monte-Carlo standard errors above a nominal 5 % over SWEEPS sweeps: the rate a correct rule stays under.
BOUND = 0.05 + 3 * math.sqrt(0.05 * 0.95 / SWEEPS)


# --- boundaries -------------------------------------------------------------------------------------------


def test_five_equal_looks_give_the_published_lan_demets_obrien_fleming_boundaries():
    # ldbounds' ldBounds(seq(0.2, 1, 0.2)) and gsDesign (sfLDOF, symmetric, one-sided 0.025), two-sided 0.05
    published = (4.877, 3.357, 2.680, 2.290, 2.031)
    assert boundaries((0.2, 0.4, 0.6, 0.8, 1.0), 0.05, "obf") == pytest.approx(published, abs=0.002)


def test_five_equal_looks_give_the_published_lan_demets_pocock_boundaries():
    # ldbounds' ldBounds(seq(0.2, 1, 0.2), iuse = 2) and gsDesign (sfLDPocock, symmetric), two-sided 0.05
    published = (2.4380, 2.4268, 2.4101, 2.3966, 2.3859)
    assert boundaries((0.2, 0.4, 0.6, 0.8, 1.0), 0.05, "pocock") == pytest.approx(published, abs=0.0005)
    assert pocock_spending(1.0, 0.05) == pytest.approx(0.05, abs=1e-15)
    assert pocock_spending(0.3, 0.05) > 50 * obf_spending(0.3, 0.05)  # why a clear difference is decided at n = 3


def test_one_look_at_the_end_is_the_fixed_sample_test():
    assert boundaries((1.0,), 0.05) == pytest.approx((1.959964,), abs=1e-6)
    assert boundaries((1.0,), 0.10) == pytest.approx((1.644854,), abs=1e-6)
    assert obf_spending(1.0, 0.05) == pytest.approx(0.05, abs=1e-15)


def test_spending_is_increasing_clipped_and_zero_at_the_start():
    spent = [obf_spending(t, 0.05) for t in (0.0, 0.1, 0.3, 0.5, 0.8, 1.0, 2.0)]
    assert spent[0] == 0.0 and spent[-1] == spent[-2] == pytest.approx(0.05)
    assert all(x < y for x, y in zip(spent[:-2], spent[1:-1]))
    assert obf_spending(-1.0, 0.05) == 0.0


def test_a_look_without_new_information_repeats_the_boundary():
    c = boundaries((0.3, 0.5, 0.5, 1.0), 0.05, "obf")
    assert c[2] == c[1]
    assert c[3] == pytest.approx(boundaries((0.3, 0.5, 1.0), 0.05, "obf")[2], abs=1e-9)
    assert boundaries((0.0,), 0.05, "obf") == (37.0,)  # no information: nothing to spend, no finding possible


@pytest.mark.parametrize("alpha", [0.05, 0.10])
def test_unequal_looks_spend_alpha_by_an_independent_monte_carlo_of_brownian_motion(alpha):
    fractions = (0.3, 0.5, 0.8, 1.0)
    c = np.array(boundaries(fractions, alpha, "obf"))
    rng = np.random.default_rng(20261204)
    t = np.array(fractions)
    # Score S(t) is Brownian motion: independent N(0, Δt) increments; the look statistic is Z = S / sqrt(t).
    s = np.cumsum(rng.standard_normal((400_000, t.size)) * np.sqrt(np.diff(t, prepend=0.0)), axis=1)
    crossed = np.logical_or.accumulate(np.abs(s / np.sqrt(t)) >= c, axis=1).mean(axis=0)
    for k, f in enumerate(fractions):
        spent = obf_spending(f, alpha)
        assert abs(crossed[k] - spent) < 4 * math.sqrt(spent * (1 - spent) / 400_000) + 1e-5, (k, crossed, spent)


@pytest.mark.parametrize("alpha", [0.05, 0.10])
def test_unequal_looks_spend_alpha_by_the_gsdesign_package_integration(alpha):
    gsdesign = pytest.importorskip("gsdesign")  # its canonical-grid recursion, a port of gsDesign's C code
    fractions = (0.3, 0.5, 0.8, 1.0)
    c = boundaries(fractions, alpha, "obf")
    grid = gsdesign.h1(r=18, theta=0.0, info=fractions[0], a=-c[0], b=c[0])
    crossed = [1 - grid[2].sum()]
    for k in range(1, len(fractions)):
        grid = gsdesign.hupdate(18, 0.0, fractions[k], -c[k], c[k], 0.0, fractions[k - 1], grid)
        crossed.append(1 - grid[2].sum())  # what has not crossed yet is the mass left on the grid
    assert crossed == pytest.approx([obf_spending(f, alpha) for f in fractions], abs=2e-5)


def test_boundaries_are_cached():
    fractions = tuple(0.1 + 0.9 * k / 40 for k in range(41))
    boundaries(fractions, 0.05)
    start = time.perf_counter()
    boundaries(fractions, 0.05)
    assert time.perf_counter() - start < 0.01


# --- error rates of simulated adaptive sweeps (max_n 10, start 3, at most 4 more a round, margin 5 %, CV 3 %) ---


@pytest.mark.parametrize("spending", ["obf", "pocock"])
@pytest.mark.parametrize("noise", ["normal", "lognormal"])
def test_no_true_difference_is_found_different_at_most_alpha(noise, spending):
    rates = simulate(1.0, noise, sweeps=SWEEPS, seed=1, compare=partial(sequential_compare, spending=spending))
    print(f"\n{spending}, {noise}: no difference: different {rates.different:.2%}, equivalent {rates.equivalent:.2%}")
    assert rates.different <= BOUND


@pytest.mark.parametrize("spending", ["obf", "pocock"])
@pytest.mark.parametrize("noise", ["normal", "lognormal"])
def test_a_ratio_exactly_at_the_margin_is_called_equivalent_at_most_alpha(noise, spending):
    rates = simulate(1.05, noise, sweeps=SWEEPS, seed=2, compare=partial(sequential_compare, spending=spending))
    print(f"\n{spending}, {noise}: b = 1.05 a: equivalent {rates.equivalent:.2%}, higher {rates.higher:.2%}")
    assert rates.equivalent <= BOUND


@pytest.mark.parametrize("spending", ["obf", "pocock"])
@pytest.mark.parametrize("noise", ["normal", "lognormal"])
def test_a_difference_of_three_noise_sds_is_found_in_few_repetitions(noise, spending):
    rates = simulate(1.09, noise, sweeps=SWEEPS, seed=3, compare=partial(sequential_compare, spending=spending))
    print(
        f"\n{spending}, {noise}: b = 1.09 a: higher {rates.higher:.2%}, median n {rates.median_reps}, mean {rates.mean_reps:.2f}"
    )
    assert rates.higher >= 0.95 and rates.lower == 0
    assert rates.median_reps <= 7


@pytest.mark.parametrize("noise", ["normal", "lognormal"])
def test_testing_after_every_round_with_a_fixed_sample_test_inflates_false_differences(noise):
    # Same data, same schedule (looks at 3, 7, 10 unless a difference is found): only the statistics differ.
    naive = simulate(1.0, noise, sweeps=SWEEPS, seed=1, compare=difference_only(naive_compare))
    rci = simulate(1.0, noise, sweeps=SWEEPS, seed=1, compare=difference_only(sequential_compare))
    print(f"\n{noise}: looks 3, 7, 10: naive {naive.different:.2%}, repeated intervals {rci.different:.2%}")
    assert naive.different > BOUND  # beyond what a rule that keeps 5 % stays under
    assert rci.different <= BOUND
    assert rci.median_reps == naive.median_reps == 10


# --- one look: the classical intervals --------------------------------------------------------------------


def _lognormal_pairs(count: int, cv: float, ratios: tuple[float, ...]):
    rng = np.random.default_rng(7)
    for i in range(count):
        a = 100 * np.exp(cv * rng.standard_normal(3))
        yield a, 100 * ratios[i % len(ratios)] * np.exp(cv * rng.standard_normal(3))


def test_one_look_at_three_per_side_is_the_welch_interval_on_the_logs_at_hsus_df():
    # scipy's Welch statistic gives the standard error; the interval and p-value use Hsu's df, min(n) - 1 = 2.
    for a, b in _lognormal_pairs(20, 0.05, (1.0, 1.1, 0.8)):
        result = sequential_compare(a, b, [(3, 3)], max_n=3)
        welch = stats.ttest_ind(np.log(b), np.log(a), equal_var=False)
        diff = np.log(b).mean() - np.log(a).mean()
        se = diff / welch.statistic
        for level, low, high in ((0.95, result.ci_low_rel, result.ci_high_rel), (0.90, result.eq_low_rel, result.eq_high_rel)):  # fmt: skip
            half = stats.t.ppf(0.5 + level / 2, 2) * se
            assert (low, high) == pytest.approx((math.expm1(diff - half), math.expm1(diff + half)), rel=1e-9, abs=1e-12)
        p_hsu = 2 * stats.t.sf(abs(welch.statistic), 2)
        assert (result.verdict in ("lower", "higher")) == (p_hsu < 0.05)
        assert p_hsu >= welch.pvalue  # Hsu's df is never more lenient than Welch-Satterthwaite's
        assert result.method == METHOD and result.decided_at_look in (None, 1)


def test_one_look_equivalence_agrees_with_tost():
    margin = 0.05
    low, high = -math.log1p(margin), math.log1p(margin)  # symmetric on the log scale
    outcomes = set()
    for a, b in _lognormal_pairs(40, 0.012, (1.0, 1.02, 1.035, 0.97, 1.05)):
        result = sequential_compare(a, b, [(3, 3)], max_n=3, margin_rel=margin)
        ours = 1 / (1 + margin) < 1 + result.eq_low_rel and 1 + result.eq_high_rel < 1 + margin
        from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

        # statsmodels' Welch TOST with its standard error, at Hsu's df: the two one-sided p-values by hand
        cm = CompareMeans(DescrStatsW(np.log(b)), DescrStatsW(np.log(a)))
        se = cm.std_meandiff_separatevar
        diff = np.log(b).mean() - np.log(a).mean()
        p_tost = max(stats.t.sf((diff - low) / se, 2), stats.t.cdf((diff - high) / se, 2))
        assert ours == (p_tost < 0.05)
        if ours:  # Hsu's df is the stricter: what it calls equivalent, Welch's df does too
            assert cm.ttost_ind(low, high, usevar="unequal")[0] < 0.05
        assert (result.verdict == "equivalent") == (ours and result.verdict not in ("lower", "higher"))
        outcomes.add(ours)
    assert outcomes == {True, False}  # the data exercise both decisions


def test_raw_scale_single_look_is_the_delta_method_interval_of_stats():
    a, b = [0.0, 2.0, 3.0, 2.5], [3.0, 3.5, 2.0, 4.0]  # a zero: no log scale
    result = sequential_compare(a, b, [(4, 4)], max_n=4)
    x, y = np.array(a), np.array(b)
    ratio = y.mean() / x.mean()  # delta method: Var R ~ (s_b²/n_b + R² s_a²/n_a) / mean_a²
    se = math.sqrt((y.var(ddof=1) / 4 + ratio**2 * x.var(ddof=1) / 4) / x.mean() ** 2)
    assert result.method == METHOD_RAW
    assert result.delta_rel == pytest.approx(ratio - 1, rel=1e-12)
    half = (result.ci_high_rel - result.ci_low_rel) / 2
    assert half == pytest.approx(stats.t.ppf(0.975, 3) * se, rel=1e-9)


# --- sequential behaviour -----------------------------------------------------------------------------------


def test_the_verdict_is_that_of_the_first_deciding_look():
    rng = np.random.default_rng(11)
    a, b = 100 * (1 + 0.03 * rng.standard_normal(10)), 112 * (1 + 0.03 * rng.standard_normal(10))
    decided = sequential_compare(a, b, [(3, 3), (7, 7)], max_n=10)
    assert decided.verdict == "higher" and decided.decided_at_look == 2 and (decided.n_a, decided.n_b) == (7, 7)
    later = sequential_compare(a, b, [(3, 3), (7, 7), (10, 10)], max_n=10)
    assert later.looks == 3 and later.decided_at_look == 2 and later.ci_low_rel == decided.ci_low_rel
    assert "excludes 0" in later.reason and later.n_needed is None
    assert next_repetitions(later, 10, 10, 4) == 0


def test_an_early_look_is_wider_than_the_same_data_at_the_last_look():
    rng = np.random.default_rng(5)
    a, b = 100 * (1 + 0.03 * rng.standard_normal(5)), 100 * (1 + 0.03 * rng.standard_normal(5))
    early = sequential_compare(a, b, [(5, 5)], max_n=20)
    final = sequential_compare(a, b, [(5, 5)], max_n=5)
    assert early.ci_low_rel < final.ci_low_rel and early.ci_high_rel > final.ci_high_rel
    assert early.delta_rel == final.delta_rel


def test_an_open_question_estimates_how_many_repetitions_would_decide_it():
    rng = np.random.default_rng(3)
    a, b = 100 * (1 + 0.03 * rng.standard_normal(3)), 101 * (1 + 0.03 * rng.standard_normal(3))
    result = sequential_compare(a, b, [(3, 3)], max_n=10)
    assert result.verdict == "open" and result.decided_at_look is None
    assert result.n_needed is not None and result.n_needed >= 4
    assert "margin" in result.reason and "per side would decide it" in result.reason
    assert 1 <= next_repetitions(result, 3, 10, 4) <= 4
    assert next_repetitions(result, 3, 10, 4) == min(4, max(1, result.n_needed - 3))
    assert next_repetitions(result, 9, 10, 4) == 1  # never beyond max_n
    assert next_repetitions(result, 10, 10, 4) == 0


def test_open_at_max_n_says_inconclusive():
    a = [100.0, 103.0, 97.0, 101.0, 99.0]
    b = [104.0, 100.0, 108.0, 99.0, 106.0]
    result = sequential_compare(a, b, [(3, 3), (5, 5)], max_n=5)
    assert result.verdict == "open" and "inconclusive" in result.reason
    assert next_repetitions(result, 5, 5, 4) == 0


def test_next_repetitions_without_an_estimate_runs_the_cap():
    result = sequential_compare([1.0], [2.0], [(1, 1)], max_n=10)
    assert result.n_needed is None
    assert next_repetitions(result, 1, 10, 4) == 4
    assert next_repetitions(result, 8, 10, 4) == 2
    assert next_repetitions(result, 1, 10, 0) == 1  # an open question always gets at least one more


def test_both_inside_the_margin_and_different_is_reported_as_the_difference():
    a = [100.0, 100.2, 99.8, 100.1, 99.9, 100.0, 100.1, 99.9, 100.0, 100.0]
    b = [v * 1.02 for v in a[::-1]]
    result = sequential_compare(a, b, [(10, 10)], max_n=10)
    assert result.verdict == "higher" and "excludes 0" in result.reason
    assert result.delta_rel == pytest.approx(0.02, abs=1e-3)


# --- degenerate input ---------------------------------------------------------------------------------------


def _no_nan(result: SequentialResult) -> None:
    for name in ("delta_rel", "ci_low_rel", "ci_high_rel", "eq_low_rel", "eq_high_rel", "margin_rel"):
        value = getattr(result, name)
        assert value is None or math.isfinite(value), (name, value)
    assert result.verdict in ("lower", "higher", "equivalent", "open") and result.reason


def test_one_value_per_side_is_open_with_no_variance():
    result = sequential_compare([10.0], [11.0], [(1, 1)], max_n=10)
    _no_nan(result)
    assert result.verdict == "open" and result.reason == "n = 1 per side: no variance yet"
    assert result.delta_rel == pytest.approx(0.1) and result.ci_low_rel is None
    uneven = sequential_compare([10.0, 11.0], [11.0], [(2, 1)], max_n=10)
    assert uneven.verdict == "open" and "at least 2 values per side" in uneven.reason


def test_constant_samples_give_the_exact_ratio():
    different = sequential_compare([5.0] * 3, [6.0] * 3, [(3, 3)], max_n=10)
    assert different.verdict == "higher" and different.delta_rel == pytest.approx(0.2) and "exact" in different.reason
    close = sequential_compare([5.0] * 3, [5.1] * 3, [(3, 3)], max_n=10)
    assert close.verdict == "higher" and "inside the ±5 % margin" in close.reason
    same = sequential_compare([5.0] * 3, [5.0] * 3, [(3, 3)], max_n=10)
    assert same.verdict == "equivalent" and same.delta_rel == 0
    lower = sequential_compare([0.0, 0.0], [-1.0, -1.0], [(2, 2)], max_n=10)  # raw scale, mean of a is 0
    assert lower.verdict == "open" and "mean of a is 0" in lower.reason
    for result in (different, close, same, lower):
        _no_nan(result)


def test_zeros_and_negatives_use_the_raw_scale():
    result = sequential_compare([-1.0, -2.0, -3.0], [1.0, 2.0, 3.0], [(3, 3)], max_n=10)
    _no_nan(result)
    assert result.method == method_text(log=False) and result.delta_rel == pytest.approx(2.0)  # (2 − (−2)) / |−2|
    zeros = sequential_compare([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [(3, 3)], max_n=10)
    _no_nan(zeros)
    assert zeros.verdict == "open" and zeros.method == method_text(log=False)


def test_missing_values_and_no_looks():
    _no_nan(sequential_compare([1.0, float("nan"), None, 2.0], [1.0, float("inf"), 2.0, 3.0], [(4, 4)], max_n=10))
    empty = sequential_compare([], [], [], max_n=10)
    assert empty.verdict == "open" and empty.looks == 0 and empty.reason == "no look taken yet"
    beyond = sequential_compare([1.0, 2.0], [1.0, 2.0], [(5, 5)], max_n=10)  # a look past the data uses what is there
    assert beyond.n_a == 2


def test_two_values_with_one_degree_of_freedom_early_give_finite_intervals():
    result = sequential_compare([1.0, 1000.0], [2.0, 1.0], [(2, 2)], max_n=100)
    _no_nan(result)
    assert result.verdict == "open" and result.ci_low_rel >= -1 and result.ci_high_rel > 1


def test_parameters_out_of_range_raise():
    for kwargs in ({"alpha": 0.5}, {"alpha": 0.0}, {"margin_rel": 0.0}, {"margin_rel": 1.0}, {"max_n": 1}):
        with pytest.raises(ValueError):
            sequential_compare([1.0, 2.0], [1.0, 2.0], [(2, 2)], **{"max_n": 10, **kwargs})


values = st.lists(st.floats(-1e6, 1e6) | st.sampled_from([math.nan, math.inf, -math.inf, 0.0, None]), max_size=8)


@settings(max_examples=200, deadline=None)
@given(values, values, st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=4), st.integers(2, 12))
def test_never_raises_and_never_gives_nan(a, b, looks, max_n):
    looks = sorted(looks)
    result = sequential_compare(a, b, looks, max_n)
    _no_nan(result)
    n = min(result.n_a, result.n_b)
    assert 0 <= next_repetitions(result, n, max_n, 4) <= max(0, min(4, max_n - n))
