"""The statistics module against scipy/numpy, brute force and hand-worked examples."""

from __future__ import annotations

import dataclasses
import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from green_mlflow.report.correlation import spearman
from green_mlflow.report.stats import (
    Comparison,
    cliffs_delta,
    cohens_d,
    compare,
    holm,
    holm_correct,
    summarise,
)

TOL = 1e-9


@pytest.fixture
def strict_warnings():
    """Any warning, from numpy, scipy or us, fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _normal_pair(seed: int = 2, n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(100.0, 10.0, n), rng.normal(90.0, 8.0, n)


def test_summarise_agrees_with_numpy_and_scipy_and_ignores_none_and_nan():
    x = np.random.default_rng(0).normal(50.0, 5.0, 25)
    s = summarise([*x[:10], None, math.nan, *x[10:]])
    assert s.n == 25
    assert s.mean == pytest.approx(x.mean(), abs=TOL)
    assert s.median == pytest.approx(np.median(x), abs=TOL)
    assert s.std == pytest.approx(x.std(ddof=1), abs=TOL)
    low, high = stats.t.interval(0.95, 24, loc=x.mean(), scale=stats.sem(x))
    assert (s.ci95_low, s.ci95_high) == (pytest.approx(low, abs=TOL), pytest.approx(high, abs=TOL))


def test_summarise_of_no_values_is_all_none_and_of_one_value_has_no_spread(strict_warnings):
    assert summarise([None, math.nan]) == summarise([]) == type(summarise([]))(0, None, None, None, None, None)
    one = summarise([3.0, None])
    assert (one.n, one.mean, one.median, one.std, one.ci95_low, one.ci95_high) == (1, 3.0, 3.0, None, None, None)


def test_summarise_of_a_constant_sample_has_a_zero_width_interval(strict_warnings):
    s = summarise([2.5, 2.5, 2.5])
    assert (s.std, s.ci95_low, s.ci95_high) == (0.0, 2.5, 2.5)


def test_welch_is_chosen_for_two_normal_samples_and_agrees_with_scipy(strict_warnings):
    a, b = _normal_pair()  # seed 2: Shapiro p is 0.98 and 0.95, far from alpha
    c = compare(list(a), list(b))
    assert c.test == "welch_t" and c.effect_size_name == "cohens_d" and c.note == ""
    assert c.normality_p_a == pytest.approx(stats.shapiro(a).pvalue, abs=TOL)
    assert c.normality_p_b == pytest.approx(stats.shapiro(b).pvalue, abs=TOL)
    assert min(c.normality_p_a, c.normality_p_b) >= 0.05
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert c.statistic == pytest.approx(ref.statistic, abs=TOL) and c.statistic < 0  # b is lower
    assert c.p_value == pytest.approx(ref.pvalue, abs=TOL)
    assert c.effect_size == pytest.approx(cohens_d(a, b), abs=TOL)
    assert (c.n_a, c.n_b, c.mean_a, c.mean_b) == (30, 30, pytest.approx(a.mean()), pytest.approx(b.mean()))
    assert c.relative_diff == pytest.approx(b.mean() / a.mean() - 1, abs=TOL)


@pytest.mark.parametrize("draw", [lambda r: r.lognormal(0.0, 1.5, 30), lambda r: r.exponential(2.0, 30)])
def test_mann_whitney_is_chosen_when_a_sample_is_clearly_not_normal(strict_warnings, draw):
    rng = np.random.default_rng(7)
    a, b = rng.normal(5.0, 1.0, 30), draw(rng)
    c = compare(a, b)
    assert c.test == "mann_whitney_u" and c.effect_size_name == "cliffs_delta"
    assert c.normality_p_b == pytest.approx(stats.shapiro(b).pvalue, abs=TOL) and c.normality_p_b < 0.05
    assert "rejects normality of b" in c.note
    ref = stats.mannwhitneyu(b, a)
    assert c.statistic == pytest.approx(ref.statistic, abs=TOL)
    assert c.p_value == pytest.approx(ref.pvalue, abs=TOL)
    assert c.effect_size == pytest.approx(cliffs_delta(a, b), abs=TOL)


def test_mann_whitney_is_used_when_a_sample_is_too_small_for_shapiro(strict_warnings):
    c = compare([10.0, 11.0], [12.0, 13.5, 12.2, 14.0])
    assert c.test == "mann_whitney_u" and c.normality_p_a is None and c.normality_p_b is not None
    assert "normality cannot be checked" in c.note and "a has fewer than 3 values" in c.note
    assert c.p_value == pytest.approx(stats.mannwhitneyu([12.0, 13.5, 12.2, 14.0], [10.0, 11.0]).pvalue, abs=TOL)


def test_cliffs_delta_matches_a_brute_force_pairwise_count():
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 6, 17), rng.integers(1, 7, 23)  # small integers: many ties
    pairs = list(itertools.product(a, b))
    brute = (sum(y > x for x, y in pairs) - sum(y < x for x, y in pairs)) / len(pairs)
    assert cliffs_delta(a, b) == pytest.approx(brute, abs=TOL)
    assert cliffs_delta([1, 2], [3, 4]) == 1.0 and cliffs_delta([3, 4], [1, 2]) == -1.0


def test_cliffs_delta_is_the_mann_whitney_u_of_b_rescaled():
    rng = np.random.default_rng(4)
    a, b = rng.integers(0, 9, 12), rng.integers(0, 9, 15)
    u_b = stats.mannwhitneyu(b, a).statistic
    assert cliffs_delta(a, b) == pytest.approx(2 * u_b / (len(a) * len(b)) - 1, abs=TOL)


def test_cohens_d_follows_the_pooled_sd_formula():
    assert cohens_d([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) == pytest.approx(3.0)  # both sd 1, means 2 and 5
    a, b = _normal_pair(seed=5, n=12)
    b = b[:9]
    pooled = math.sqrt((11 * a.var(ddof=1) + 8 * b.var(ddof=1)) / 19)
    assert cohens_d(a, b) == pytest.approx((b.mean() - a.mean()) / pooled, abs=TOL)


def test_effect_sizes_and_relative_diff_agree_in_sign():
    a, b = [10.0, 11.0, 12.0, 10.5], [20.0, 21.0, 22.5, 20.2]
    assert cohens_d(a, b) > 0 and cliffs_delta(a, b) > 0 and compare(a, b).relative_diff > 0
    assert cohens_d(b, a) < 0 and cliffs_delta(b, a) < 0 and compare(b, a).relative_diff < 0


def test_effect_sizes_refuse_input_they_cannot_measure():
    with pytest.raises(ValueError, match="both samples"):
        cliffs_delta([], [1.0])
    with pytest.raises(ValueError, match="pooled sd is 0"):
        cohens_d([1.0, 1.0], [2.0, 2.0])


def test_holm_matches_a_hand_worked_example():
    # Sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> raised to 0.06 by the step-down max.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_passes_none_through_and_leaves_it_out_of_the_family():
    assert holm([0.01, None, 0.04, math.nan]) == [pytest.approx(0.02), None, pytest.approx(0.04), None]
    assert holm([]) == [] and holm([None]) == [None]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), max_size=30))
def test_holm_is_monotone_at_least_the_raw_p_and_capped_at_one(ps):
    adjusted = holm(ps)
    for (p, q), (p2, q2) in itertools.product(zip(ps, adjusted), repeat=2):
        assert p <= q <= 1.0
        if p < p2:
            assert q <= q2


def test_holm_correct_fills_p_holm_on_copies():
    rng = np.random.default_rng(9)
    ref = rng.normal(10, 1, 10)
    comparisons = [compare(ref, rng.normal(10 + shift, 1, 10)) for shift in (0.0, 0.5, 2.0)] + [compare(ref, [1.0])]
    corrected = holm_correct(comparisons)
    assert all(c.p_holm is None for c in comparisons)
    assert [c.p_holm for c in corrected] == holm([c.p_value for c in comparisons])
    assert corrected[-1].p_holm is None and corrected[0].p_holm is not None
    assert [dataclasses.replace(c, p_holm=None) for c in corrected] == comparisons


def test_relative_diff_ci95_covers_the_true_ratio_about_95_percent_of_the_time():
    rng = np.random.default_rng(11)
    draws, true_rel = 1000, 70.0 / 100.0 - 1
    covered = 0
    for _ in range(draws):
        c = compare(rng.normal(100.0, 15.0, 20), rng.normal(70.0, 10.0, 25))
        covered += abs(c.relative_diff - true_rel) <= c.relative_diff_ci95
    assert 0.92 <= covered / draws <= 0.98


@pytest.mark.parametrize(
    ("a", "b", "why"),
    [
        ([], [1.0, 2.0], "a has 0 value(s)"),
        ([1.0], [2.0, 3.0, None], "a has 1 value(s)"),
        ([1.0, math.nan, None], [2.0, math.nan], "a has 1 value(s) and b has 1 value(s)"),
        ([1.0, 1.0, 1.0], [2.0, 2.0, 2.0], "no variance: a is constant at 1 and b at 2"),
    ],
)
def test_no_test_is_run_when_none_is_possible_and_the_note_says_why(strict_warnings, a, b, why):
    c = compare(a, b)
    assert c.test is None and c.p_value is None and c.statistic is None and c.effect_size is None
    assert why in c.note


def test_identical_constant_samples_have_p_one(strict_warnings):
    c = compare([4.0] * 5, [4.0] * 6)
    assert (c.test, c.p_value, c.relative_diff, c.relative_diff_ci95) == (None, 1.0, 0.0, 0.0)
    assert c.note.startswith("no variance: both samples are constant at 4")


def test_one_constant_sample_is_not_tested_for_normality(strict_warnings):
    c = compare([0.1] * 6, [0.3, 0.2, 0.25, 0.4, 0.35, 0.3])  # 0.1 * 6 has a tiny rounding variance
    assert c.test == "mann_whitney_u" and c.normality_p_a is None and "a is constant" in c.note
    assert c.effect_size == 1.0


def test_relative_diff_is_undefined_against_a_zero_mean(strict_warnings):
    c = compare([-1.0, 1.0, 0.0], [1.0, 2.0, 3.0])
    assert c.relative_diff is None and c.relative_diff_ci95 is None and "mean of a is 0" in c.note


def test_a_scipy_warning_becomes_a_note_not_a_warning(strict_warnings):
    c = compare([1 + 1e-15, 1, 1, 1 + 2e-15], [1, 1 + 1e-15, 1, 1 + 3e-15])
    assert c.note.count("Precision loss") == 1


def test_values_too_large_for_floating_point_give_none_and_a_note(strict_warnings):
    c = compare([1e308, 1.7e308, 1.5e308], [1e308, 1.7e308, 1.2e308])
    assert c.test == "welch_t" and c.p_value is None and c.mean_a is None and "no finite p-value" in c.note


def test_alpha_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match="between 0 and 1"):
        compare([1.0, 2.0], [3.0, 4.0], alpha=5)


finite = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(finite, st.none()), max_size=12), st.lists(finite, max_size=12))
def test_compare_never_raises_warns_or_returns_nan(a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = compare(a, b)
    for f in dataclasses.fields(Comparison):
        value = getattr(c, f.name)
        assert not (isinstance(value, float) and not math.isfinite(value)), (f.name, value)
    assert c.p_value is not None or c.note  # a missing p-value is always explained


# -- Spearman at small n (docs/method.md rule 15): exact p, no interval where Fisher's z has none ------------


def _brute_force_p(x, y) -> float:
    """Two-sided permutation p by enumerating every pairing with scipy's ρ: independent of the DP."""

    observed = abs(stats.spearmanr(x, y).statistic)
    values = [abs(stats.spearmanr(x, perm).statistic) for perm in itertools.permutations(y)]
    return sum(v >= observed - 1e-12 for v in values) / len(values)


@pytest.mark.parametrize(
    ("x", "y"),
    [
        ([1, 2, 3], [1, 2, 3]),
        ([1, 2, 3, 4], [4, 3, 2, 1]),
        ([0.3, 0.1, 0.9, 0.5, 0.7], [2.0, 1.0, 5.0, 3.0, 3.5]),
        ([1, 2, 2, 3, 4, 5], [1, 3, 2, 2, 5, 4]),  # ties on both sides
        ([5, 1, 4, 2, 6, 3, 7], [2, 1, 6, 3, 5, 4, 7]),
    ],
)
def test_spearman_p_at_small_n_is_the_exact_permutation_p(x, y):
    result = spearman(x, y)
    assert result.p_value == pytest.approx(_brute_force_p(x, y), abs=1e-12)
    assert result.p_method == f"exact permutation ({len(x)}! orderings)"


def test_a_perfect_rank_correlation_over_3_or_4_series_is_not_p_zero_and_has_no_interval():
    three, four = spearman([1, 2, 3], [10, 20, 30]), spearman([1, 2, 3, 4], [1, 2, 3, 4])
    assert three.p_value == pytest.approx(1 / 3) and four.p_value == pytest.approx(1 / 12)
    assert stats.spearmanr([1, 2, 3], [10, 20, 30]).pvalue == 0.0  # what the asymptotic test prints
    assert (three.ci95_low, three.ci95_high, four.ci95_low, four.ci95_high) == (None, None, None, None)
    assert "n >= 4" in three.note and "undefined at ρ = +1" in four.note


def test_spearman_at_10_agrees_with_a_permutation_test_and_above_10_uses_scipys_t_approximation():
    rng = np.random.default_rng(3)
    x = rng.normal(size=10)
    y = x + rng.normal(scale=1.5, size=10)
    exact = spearman(x, y)
    reference = stats.permutation_test(
        (y,), lambda v: stats.spearmanr(x, v).statistic, permutation_type="pairings", n_resamples=20000, random_state=1
    )
    assert exact.p_value == pytest.approx(reference.pvalue, abs=0.012)  # Monte Carlo: ±3 SE at p ~ 0.1
    x12, y12 = rng.normal(size=12), rng.normal(size=12)
    big = spearman(x12, y12)
    assert (
        big.p_value == pytest.approx(stats.spearmanr(x12, y12).pvalue, abs=1e-12) and big.p_method == "t approximation"
    )
    assert big.ci95_low is not None and big.ci95_low < big.rho < big.ci95_high
