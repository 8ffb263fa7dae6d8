"""The one estimate (study/estimate.py) against statsmodels at small n, and the level Hsu's df keeps where
Welch-Satterthwaite's does not (3 vs 3, one side eight times noisier)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from green_mlflow.study.estimate import Estimate, estimate, hsu_df, point


@pytest.mark.parametrize("n_a, n_b", [(3, 3), (3, 5), (4, 10), (10, 10)])
def test_the_log_estimate_is_statsmodels_welch_difference_and_standard_error_at_hsus_df(n_a, n_b):
    rng = np.random.default_rng(n_a * 100 + n_b)
    a, b = 50 * np.exp(0.05 * rng.standard_normal(n_a)), 60 * np.exp(0.2 * rng.standard_normal(n_b))
    est = estimate(a, b)
    cm = CompareMeans(DescrStatsW(np.log(b)), DescrStatsW(np.log(a)))
    assert isinstance(est, Estimate) and est.log
    assert est.d == pytest.approx(np.log(b).mean() - np.log(a).mean(), rel=1e-12)
    assert est.se == pytest.approx(cm.std_meandiff_separatevar, rel=1e-12)
    assert est.df == hsu_df(n_a, n_b) == min(n_a, n_b) - 1
    welch_df = cm.ttest_ind(usevar="unequal")[2]
    assert est.df <= welch_df  # never more generous than Welch-Satterthwaite


def test_a_value_at_or_below_zero_uses_the_raw_scale_with_the_delta_method():
    a, b = [0.0, 2.0, 3.0], [3.0, 3.5, 2.0]
    est = estimate(a, b)
    x, y = np.array(a), np.array(b)
    ratio = y.mean() / x.mean()
    se = math.sqrt((y.var(ddof=1) / 3 + ratio**2 * x.var(ddof=1) / 3) / x.mean() ** 2)
    assert not est.log and est.d == pytest.approx(ratio - 1) and est.se == pytest.approx(se) and est.df == 2
    assert estimate([0.0, 0.0], [1.0, 2.0]) == "the mean of a is 0: a difference relative to it is undefined"


def test_too_few_values_and_constants_are_said_not_raised():
    assert estimate([1.0], [1.0, 2.0]) == "n = 1 vs 2: a variance needs at least 2 values per side"
    exact = estimate([2.0, 2.0], [3.0, 3.0])
    assert exact.se == 0 and exact.df == math.inf and exact.rel(exact.d) == pytest.approx(0.5)
    assert point([2.0], [3.0], log=True) == pytest.approx(0.5) and point([], [1.0], log=True) is None


def test_hsus_df_keeps_the_level_at_3_vs_3_with_unequal_variances_where_welchs_df_does_not():
    # No true difference; CV 1 % against 8 % (log-normal), 3 vs 3: the two-sided 5 % test's false positives.
    rng = np.random.default_rng(20261207)
    sims = 40_000
    x = np.exp(0.01 * rng.standard_normal((sims, 3)))
    y = np.exp(0.08 * rng.standard_normal((sims, 3)))
    lx, ly = np.log(x), np.log(y)
    va, vb = lx.var(axis=1, ddof=1) / 3, ly.var(axis=1, ddof=1) / 3
    t = (ly.mean(axis=1) - lx.mean(axis=1)) / np.sqrt(va + vb)
    welch_df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 2)
    welch = np.mean(2 * stats.t.sf(np.abs(t), welch_df) < 0.05)
    hsu = np.mean(2 * stats.t.sf(np.abs(t), 2) < 0.05)
    se = math.sqrt(0.05 * 0.95 / sims)
    assert welch > 0.05 + 3 * se  # the failure the estimate avoids
    assert hsu <= 0.05 + 3 * se
