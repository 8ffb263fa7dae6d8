"""The study's questions, defined once: what the report's tables compare is what an adaptive sweep asks.

A question is a pair of series (``a`` the reference, ``b`` the other) on one metric: is ``b`` lower or higher
than ``a``, or equivalent within the margin? They are read off the study's own tables (``study``), so the
report, its findings and the adaptive sweep (``green_mlflow.sweep.adaptive``) can never ask different things:

- each ``onnx (from X)`` against native ``X`` (conversions);
- each series on one provider against the same series on its lowest provider (providers);
- the best series of every group against its runner-up;
- every pair of series in a group that the equivalence table shows.

A pair asked for several reasons is one question. ``answer`` decides a question with the sequential method
of ``sequential`` from the looks an adaptive sweep took (``Design``): the verdict holds under any number of
looks (docs/method.md rule 19).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from green_mlflow.report.analysis import LATENCY, Group, Series, View
from green_mlflow.report.claims import pair_metric, pairs
from green_mlflow.report.parent_artifacts import DESIGN_ARTIFACT
from green_mlflow.report.sequential import SequentialResult, sequential_compare

__all__ = ["DESIGN_ARTIFACT", "Answer", "Design", "Question", "SeriesRef", "answer", "answers", "questions"]


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


@dataclass
class Design:
    """An adaptive sweep's design and the looks it took: per round, the finished runs of each configuration
    when the questions were evaluated. Logged to the parent run as ``adaptive/design.json``."""

    min_repetitions: int
    max_repetitions: int
    margin_rel: float
    alpha: float
    method: str
    rounds: list[dict[str, int]] = field(default_factory=list)  # config hash -> finished runs at that look
    stopped: str = ""  # why the sweep stopped: all decided, cap, budget
    spending: str = "pocock"  # the alpha-spending function of the boundaries (``boundaries.SPENDING``)

    def to_dict(self) -> dict:
        return {
            "min_repetitions": self.min_repetitions,
            "max_repetitions": self.max_repetitions,
            "margin_rel": self.margin_rel,
            "alpha": self.alpha,
            "method": self.method,
            "rounds": self.rounds,
            "stopped": self.stopped,
            "spending": self.spending,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Design:
        return cls(
            int(data["min_repetitions"]),
            int(data["max_repetitions"]),
            float(data["margin_rel"]),
            float(data["alpha"]),
            str(data["method"]),
            [{str(k): int(v) for k, v in r.items()} for r in data.get("rounds", [])],
            str(data.get("stopped", "")),
            str(data.get("spending", "obf")),  # designs written before the choice existed used O'Brien-Fleming
        )


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
            "ci95_low_rel": r.ci95_low_rel,
            "ci95_high_rel": r.ci95_high_rel,
            "ci90_low_rel": r.ci90_low_rel,
            "ci90_high_rel": r.ci90_high_rel,
            "margin_rel": r.margin_rel,
            "looks": r.looks,
            "decided_at_look": r.decided_at_look,
            "n_reference": r.n_a,
            "n_other": r.n_b,
            "reason": r.reason,
            "method": r.method,
        }


def _ref(group: Group, series: Series) -> SeriesRef:
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


def questions(view: View, study, declared=None) -> list[Question]:
    """Every question the study's tables ask of this view, once each (``study``: ``study.Study``), and the pairs
    of the declared comparison hypotheses (``declared``: ``hypotheses.Declared``), which an adaptive sweep
    then decides too."""
    located: dict[tuple, tuple[Group, Series]] = {}
    for group in view.groups:
        for s in group.series:
            located[(group.model, group.batch_size, group.provider, group.hardware, s.name)] = (group, s)
    asked: dict[tuple, Question] = {}

    def ask(ga: Group, a: Series, gb: Group, b: Series, metric: str, estimated: bool, kind: str) -> None:
        ra, rb = _ref(ga, a), _ref(gb, b)
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

    def primary(rows):  # the energy row of a pair where there is one, else its latency row
        energy = {(r.model, r.batch_size, r.hardware, r.reference, r.other) for r in rows if r.metric != LATENCY.metric}
        return [
            r
            for r in rows
            if r.metric != LATENCY.metric or (r.model, r.batch_size, r.hardware, r.reference, r.other) not in energy
        ]

    for row in primary(study.conversions):
        ga, a = located[(row.model, row.batch_size, row.provider, row.hardware, row.reference)]
        gb, b = located[(row.model, row.batch_size, row.provider, row.hardware, row.other)]
        ask(ga, a, gb, b, row.metric, row.estimated, "conversion")
    for group in view.groups:
        ranked = [s for s in group.series if group.basis and s.values(group.basis.metric)]
        if len(ranked) >= 2:
            ask(group, ranked[0], group, ranked[1], group.basis.metric, group.basis.estimated, "best vs runner-up")
        if group.basis is not None:
            for i, a in enumerate(ranked):
                for b in ranked[i + 1 :]:
                    ask(group, a, group, b, group.basis.metric, group.basis.estimated, "equivalence")
    for row in primary(study.providers):  # "<series> on <provider>" against the same series on its lowest provider
        ref_provider = row.extra["reference_provider"]
        ga, a = located[(row.model, row.batch_size, ref_provider, row.hardware, row.reference.rsplit(" on ", 1)[0])]
        gb, b = located[(row.model, row.batch_size, row.provider, row.hardware, row.other.rsplit(" on ", 1)[0])]
        ask(ga, a, gb, b, row.metric, row.estimated, "provider")
    for h in declared.hypotheses if declared is not None else []:
        if h.kind in ("lower", "higher", "equivalent"):
            for pa, pb in pairs(view, h):
                metric = pair_metric(h, pa, pb)
                if metric is not None:
                    estimated = metric != LATENCY.metric and pa.group.basis.estimated
                    ask(pa.group, pa.series, pb.group, pb.series, metric, estimated, f"hypothesis {h.id}")
    return list(asked.values())


def _series(view: View, ref: SeriesRef) -> Series | None:
    for group in view.groups:
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


def looks_of(question: Question, design: Design, n_now: tuple[int, int]) -> tuple[tuple[int, int], ...]:
    """The (n_a, n_b) at each look the sweep took at this question, ending with the data there is now."""
    looks: list[tuple[int, int]] = []
    for counts in design.rounds:
        pair = (
            min(sum(counts.get(h, 0) for h in question.a.config_hashes), n_now[0]),
            min(sum(counts.get(h, 0) for h in question.b.config_hashes), n_now[1]),
        )
        if min(pair) >= 1 and (not looks or pair != looks[-1]):
            looks.append(pair)
    if min(n_now) >= 1 and (not looks or looks[-1] != n_now):
        looks.append(n_now)
    return tuple(looks)


def answer(view: View, question: Question, design: Design) -> Answer:
    """Decide ``question`` sequentially over the looks ``design`` records (docs/method.md rule 19)."""
    sa, sb = _series(view, question.a), _series(view, question.b)
    a = ordered_values(sa, question.metric) if sa else []
    b = ordered_values(sb, question.metric) if sb else []
    looks = looks_of(question, design, (len(a), len(b))) or ((len(a), len(b)),)
    result = sequential_compare(
        a, b, looks, design.max_repetitions, design.margin_rel, design.alpha, spending=design.spending
    )
    return Answer(question, result, looks)


def answers(view: View, study, design: Design, declared=None) -> list[Answer]:
    """Every question of the study (and of the declared hypotheses), decided sequentially."""
    return [answer(view, q, design) for q in questions(view, study, declared)]
