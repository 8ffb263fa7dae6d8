"""The study's questions, defined once: what the report states and what an adaptive sweep asks.

A question is a pair of series (``a`` the reference, ``b`` the other) on one metric: is ``b`` lower or higher
than ``a``, or equivalent within the margin? They are built from the groups (``pairs`` gives the tables the
same pairs), so the report, its findings and the adaptive sweep can never ask different things:

- each ``onnx (from X)`` against native ``X`` (conversions);
- each series on one provider against the same series on its lowest provider (providers);
- the best series of every group against its runner-up;
- every pair of series in a group (equivalence, and each series against the group's best).

A pair asked for several reasons is one question. The questions are one family (``family``): each is
decided at alpha / (number of questions) by ``sequential`` over the looks an adaptive sweep took
(``design.Design``), or at one look for a fixed sweep, so the chance of any false verdict in the
report is at most alpha, however the sweep stopped (docs/method.md, "What a verdict guarantees").
"""

from __future__ import annotations

from dataclasses import dataclass

from green_mlflow.study.defaults import ALPHA, SPENDING
from green_mlflow.study.design import Design
from green_mlflow.study.family import Family
from green_mlflow.study.groups import Group, Series
from green_mlflow.study.pairs import conversion_pairs, primary, provider_pairs
from green_mlflow.study.sequential import SequentialResult, sequential_compare


@dataclass(frozen=True)
class SeriesRef:
    """One series of one group, and the configurations (config hashes) whose runs it holds."""

    model: str
    batch_size: str
    provider: str
    hardware: str
    label: str  # runtime label: torch, onnx (from torch), …
    mode: str
    name: str  # as the report names it
    config_hashes: tuple[str, ...]

    @property
    def title(self) -> str:
        return f"{self.name} · {self.model} · batch {self.batch_size} · {self.provider}"


@dataclass(frozen=True)
class Question:
    """Is ``b`` lower, higher or equivalent to ``a`` on ``metric``? ``kinds`` says why the study asks."""

    a: SeriesRef
    b: SeriesRef
    metric: str
    estimated: bool
    kinds: tuple[str, ...]  # conversion | provider | best vs runner-up | equivalence

    @property
    def key(self) -> tuple:
        return (self.a, self.b, self.metric)

    @property
    def text(self) -> str:
        where = f"{self.a.model} · batch {self.a.batch_size}"
        a = f"{self.a.name} on {self.a.provider}" if self.a.provider != self.b.provider else self.a.name
        b = f"{self.b.name} on {self.b.provider}" if self.a.provider != self.b.provider else self.b.name
        place = where if self.a.provider != self.b.provider else f"{where} · {self.a.provider}"
        return f"{b} vs {a} ({place}, {self.metric})"


@dataclass(frozen=True)
class Answer:
    """A question and its sequential verdict (``result.verdict``: lower | higher | equivalent | open)."""

    question: Question
    result: SequentialResult
    looks: tuple[tuple[int, int], ...]

    @property
    def decided(self) -> bool:
        return self.result.verdict != "open"

    def record(self) -> dict:
        """The answer under the names of ``findings.json`` (docs/report.md)."""
        q, r = self.question, self.result
        return {
            "question": q.text,
            "kinds": list(q.kinds),
            "model": q.a.model,
            "batch_size": int(q.a.batch_size) if q.a.batch_size.isdigit() else q.a.batch_size,
            "reference": q.a.name,
            "reference_provider": q.a.provider,
            "other": q.b.name,
            "other_provider": q.b.provider,
            "metric": q.metric,
            "estimated": q.estimated,
            "verdict": r.verdict,
            "delta_rel": r.delta_rel,
            "ci_low_rel": r.ci_low_rel,
            "ci_high_rel": r.ci_high_rel,
            "ci_level": 1 - r.alpha,
            "eq_low_rel": r.eq_low_rel,
            "eq_high_rel": r.eq_high_rel,
            "margin_rel": r.margin_rel,
            "alpha": r.alpha,
            "looks": r.looks,
            "decided_at_look": r.decided_at_look,
            "n_reference": r.n_a,
            "n_other": r.n_b,
            "reason": r.reason,
            "method": r.method,
        }


def ref(group: Group, series: Series) -> SeriesRef:
    hashes = tuple(sorted({r.config_hash for r in series.runs if r.config_hash}))
    return SeriesRef(
        group.model,
        group.batch_size,
        group.provider,
        group.hardware,
        series.runtime_label,
        series.mode,
        series.name,
        hashes,
    )


def questions(groups: list[Group]) -> list[Question]:
    """Every question the study asks of these groups, once each (the tables show the same
    pairs: ``study.conversion_pairs``, ``study.provider_pairs``). The declared hypotheses are a family of their
    own (``claims``)."""
    asked: dict[tuple, Question] = {}

    def ask(ga: Group, a: Series, gb: Group, b: Series, metric: str, estimated: bool, kind: str) -> None:
        ra, rb = ref(ga, a), ref(gb, b)
        key = (ra, rb, metric)
        flipped = (rb, ra, metric)
        if flipped in asked:  # the same pair asked the other way round: one question
            key = flipped
        if key in asked:
            old = asked[key]
            if kind not in old.kinds:
                asked[key] = Question(old.a, old.b, old.metric, old.estimated, (*old.kinds, kind))
            return
        asked[key] = Question(ra, rb, metric, estimated, (kind,))

    for p in primary(conversion_pairs(groups)):
        ask(p.ga, p.a, p.gb, p.b, p.quantity.metric, p.quantity.estimated, "conversion")
    for group in groups:
        ranked = [s for s in group.series if group.basis and s.values(group.basis.metric)]
        if len(ranked) >= 2:
            ask(group, ranked[0], group, ranked[1], group.basis.metric, group.basis.estimated, "best vs runner-up")
        if group.basis is not None:
            for i, a in enumerate(ranked):
                for b in ranked[i + 1 :]:
                    ask(group, a, group, b, group.basis.metric, group.basis.estimated, "equivalence")
    for p in primary(provider_pairs(groups)):  # a series on each provider against its lowest provider
        ask(p.ga, p.a, p.gb, p.b, p.quantity.metric, p.quantity.estimated, "provider")
    return list(asked.values())


def _series(groups: list[Group], ref: SeriesRef) -> Series | None:
    for group in groups:
        if (group.model, group.batch_size, group.provider, group.hardware) == (
            ref.model,
            ref.batch_size,
            ref.provider,
            ref.hardware,
        ):
            for s in group.series:
                if s.name == ref.name:
                    return s
    return None


def ordered_values(series: Series, metric: str) -> list[float]:
    """A series' values in the order its repetitions were planned (the order the looks saw them)."""
    runs = [r for r in series.finished if r.metrics.get(metric) is not None]
    runs.sort(key=lambda r: (r.repetition if r.repetition is not None else 1 << 30, r.start_time_ms))
    return [r.metrics[metric] for r in runs]


def pair_values(groups: list[Group], a: SeriesRef, b: SeriesRef, metric: str, design: Design | None):
    """(values of a, values of b, looks, max_n) of a pair: the looks an adaptive sweep took at it, or one look
    at everything there is (``max_n`` None: no look follows) when the data did not come from one."""
    sa, sb = _series(groups, a), _series(groups, b)
    x = ordered_values(sa, metric) if sa else []
    y = ordered_values(sb, metric) if sb else []
    if design is None:
        return x, y, ((len(x), len(y)),), None
    looks = design.looks(a.config_hashes, b.config_hashes, (len(x), len(y))) or ((len(x), len(y)),)
    return x, y, looks, design.max_repetitions


def family(count: int, design: Design | None, alpha: float = ALPHA) -> Family:
    """The sweep's questions as one family: its size fixed at the sweep's first look (never smaller)."""
    size = max(count, design.family_size if design is not None else 0)
    return Family("the study's questions", size, design.alpha if design is not None else alpha)


def answer(groups: list[Group], question: Question, design: Design | None, level: float, margin_rel: float) -> Answer:
    """Decide ``question`` at ``level`` over the looks ``design`` records (docs/method.md, "One decision
    procedure"); without a design, at one look."""
    a, b, looks, max_n = pair_values(groups, question.a, question.b, question.metric, design)
    spending = design.spending if design is not None else SPENDING
    result = sequential_compare(a, b, looks, max_n, margin_rel, level, spending=spending)
    return Answer(question, result, looks)


def answers(groups: list[Group], design: Design | None, margin_rel: float) -> tuple[Family, list[Answer]]:
    """Every question of the study, decided as one family (each at its share of alpha) within ``margin_rel``
    (the design's margin when the data came from an adaptive sweep: ``tables.build`` resolves it)."""
    asked = questions(groups)
    fam = family(len(asked), design)
    return fam, [answer(groups, q, design, fam.per_comparison, margin_rel) for q in asked]
