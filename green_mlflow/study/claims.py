"""Declared hypotheses tested as one family: the report's "Claims" section and ``report/claims.json``.

Each hypothesis (``hypotheses``), on each metric it names, gets a status — ``supported``, ``contradicted``,
``inconclusive`` (with what would decide it), ``partly measured`` (measured on k of m pairs of its scope: what
is missing and what would measure it) or ``not measured`` (with the overrides that would measure it) — its
statistic, interval, pairs and what its n counts. The declared hypotheses are one family (``study.family``,
one member per hypothesis and metric): each is decided at alpha / (their number), so the chance that any claim
is falsely supported or falsely contradicted is at most alpha. How each kind is tested: ``claim_kinds``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from scipy import stats as sps

from green_mlflow.study.claim_kinds import Judge, best, compare, correlation, ranking
from green_mlflow.study.coverage import NOT_MEASURABLE, Coverage
from green_mlflow.study.defaults import ALPHA
from green_mlflow.study.design import Design
from green_mlflow.study.estimate import Estimate
from green_mlflow.study.family import Family
from green_mlflow.study.groups import Group
from green_mlflow.study.hypotheses import Declared, Hypothesis

PAPER_HARDWARE = "an RTX 3070 GPU (Alizadeh & Castor, CAIN 2024)"


@dataclass
class Claim:
    """One hypothesis's outcome (``record`` is its entry in ``claims.json``)."""

    hypothesis: Hypothesis
    status: str = "not measured"
    statistic: str = ""
    supported: bool | None = None  # None: nothing to test (not measured)
    contradicted: bool | None = None
    level: float | None = None  # the claim's share of the family's alpha
    ratio: float | None = None  # b/a of the weakest pair (geometric means), or ρ
    interval: tuple[float, float] | None = None  # its one-sided bounds at ``level`` (a 1 − 2 level interval)
    n: list[tuple[int, int]] = field(default_factory=list)
    detail: list[str] = field(default_factory=list)
    decide: str = ""  # inconclusive: what would decide it; not measured: the overrides that would measure it
    tested_on: str = ""
    replicated_on: str = ""  # the paper's claims tested here: the hardware this replication ran on
    quantity: str = ""  # what was compared, and whether it was measured or estimated
    config_hashes: frozenset[str] = frozenset()  # the configurations the claim read (the sweep repeats them)
    weakest: tuple | None = None  # (Estimate, shift) of a comparison's weakest pair, for "what would decide it"
    coverage: Coverage | None = None  # how much of the claim's scope was measured
    valid_on_part: frozenset[str] = frozenset()  # the verdicts that stand on part of the scope
    part: str = ""  # partly measured: the status on the measured part
    counted: str = ""  # share claims: how many pairs showed it, of how many
    n_counts: str = ""  # what its n counts, in words ("6 vs 6 runs per side", "24 series", "4 groups, …")
    reachable: bool = True  # whether more runs of what it read could decide it (a share needs enough pairs)

    @property
    def metric(self) -> str:
        return self.hypothesis.metric

    @property
    def name(self) -> str:
        """Its id, with the metric where the hypothesis is tested on several ("P2a (latency)")."""
        h = self.hypothesis
        return f"{h.id} ({h.metric})" if len(h.metrics) > 1 else h.id

    @property
    def open(self) -> bool:
        """More runs of what it read could still decide it (inconclusive, or open on its measured part)."""
        open_ = self.status == "inconclusive" or (self.status == "partly measured" and self.part == "inconclusive")
        return open_ and self.reachable

    @property
    def shown_as(self) -> str:
        """The status as the reader meets it: a paper's claim tested elsewhere is a replication, never the
        paper's own outcome ("replicated on AMD EPYC: contradicted"); a claim measured on part of its scope
        says how much ("partly measured: 4 of 6 pairs")."""
        status = f"{self.status}: {self.coverage.text}" if self.status == "partly measured" else self.status
        return f"replicated on {self.replicated_on}: {status}" if self.replicated_on else status

    def record(self) -> dict:
        h = self.hypothesis
        return {
            "id": h.id,
            "name": self.name,
            "statement": h.statement,
            "kind": h.kind,
            "metric": h.metric,
            "status": self.status,
            "part_status": self.part or None,
            "statistic": self.statistic,
            "level": self.level,
            "ratio": self.ratio,
            "interval_low": self.interval[0] if self.interval else None,
            "interval_high": self.interval[1] if self.interval else None,
            "n_per_side": [list(p) for p in self.n],
            "n_counts": self.n_counts,
            "coverage": self.coverage.record() if self.coverage else None,
            "pairs": self.detail,
            "detail": self.detail,
            "what_would_decide": self.decide,
            "tested_on": self.tested_on,
            "replicated_on": self.replicated_on or None,
            "shown_as": self.shown_as,
            "quantity": self.quantity,
            "correction": "Bonferroni over the declared hypotheses (one per metric): each at alpha / their number, "
            "under any stopping",
        }


POWER = 0.8  # "what would decide it": runs per series for an 80 % chance at the claim's level


def _n_to_decide(est: Estimate, shift: float, level: float) -> int | None:
    """Runs per series (equal n) for a one-sided two-sample t-test of the weakest pair's observed gap, with its
    pooled SD, to reach the claim's level with 80 % power: the noncentral t at Hsu's df, n − 1 (checked against
    statsmodels' TTestIndPower by the tests). Power grows with n, so a bisection finds the smallest n. None
    without a gap, or beyond 10,000 runs."""
    gap = abs(est.d - shift)
    if gap <= 0 or est.sd <= 0:
        return None

    def enough(n: int) -> bool:
        df = n - 1
        return sps.nct.sf(sps.t.ppf(1 - level, df), df, gap / est.sd * math.sqrt(n / 2)) >= POWER

    low, high = 2, 10_000
    if not enough(high):
        return None
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if enough(mid) else (mid + 1, high)
    return low


def _decide(c: Claim, level: float) -> str:
    est, shift = c.weakest
    n = _n_to_decide(est, shift, level)
    if n is None:
        return ""
    now = f"(now {est.n_a} vs {est.n_b}; {POWER:.0%} power at {level:.2%}, the claim's share of the family's alpha)"
    if n <= min(est.n_a, est.n_b):
        return f"a few more runs per series: the weakest pair is near the claim's threshold {now}"
    return f"about {n} runs per series would decide the weakest pair {now}"


def tests(declared: Declared) -> list[Hypothesis]:
    """Each hypothesis once per metric it names (energy and latency side by side): what the family counts."""
    return [replace(h, metric=m) for h in declared.hypotheses for m in h.metrics]


def family(declared: Declared, design: Design | None = None) -> Family:
    """The declared hypotheses as one family (one member per hypothesis and metric), at the sweep's alpha."""
    alpha = design.alpha if design is not None else ALPHA
    return Family("the declared hypotheses", len(tests(declared)), alpha)


KINDS = {"lower": compare, "higher": compare, "equivalent": compare, "best": best, "ranking_changes": ranking,
         "correlation": correlation}  # fmt: skip


def claims(groups: list[Group], study, declared: Declared, design: Design | None = None) -> list[Claim]:
    """Every declared hypothesis, on each of its metrics, decided at its share of alpha (the family's
    guarantee) over the looks of the sweep that collected the data. ``study`` is kept for the callers' sake."""
    judge = Judge(groups, design, family(declared, design).per_comparison)
    out = []
    for h in tests(declared):
        claim = Claim(h)
        judge.read = set()
        KINDS[h.kind](judge, h, claim)
        claim.config_hashes = frozenset(judge.read)
        out.append(claim)
    for c in out:
        _settle(c, judge.level, declared.source == "paper")
    return out


def _settle(c: Claim, level: float, paper: bool) -> None:
    """The status the reader meets, from what the claim's test showed and how much of its scope it covered."""
    c.level = level
    partial = c.coverage is not None and not c.coverage.complete
    if c.supported is None:
        c.status = "not measured"
    elif c.supported and not c.contradicted:
        c.status = "supported"
    elif c.contradicted and not c.supported:
        c.status = "contradicted"
    else:
        c.status = "inconclusive"
    if c.status != "not measured" and partial and c.status not in c.valid_on_part:
        c.part, c.status = c.status, "partly measured"
    if c.status == "not measured" and c.coverage is not None:
        failed = [m for m in c.coverage.missing if NOT_MEASURABLE in m]
        if failed:  # measured nowhere because its runs cannot run here: say why, then what would measure it
            c.decide = f"{failed[0]}; elsewhere: {c.decide}" if c.decide else failed[0]
    if c.status in ("supported", "contradicted"):
        c.decide = ""
    elif c.status == "inconclusive" or c.part == "inconclusive":
        open_part = (
            (_decide(c, level) if c.weakest is not None else "")
            or c.decide
            or ("more runs per series: the data do not yet separate the series (see the pairs)")
        )
        c.decide = open_part if c.status == "inconclusive" else f"on the measured part: {open_part}"
    if c.status == "partly measured":
        missing = "; ".join(c.coverage.missing[:6]) + ("; …" if len(c.coverage.missing) > 6 else "")
        c.decide = (
            f"{c.coverage.text} measured ({c.part} on those; never supported on part of its scope); missing: "
            f"{missing}; to measure them: {c.coverage.measure}" + (f"; {c.decide}" if c.decide else "")
        )
    if c.quantity:
        c.statistic += f"; on {c.quantity}"
    if c.tested_on:
        if paper and c.supported is not None:
            c.replicated_on = c.tested_on
        c.tested_on = (
            f"tested on {c.tested_on}; the paper measured on {PAPER_HARDWARE}" if paper else f"tested on {c.tested_on}"
        )
