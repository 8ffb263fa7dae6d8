"""What a verdict guarantees: the error rate controlled over a family of comparisons, not per comparison.

A report is read as a whole: six comparisons at 5 % each, all without a true difference, give up to 26 %
chance of at least one false finding. So each comparison of a family is decided at ``alpha / size``
(Bonferroni's split), and the chance of any false verdict in the family — a false "lower"/"higher" where
there is no difference, a false "equivalent" where the difference reaches the margin — stays at most
``alpha``, however the sweep stopped: each comparison's repeated confidence intervals (``sequential``) hold
at every look at once, and Bonferroni needs no independence between comparisons.

Why the split and not Holm's step-down: a comparison here tests two hypotheses (no difference; a difference
as large as the margin), and a verdict on one leaves the other possibly true; Holm's passing on of the
level of a decided comparison is not valid for such pairs (docs/method.md, "What a verdict guarantees").

Two families in a study: the declared hypotheses (``claims``: the confirmatory family) and the sweep's own
questions (which runtime is lowest, conversions, providers, equivalences). Each has its own ``alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """``size`` comparisons decided together at an overall ``alpha`` (family-wise error rate)."""

    name: str  # "the sweep's questions" | "the declared hypotheses" | "the gate's series"
    size: int
    alpha: float = 0.05

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"alpha must be in (0, 0.5), got {self.alpha}")

    @property
    def per_comparison(self) -> float:
        """The level each comparison is decided at: alpha / size (alpha for a family of one)."""
        return self.alpha / max(self.size, 1)

    @property
    def guarantee(self) -> str:
        """One line for the reader, next to the verdicts it covers."""
        if self.size <= 1:
            return f"at most {self.alpha:.0%} chance of a false verdict, under any stopping"
        return (
            f"at most {self.alpha:.0%} chance of any false verdict among the {self.size} comparisons of "
            f"{self.name} (each decided at {self.per_comparison:.2%}, Bonferroni), under any stopping"
        )
