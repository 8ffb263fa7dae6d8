"""Simulated adaptive sweeps of two series, for the error rates of ``green_mlflow.report.sequential``.

One sweep does what the sweep does with a question "is b different from a, or equivalent within ±margin?":
both series start with ``start`` repetitions, and after each round ``sequential_compare`` looks at everything
so far and ``next_repetitions`` says how many more to run, until the question is decided or both series
reach ``max_n``. The same driver runs the naive rule (a fixed-sample Welch interval at each look, as if that
look were the only one) so that the two differ only in the statistics. Used by
``tests/report/test_sequential.py`` and ``benchmarks/sequential_error_rates.py``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from green_mlflow.study.sequential import SequentialResult, next_repetitions, sequential_compare

Compare = Callable[[Sequence[float], Sequence[float], Sequence[tuple[int, int]], int, float, float], SequentialResult]


def naive_compare(
    a: Sequence[float], b: Sequence[float], looks: Sequence[tuple[int, int]], max_n: int, margin: float, alpha: float
) -> SequentialResult:
    """The fixed-sample rule at the last look only: one look at information fraction 1 is the classical Welch
    interval (95 % for the difference, 90 % for TOST), which is what testing after every round does."""
    n_a, n_b = looks[-1]
    return sequential_compare(a, b, [(n_a, n_b)], max(2, n_a, n_b), margin, alpha)


def difference_only(compare: Compare) -> Compare:
    """The rule with no stop for equivalence and a fixed schedule: an "equivalent" look stays open, and an open
    look has no ``n_needed``, so the next round runs ``cap`` more. Every sweep that finds no difference takes
    the whole schedule start, start + cap, …, max_n, which the data do not change: "p < 0.05 at each look,
    stop at the first" over a planned schedule."""

    def only(
        a: Sequence[float],
        b: Sequence[float],
        looks: Sequence[tuple[int, int]],
        max_n: int,
        margin: float,
        alpha: float,
    ) -> SequentialResult:
        result = compare(a, b, looks, max_n, margin, alpha)
        if result.verdict in ("lower", "higher"):
            return result
        return dataclasses.replace(result, verdict="open", decided_at_look=None, n_needed=None)

    return only


def samples(ratio: float, noise: str, cv: float, sweeps: int, max_n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(sweeps, max_n) values of a (mean 1) and b (mean ``ratio``), both with coefficient of variation ``cv``.

    ``normal``: mean × (1 + cv Z). ``lognormal``: mean × exp(σ Z − σ²/2) with σ² = log(1 + cv²), right-skewed
    with the same mean and CV. The same noise law and CV for both series: a slower runtime is noisier in
    proportion.
    """
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((2, sweeps, max_n))
    if noise == "normal":
        base = 1 + cv * z
    elif noise == "lognormal":
        sigma = math.sqrt(math.log1p(cv**2))
        base = np.exp(sigma * z - sigma**2 / 2)
    else:
        raise ValueError(f"noise is normal or lognormal, got {noise!r}")
    return base[0], ratio * base[1]


@dataclass(frozen=True)
class SweepStats:
    """Outcomes of simulated sweeps: rates are fractions of ``sweeps``; repetitions are per side at the end."""

    sweeps: int
    lower: float
    higher: float
    equivalent: float
    open: float
    reps: np.ndarray  # repetitions per side each sweep ran

    @property
    def different(self) -> float:
        return self.lower + self.higher

    @property
    def decided(self) -> float:
        return 1 - self.open

    @property
    def median_reps(self) -> float:
        return float(np.median(self.reps))

    @property
    def mean_reps(self) -> float:
        return float(np.mean(self.reps))


def sweep(
    a: np.ndarray,
    b: np.ndarray,
    compare: Compare = sequential_compare,
    start: int = 3,
    cap: int = 4,
    margin: float = 0.05,
    alpha: float = 0.05,
) -> tuple[str, int]:
    """One adaptive sweep over the pre-drawn values ``a``, ``b`` (length max_n): its verdict and n per side."""
    max_n = len(a)
    n, looks = start, []
    while True:
        looks.append((n, n))
        result = compare(a, b, looks, max_n, margin, alpha)
        more = next_repetitions(result, n, max_n, cap)
        if more == 0:
            return result.verdict, n
        n += more


def simulate(
    ratio: float,
    noise: str,
    cv: float = 0.03,
    sweeps: int = 2000,
    max_n: int = 10,
    seed: int = 0,
    compare: Compare = sequential_compare,
    start: int = 3,
    cap: int = 4,
    margin: float = 0.05,
    alpha: float = 0.05,
) -> SweepStats:
    """``sweeps`` seeded sweeps of b (true mean ratio ``ratio``) against a; the same seed gives the same data
    to every rule, so rules can be compared sweep by sweep."""
    xs, ys = samples(ratio, noise, cv, sweeps, max_n, seed)
    verdicts, reps = [], np.empty(sweeps, dtype=int)
    for i in range(sweeps):
        verdict, reps[i] = sweep(xs[i], ys[i], compare, start, cap, margin, alpha)
        verdicts.append(verdict)
    counts = {v: verdicts.count(v) / sweeps for v in ("lower", "higher", "equivalent", "open")}
    return SweepStats(sweeps, reps=reps, **counts)
