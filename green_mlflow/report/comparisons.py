"""One answer per comparison on the page: every verdict word the report shows is an ``Answer`` of ``questions``.

``apply`` writes the answers into what the reader meets: each group's top line (which runtime, by how much on
energy and on time, how sure, measured or estimated), each series' line against the group's best, and the
verdict of every conversion and provider row. ``sentence`` is the one way an answer is put in words
(findings, the terminal summary, the parent run's description).
"""

from __future__ import annotations

from green_mlflow.report.analysis import View
from green_mlflow.study.groups import LATENCY, Group, Series
from green_mlflow.study.questions import Answer


def _key(model: str, batch: str, hardware: str, a: tuple[str, str], b: tuple[str, str], metric: str) -> tuple:
    return (model, batch, hardware, a, b, metric)


def index(answers: list[Answer]) -> dict[tuple, Answer]:
    out = {}
    for ans in answers:
        q = ans.question
        out[
            _key(q.a.model, q.a.batch_size, q.a.hardware, (q.a.name, q.a.provider), (q.b.name, q.b.provider), q.metric)
        ] = ans
    return out


FLIP = {"lower": "higher", "higher": "lower"}


def _inverse(rel: float | None) -> float | None:
    return None if rel is None or rel <= -1 else 1 / (1 + rel) - 1


def oriented(found: dict[tuple, Answer], model, batch, hardware, a, b, metric) -> dict | None:
    """The answer of a pair as b against a, whichever way the question was asked; None when not asked."""
    ans = found.get(_key(model, batch, hardware, a, b, metric))
    if ans is not None:
        return ans.record()
    ans = found.get(_key(model, batch, hardware, b, a, metric))
    if ans is None:
        return None
    r = ans.record()
    lo, hi = _inverse(r["ci_high_rel"]), _inverse(r["ci_low_rel"])
    return {
        **r,
        "verdict": FLIP.get(r["verdict"], r["verdict"]),
        "delta_rel": _inverse(r["delta_rel"]),
        "ci_low_rel": lo,
        "ci_high_rel": hi,
        "reference": r["other"],
        "other": r["reference"],
    }


def percent(x: float, sign: bool = False) -> str:
    """A percentage to three significant digits, without an exponent (2620, not 2.62e+03)."""
    text = f"{x:+.3g}" if sign else f"{x:.3g}"
    return text if "e" not in text else (f"{x:+.0f}" if sign else f"{x:.0f}")


def _pct(rel: float | None) -> str:
    return "?" if rel is None else f"{percent(abs(rel) * 100)} %"


def _interval(r: dict) -> str:
    if r["ci_low_rel"] is None and r["ci_high_rel"] is None:
        return "no interval yet"
    # a bound of b/a at 0 (−100 %) is, turned round as a/b, no bound at all: +∞ (``oriented`` gives None)
    lo, hi = (("+∞" if x is None else percent(x * 100, True)) for x in (r["ci_low_rel"], r["ci_high_rel"]))
    return f"{r['ci_level'] * 100:.3g} % repeated CI {lo} to {hi} %"


def how_sure(r: dict) -> str:
    """The verdict's evidence in one parenthesis: interval, n, looks."""
    looks = f", {r['looks']} looks" if r["looks"] > 1 else ""
    return f"{_interval(r)}; n = {r['n_other']} vs {r['n_reference']}{looks}"


def sentence(r: dict, what: str) -> str:
    """A comparison in words, b against a, with its verdict first: the one way the report states an answer."""
    b, a = r["other"], r["reference"]
    rel = r["delta_rel"]
    if r["verdict"] in ("lower", "higher"):
        word = "less" if r["verdict"] == "lower" else "more"
        if what == "latency":
            word = "lower" if r["verdict"] == "lower" else "higher"
        return f"{b} has {_pct(rel)} {word} {what} than {a} ({how_sure(r)})."
    if r["verdict"] == "equivalent":
        return (
            f"{b} and {a} are equivalent in {what} within ±{r['margin_rel'] * 100:.3g} % "
            f"({_pct(rel)} apart; {how_sure(r)})."
        )
    direction = "below" if (rel or 0) < 0 else "above"
    return f"Open: {b} is {_pct(rel)} {direction} {a} in {what} so far, not yet decided — {r['reason']}."


def _how_obtained(group: Group) -> str:
    """How the ranked figure was obtained, as the top line's last sentence."""
    if group.basis is None or not group.basis.energy:
        return " No energy figure covers every runtime: ranked by latency."
    if group.basis.estimated:
        return " Energy estimated (power × time: no energy counter on this host), not measured."
    return " Energy measured."


def _nothing_to_compare(group: Group) -> str | None:
    """Why a group has no comparison to state, or None."""
    finished = [s for s in group.series if s.finished]
    at = f"{group.model} at batch {group.batch_size} on {group.provider}"
    if not finished:
        return f"No run finished for {at}: nothing to compare."
    if group.basis is None:
        return f"No energy or latency figure covers every runtime for {at}: nothing to rank."
    ranked = [s for s in finished if s.values(group.basis.metric)]
    if len(ranked) < 2:
        return f"Only {ranked[0].name if ranked else finished[0].name} finished for {at}: nothing to compare it with."
    return None


def top_line(group: Group, found: dict[tuple, Answer]) -> str:
    """Which runtime, by how much on energy and on time, how sure, and how the energy was obtained."""
    nothing = _nothing_to_compare(group)
    if nothing is not None:
        return nothing
    ranked = [s for s in group.series if s.finished and s.values(group.basis.metric)]
    at = f"{group.model} at batch {group.batch_size} on {group.provider}"
    best, runner = ranked[0], ranked[1]
    pair = lambda metric: oriented(  # noqa: E731
        found,
        group.model,
        group.batch_size,
        group.hardware,
        (runner.name, group.provider),
        (best.name, group.provider),
        metric,
    )
    r = pair(group.basis.metric)
    if r is None:  # every pair of a group is a question: only a figure missing on one side gets here
        return f"{best.name} had the lowest mean {group.basis.label} for {at}; {runner.name} has no comparable figure."
    quantity, obtained = group.basis.label, _how_obtained(group)
    time = _time(group, best, runner)
    if r["verdict"] == "lower":
        head = f"{best.name} wins for {at}: {_pct(r['delta_rel'])} less {quantity} than {runner.name}, the runner-up"
        return f"{head}{time} ({how_sure(r)}).{obtained}"
    if r["verdict"] == "equivalent":
        return (
            f"No winner for {at}: {best.name} and {runner.name} are equivalent in {quantity} within "
            f"±{r['margin_rel'] * 100:.3g} %{time} ({how_sure(r)}).{obtained}"
        )
    return (
        f"Not decided for {at}: {best.name} is lowest on average in {quantity}, {_pct(r['delta_rel'])} below "
        f"{runner.name}{time}, but {r['reason']}.{obtained}"
    )


def _time(group: Group, best: Series, runner: Series) -> str:
    b, a = best.mean(LATENCY.metric), runner.mean(LATENCY.metric)
    if group.basis is None or group.basis.metric == LATENCY.metric or not a or b is None:
        return ""
    return f"; latency {_pct(b / a - 1)} {'lower' if b < a else 'higher'} on average"


def apply(view: View, study, answers: list[Answer]) -> None:
    """Every verdict of the view and the study's tables from the answers: group top lines, each series against
    its group's best, conversion and provider rows (their effect and interval too)."""
    found = index(answers)
    for group in view.groups:
        group.verdict = top_line(group, found)
        group.comparisons = {}
        if group.best is None or group.basis is None:
            continue
        for s in group.series:
            if s is not group.best:
                group.comparisons[s.name] = oriented(
                    found, group.model, group.batch_size, group.hardware, (group.best.name, group.provider),
                    (s.name, group.provider), group.basis.metric,
                )  # fmt: skip
    for row in [*study.conversions, *study.providers]:
        p = row.pair
        a, b = (p.a.name, p.ga.provider), (p.b.name, p.gb.provider)
        r = oriented(found, row.model, row.batch_size, row.hardware, a, b, row.metric)
        if r is None:
            row.verdict = "descriptive (not one of the study's questions)"
            row.ci_low = row.ci_high = None
            continue
        row.verdict = r["verdict"] if r["verdict"] != "open" else "open"
        row.delta_rel, row.ci_low, row.ci_high = r["delta_rel"], r["ci_low_rel"], r["ci_high_rel"]
