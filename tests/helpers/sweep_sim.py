"""Whole adaptive sweeps simulated through the sweep's own planning code, for the study engine's error rates.

``tests/helpers/sequential_sim.py`` simulates one pair of series with ``sequential_compare`` alone. This driver
runs the product instead: ``green_mlflow.sweep.adaptive.AdaptiveSweep`` plans every round (``first_round``,
``next_round``), and after each round its ``_evaluate`` groups the runs, builds the study's tables and
questions (their family, Bonferroni's split, the design's looks) and decides the declared claims with the
``green_mlflow.study`` package, exactly as in a real sweep. Only MLflow is replaced (``SimulatedSweep``
overrides ``_load`` and ``_log_design``): each job a round asks for (its override list, ``repetition=k``)
becomes a finished ``JobRun`` built by ``report.data.job_from_run`` (what ``_load`` calls) from an in-memory
MLflow ``Run`` whose params, tags and metrics are those ``tests/helpers/synthetic.py`` logs for a real job
(energy estimated, so the study ranks on ``energy_per_sample_net_estimated_j``). The value of repetition k of
a configuration is drawn before the sweep starts (``draw``), so a sweep that stops early and a fixed
10-repetition test of the same series see the same numbers (``fixed_verdicts``).

Truth is known: each series (``Spec``) has a true mean and a coefficient of variation; the noise law is
``normal`` (mean × (1 + cv Z)), ``lognormal`` (mean × exp(σZ − σ²/2), σ² = log(1 + cv²): same mean and CV,
right-skewed) or ``t3`` (mean × (1 + cv T/√3), T Student t with 3 df: heavy tails, same CV). A verdict is
judged against the true ratio b/a of the question as the engine oriented it (``Verdict``).

Seeded: sweep i of a case draws from ``numpy.random.default_rng((seed, i))`` and shuffles its jobs with seed i,
so a case's first k sweeps are the same whatever the number of sweeps. Used by
``tests/study/test_error_rates.py`` and ``benchmarks/study_error_rates.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from mlflow.entities import Metric, Param, Run, RunData, RunInfo, RunTag

from green_mlflow.report.data import job_from_run
from green_mlflow.study.design import AdaptiveSettings
from green_mlflow.study.hypotheses import Declared, parse
from green_mlflow.study.runs import JobRun
from green_mlflow.study.sequential import sequential_compare
from green_mlflow.sweep import outcome
from green_mlflow.sweep.adaptive import AdaptiveSweep, Configuration
from tests.helpers.synthetic import Job, job_metrics, job_params, job_tags

NOISES = ("normal", "lognormal", "t3")
BASIS = "energy_per_sample_net_estimated_j"  # what the report ranks on for these runs (estimated energy)
MODES = {"torch": "eager", "tf": "function", "mxnet": "hybrid", "onnx": "ort_all"}
MODEL, BATCH, PROVIDER = "mobilenet_v2", 1, "cpu"
MAX_ROUNDS = 100  # a sweep that plans more rounds than this is a bug in the planning, not a long sweep


@dataclass(frozen=True)
class Spec:
    """One series (a runtime in the one group): its true mean on the basis metric and its CV."""

    runtime: str
    mean: float = 1.0
    cv: float = 0.03
    source: str | None = None  # onnx only: the framework it was converted from

    @property
    def mode(self) -> str:
        return MODES[self.runtime]

    @property
    def label(self) -> str:
        """The series' name in the report (``JobRun.runtime_label``)."""
        return f"onnx (from {self.source})" if self.runtime == "onnx" and self.source else self.runtime

    @property
    def config_hash(self) -> str:
        return f"{self.runtime}-{self.source}-{self.mode}-{MODEL}-{BATCH}-{PROVIDER}"  # synthetic.job_tags's

    @property
    def overrides(self) -> list[str]:
        return [
            f"runtime={self.runtime}",
            f"runtime.source={self.source or 'null'}",
            f"mode={self.mode}",
            f"model={MODEL}",
            f"batch_size={BATCH}",
            f"provider={PROVIDER}",
        ]


def factors(noise: str, cv: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` multiplicative noise factors of mean 1 and coefficient of variation ``cv`` (see the module)."""
    if noise == "normal":
        return 1 + cv * rng.standard_normal(size)
    if noise == "lognormal":
        sigma = math.sqrt(math.log1p(cv**2))
        return np.exp(sigma * rng.standard_normal(size) - sigma**2 / 2)
    if noise == "t3":
        return 1 + cv * rng.standard_t(3, size) / math.sqrt(3)  # Var(T_3) = 3
    raise ValueError(f"noise is one of {', '.join(NOISES)}, got {noise!r}")


def draw(specs: Sequence[Spec], noise: str, max_n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per configuration hash, the values of repetitions 0 .. max_n − 1 (true mean × noise)."""
    return {s.config_hash: s.mean * factors(noise, s.cv, max_n, rng) for s in specs}


def _energy_j(value: float) -> float:
    """The gross energy a synthetic job is given so that its net (``BASIS``, 0.8 × gross) is ``value``."""
    return value / 0.8


def basis_value(spec: Spec, value: float) -> float:
    """The ``BASIS`` metric a job drawn at ``value`` carries (what the report's comparisons read)."""
    return job_metrics(Job(spec.runtime, spec.mode, source=spec.source, energy_j=_energy_j(value)))[BASIS]


def job_run(spec: Spec, repetition: int, value: float, index: int) -> JobRun:
    """A finished job's ``JobRun`` as ``AdaptiveSweep._load`` gets it: ``job_from_run`` of a Run shaped as
    ``tests/helpers/synthetic.log_job`` would log it (no store involved)."""
    job = Job(
        spec.runtime, spec.mode, MODEL, BATCH, PROVIDER, spec.source, repetition,
        energy_j=_energy_j(value), latency_ms=10.0 * value,
    )  # fmt: skip
    run_id = f"{index:032x}"
    start = 1_700_000_000_000 + 1000 * index
    tags = {"mlflow.parentRunId": "0" * 32, "mlflow.runName": f"{spec.label} rep={repetition}", **job_tags(job)}
    info = RunInfo(run_id, "0", "sim", "FINISHED", start, start + 1000, "active", run_name=tags["mlflow.runName"])
    data = RunData(
        metrics=[Metric(k, v, start, 0) for k, v in job_metrics(job).items()],
        params=[Param(k, v) for k, v in job_params(job).items()],
        tags=[RunTag(k, v) for k, v in tags.items()],
    )
    return job_from_run(Run(info, data))


@dataclass
class SimulatedSweep(AdaptiveSweep):
    """``AdaptiveSweep`` with MLflow replaced: ``run`` turns a round's jobs into finished runs of the pre-drawn
    values; ``_load`` returns them; ``_log_design`` only counts its calls. Everything else is the product's."""

    specs: dict[str, Spec] = field(default_factory=dict)  # config hash -> series
    values: dict[str, np.ndarray] = field(default_factory=dict)  # config hash -> value of each repetition
    finished: list[JobRun] = field(default_factory=list)
    designs_logged: int = 0

    def run(self, jobs: list[list[str]]) -> None:
        """Run a round: each job's override list names its configuration and ``repetition=k``."""
        by_overrides = {tuple(c.overrides): c.config_hash for c in self.configurations}
        for job in jobs:
            base = tuple(o for o in job if not o.startswith(("measure.repetitions=", "repetition=")))
            rep = int(next(o for o in job if o.startswith("repetition=")).split("=", 1)[1])
            h = by_overrides[base]
            if any(r.config_hash == h and r.repetition == rep for r in self.finished):
                raise AssertionError(f"the sweep planned repetition {rep} of {h} twice")
            value = float(self.values[h][rep])
            self.finished.append(job_run(self.specs[h], rep, value, len(self.finished)))

    def _load(self) -> tuple[list[JobRun], list[JobRun]]:
        return list(self.finished), list(self.finished)

    def _log_design(self, used: list[JobRun]) -> None:
        self.designs_logged += 1


@dataclass(frozen=True)
class Verdict:
    """One question's final answer, judged against the truth: b against a as the engine asked it."""

    a: str
    b: str
    verdict: str  # lower | higher | equivalent | open
    true_ratio: float  # true mean of b / true mean of a
    margin_rel: float
    n_a: int
    n_b: int

    @property
    def false_difference(self) -> bool:
        """ "lower"/"higher" where the true means are equal."""
        return self.verdict in ("lower", "higher") and math.isclose(self.true_ratio, 1.0, rel_tol=1e-12)

    @property
    def wrong_direction(self) -> bool:
        """ "lower" where b is truly higher, or "higher" where it is truly lower."""
        return (self.verdict == "lower" and self.true_ratio > 1 + 1e-12) or (
            self.verdict == "higher" and self.true_ratio < 1 - 1e-12
        )

    @property
    def false_equivalence(self) -> bool:
        """ "equivalent" where b/a is not strictly inside (1 − margin, 1 + margin) (the engine's log margins)."""
        m = self.margin_rel
        inside = math.log1p(-m) < math.log(self.true_ratio) < math.log1p(m)
        return self.verdict == "equivalent" and not inside

    @property
    def correct_difference(self) -> bool:
        return self.verdict in ("lower", "higher") and not self.false_difference and not self.wrong_direction


@dataclass(frozen=True)
class SweepResult:
    """What one simulated sweep came to: final answers, claim statuses, repetitions per series, rounds."""

    verdicts: tuple[Verdict, ...]
    claims: dict[str, str]  # hypothesis id -> supported | contradicted | inconclusive | not measured
    reps: dict[str, int]  # series label -> repetitions run
    rounds: int
    stopped: str
    family_size: int
    level: float  # each question's level: alpha / family size
    fixed: tuple[Verdict, ...] = ()  # the fixed-sample test of the same pairs on the same draws (``fixed_verdicts``)
    nonpositive: int = 0  # runs whose value was <= 0 (normal and t3 noise can draw one): the raw scale is used


def configurations(specs: Sequence[Spec]) -> list[Configuration]:
    return [Configuration(list(s.overrides), s.config_hash) for s in specs]


def fixed_verdicts(
    specs: Sequence[Spec], values: dict[str, np.ndarray], n: int, level: float, margin_rel: float
) -> tuple[Verdict, ...]:
    """Every pair (a before b in ``specs``) decided once at ``n`` repetitions each on the same draws: the same
    ``sequential_compare`` with one look at (n, n) and ``max_n`` None (the fixed-sample Welch interval)."""
    out = []
    for i, sa in enumerate(specs):
        for sb in specs[i + 1 :]:
            x = [basis_value(sa, v) for v in values[sa.config_hash][:n]]
            y = [basis_value(sb, v) for v in values[sb.config_hash][:n]]
            r = sequential_compare(x, y, [(n, n)], None, margin_rel, level)
            out.append(Verdict(sa.label, sb.label, r.verdict, sb.mean / sa.mean, margin_rel, r.n_a, r.n_b))
    return tuple(out)


def run_sweep(
    specs: Sequence[Spec],
    noise: str,
    settings: AdaptiveSettings | None = None,
    declared: Declared | None = None,
    seed: int = 0,
    index: int = 0,
    fixed_n: int | None = None,
) -> SweepResult:
    """One adaptive sweep of ``specs`` (one group) with ``noise``; sweep ``index`` of the seeded sequence.
    ``fixed_n``: also decide every pair once at that many repetitions (``fixed_verdicts``) on the same draws."""
    settings = settings or AdaptiveSettings()
    settings.check()
    rng = np.random.default_rng((seed, index))
    max_n = max(settings.max_repetitions, fixed_n or 0)
    values = draw(specs, noise, max_n, rng)
    outcome.begin()  # the sweep's own record (total_jobs); no budget_s, so no clock is read
    sim = SimulatedSweep(
        settings, configurations(specs), Path("/nonexistent/sweep"), seed=index, say=lambda _: None,
        declared=declared, specs={s.config_hash: s for s in specs}, values=values,
    )  # fmt: skip
    jobs = sim.first_round()
    while jobs:
        if sim.round > MAX_ROUNDS:
            raise AssertionError(f"the sweep planned more than {MAX_ROUNDS} rounds")
        sim.run(jobs)
        jobs = sim.next_round()
    truth = {s.label: s.mean for s in specs}
    verdicts = tuple(
        Verdict(
            a.question.a.name, a.question.b.name, a.result.verdict,
            truth[a.question.b.label] / truth[a.question.a.label], a.result.margin_rel, a.result.n_a, a.result.n_b,
        )
        for a in sim.answers
    )  # fmt: skip
    reps = {s.label: sum(1 for r in sim.finished if r.config_hash == s.config_hash) for s in specs}
    level = settings.alpha / max(sim.design.family_size, 1)
    levels = {a.result.alpha for a in sim.answers}
    if levels and levels != {level}:
        raise AssertionError(f"questions decided at {levels}, not at alpha / family size = {level}")
    fixed = fixed_verdicts(specs, values, fixed_n, level, settings.margin_rel) if fixed_n else ()
    return SweepResult(
        verdicts, {c.hypothesis.id: c.status for c in sim.claims}, reps, len(sim.design.rounds),
        sim.design.stopped, sim.design.family_size, level, fixed,
        sum(1 for r in sim.finished if not r.metrics[BASIS] > 0),
    )  # fmt: skip


@dataclass(frozen=True)
class Case:
    """A simulated study: its series, the noise law, the sweep's settings and (optionally) declared hypotheses
    (the YAML text of a hypotheses file)."""

    name: str
    specs: tuple[Spec, ...]
    noise: str
    hypotheses: str | None = None
    settings: AdaptiveSettings = field(default_factory=AdaptiveSettings)
    fixed_n: int | None = None  # also run the fixed-sample test at this n on the same draws

    def declared(self) -> Declared | None:
        return parse(self.hypotheses, f"{self.name}.yaml") if self.hypotheses else None


def bound(target: float, sweeps: int, k: float = 3.0) -> float:
    """The largest rate ``sweeps`` sweeps may show when the true rate is ``target``: target + k Monte-Carlo SEs
    (the SE at the target, sqrt(target (1 − target) / sweeps))."""
    return target + k * math.sqrt(target * (1 - target) / sweeps)


def rate(hits: int, n: int) -> tuple[float, float]:
    """(fraction, its Monte-Carlo standard error sqrt(p(1 − p)/n))."""
    p = hits / n if n else 0.0
    return p, math.sqrt(p * (1 - p) / n) if n else 0.0


@dataclass
class CaseStats:
    """A case's sweeps: per sweep, whether any answer (or claim) was false of each kind, and the repetitions."""

    case: Case
    results: list[SweepResult]
    seconds: float = 0.0

    @property
    def sweeps(self) -> int:
        return len(self.results)

    def fraction(self, test) -> tuple[float, float]:
        """(fraction of sweeps for which ``test(result)`` holds, its Monte-Carlo SE)."""
        return rate(sum(1 for r in self.results if test(r)), self.sweeps)

    def any_verdict(self, prop: str, fixed: bool = False) -> tuple[float, float]:
        """Fraction of sweeps with at least one answer with Verdict property ``prop`` (``false_difference``, …)."""
        return self.fraction(lambda r: any(getattr(v, prop) for v in (r.fixed if fixed else r.verdicts)))

    def any_verdict_word(self, words: Sequence[str], fixed: bool = False) -> tuple[float, float]:
        return self.fraction(lambda r: any(v.verdict in words for v in (r.fixed if fixed else r.verdicts)))

    def any_claim(self, status: str) -> tuple[float, float]:
        return self.fraction(lambda r: status in r.claims.values())

    def reps(self, label: str | None = None) -> np.ndarray:
        """Repetitions per series (all series pooled, or one) over the sweeps."""
        return np.array([n for r in self.results for lab, n in r.reps.items() if label in (None, lab)])

    def per_sweep_s(self) -> float:
        return self.seconds / self.sweeps if self.sweeps else 0.0


def simulate(case: Case, sweeps: int, seed: int = 0, start: int = 0) -> CaseStats:
    """Sweeps ``start`` .. ``start + sweeps − 1`` of ``case`` (seeded: see the module)."""
    import time

    declared = case.declared()
    began = time.perf_counter()
    results = [
        run_sweep(case.specs, case.noise, case.settings, declared, seed, i, case.fixed_n)
        for i in range(start, start + sweeps)
    ]
    return CaseStats(case, results, time.perf_counter() - began)


# -- the cases of the error-rate study (tests/study/test_error_rates.py, benchmarks/study_error_rates.py) ---------
FOUR = ("torch", "tf", "mxnet", ("onnx", "torch"))

# (d): three series, torch = tf, mxnet 5 % above both; every hypothesis below is false, each at its boundary.
FALSE_HYPOTHESES = """hypotheses:
  - {id: H1, statement: tf below torch, kind: lower, a: {runtime: torch}, b: {runtime: tf}}
  - {id: H2, statement: torch below tf, kind: lower, a: {runtime: tf}, b: {runtime: torch}}
  - {id: H3, statement: mxnet within 5 % of torch, kind: equivalent, a: {runtime: torch}, b: {runtime: mxnet}}
  - {id: H4, statement: mxnet over 5 % above tf, kind: higher, a: {runtime: tf}, b: {runtime: mxnet}, min_effect: 0.05}
  - {id: H5, statement: tf is the lowest, kind: best, series: {runtime: tf}}
"""


def spec(runtime: str | tuple[str, str], mean: float = 1.0, cv: float = 0.03) -> Spec:
    if isinstance(runtime, tuple):
        return Spec(runtime[0], mean, cv, runtime[1])
    return Spec(runtime, mean, cv)


def four_equal(noise: str, cv: float = 0.03) -> Case:
    """(a) four runtimes in one group, no true difference: six pair questions, a family of six."""
    return Case(f"(a) 4 equal series, CV {cv:.0%}, {noise}", tuple(spec(r, 1.0, cv) for r in FOUR), noise)


def unequal_noise(noise: str, cv_a: float = 0.01, cv_b: float = 0.08) -> Case:
    """(b) one pair, no true difference, CV 1 % against CV 8 %."""
    specs = (spec("torch", 1.0, cv_a), spec("tf", 1.0, cv_b))
    return Case(f"(b) 1 pair equal, CV {cv_a:.0%} vs {cv_b:.0%}, {noise}", specs, noise)


def at_margin(noise: str, cv: float = 0.03, ratio: float = 1.05) -> Case:
    """(c) one pair, b/a exactly at the margin (1.05; 0.95 for the lower margin)."""
    return Case(
        f"(c) 1 pair at ratio {ratio:g}, CV {cv:.0%}, {noise}", (spec("torch", 1.0, cv), spec("tf", ratio, cv)), noise
    )


def false_claims(noise: str, cv: float = 0.03) -> Case:
    """(d) a declared family of five hypotheses, all false (``FALSE_HYPOTHESES``), under adaptive stopping."""
    specs = (spec("torch", 1.0, cv), spec("tf", 1.0, cv), spec("mxnet", 1.05, cv))
    return Case(f"(d) 5 false hypotheses, CV {cv:.0%}, {noise}", specs, noise, FALSE_HYPOTHESES)


def power(noise: str, ratio: float, cv: float = 0.05, fixed_n: int = 10) -> Case:
    """(e) one pair at a true ratio, with the fixed-sample test at ``fixed_n`` on the same draws."""
    specs = (spec("torch", 1.0, cv), spec("tf", ratio, cv))
    return Case(f"(e) 1 pair at ratio {ratio:g}, CV {cv:.0%}, {noise}", specs, noise, fixed_n=fixed_n)
