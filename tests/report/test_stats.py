"""The statistics module against scipy/numpy, brute force and hand-worked examples."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from green_mlflow.study.correlation import spearman
from green_mlflow.study.summary import holm, summarise

TOL = 1e-9


@pytest.fixture
def strict_warnings():
    """Any warning, from numpy, scipy or us, fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


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


def test_fisher_bounds_agree_with_the_95_interval_and_cover_as_stated_by_simulation():
    """The one-sided bounds P9 is decided by: at level 0.025 they are the 95 % interval ``spearman`` reports; by
    simulation (bivariate normal whose Spearman ρ is 0.9, n = 12 and n = 30) the lower bound at 5 % lies below
    the true ρ in about 95 % of samples — checked against the data, not against the formula. At n = 3 there is
    no bound; at ρ = 1 the bound is that of the nearest attainable ρ."""
    from green_mlflow.study.correlation import fisher_bounds

    x, y = [1.0, 2, 3, 4, 5, 6, 7, 8], [2.0, 1, 4, 3, 6, 5, 8, 7]
    r = spearman(x, y)
    low, high = fisher_bounds(r.rho, r.n, 0.025)
    assert (low, high) == pytest.approx((r.ci95_low, r.ci95_high))
    assert fisher_bounds(1.0, 3, 0.05) is None
    nearest = 1 - 12 / (8 * 63)
    assert fisher_bounds(1.0, 8, 0.05) == pytest.approx(fisher_bounds(nearest, 8, 0.05))
    rng = np.random.default_rng(7)
    true_rho = 0.9
    pearson = 2 * math.sin(math.pi * true_rho / 6)  # Spearman's ρ of a bivariate normal is (6/π) asin(r/2)
    cov = [[1.0, pearson], [pearson, 1.0]]
    for n in (12, 30):
        samples = rng.multivariate_normal([0, 0], cov, size=(2000, n))
        ranks = samples.argsort(axis=1).argsort(axis=1).astype(float)
        rx, ry = (
            ranks[..., 0] - ranks[..., 0].mean(1, keepdims=True),
            ranks[..., 1] - ranks[..., 1].mean(1, keepdims=True),
        )
        rhos = (rx * ry).sum(1) / np.sqrt((rx**2).sum(1) * (ry**2).sum(1))
        assert stats.spearmanr(samples[0, :, 0], samples[0, :, 1]).statistic == pytest.approx(rhos[0])
        covered = np.mean([fisher_bounds(float(r), n, 0.05)[0] <= true_rho for r in rhos])
        assert 0.93 <= covered <= 0.99, (n, covered)
