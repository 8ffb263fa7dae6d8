"""The gate's verdict as plain text (a terminal, a CI log), Markdown (a pull-request comment) or JSON."""

from __future__ import annotations

import json

from green_mlflow.gate.judge import GateResult, Judgement

MARK = {"regressed": "❌", "improved": "✅", "unchanged": "＝", "inconclusive": "?"}


def _num(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def _ratio(j: Judgement) -> str:
    if j.ratio is None:
        return "–"
    change = f"{(j.ratio - 1) * 100:+.1f} %"
    if j.ratio_ci95_low is None or j.ratio_ci95_high is None:
        return change
    return f"{change} [{(j.ratio_ci95_low - 1) * 100:+.1f}, {(j.ratio_ci95_high - 1) * 100:+.1f}]"


def _quantity(j: Judgement) -> str:
    return f"{j.quantity}{' (estimated)' if j.estimated else ''}" if j.quantity else j.metric


def _headline(result: GateResult) -> str:
    counts = {v: sum(1 for j in result.judgements if j.verdict == v) for v in MARK}
    summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    return (
        f"{result.outcome.upper()}: {summary or 'no series judged'} "
        f"(candidate {result.candidate} against baseline {result.baseline}; "
        f"margin {result.margin:.0%}, alpha {result.alpha:g}, Holm-adjusted)"
    )


def _unmatched(result: GateResult) -> list[str]:
    lines = []
    if result.unmatched_baseline:
        lines.append(f"only in the baseline (not judged): {'; '.join(result.unmatched_baseline)}")
    if result.unmatched_candidate:
        lines.append(f"only in the candidate (not judged): {'; '.join(result.unmatched_candidate)}")
    if not result.judgements and not lines:
        lines.append("no finished runs on one side or both")
    return lines


def text(result: GateResult) -> str:
    lines = [_headline(result)]
    for j in result.judgements:
        lines.append(
            f"  {j.verdict:<12} {j.series} · {_quantity(j)}: {_num(j.mean_baseline)} → {_num(j.mean_candidate)} "
            f"({_ratio(j)}; p worse {_num(j.p_regressed, 2)}, p better {_num(j.p_improved, 2)}, "
            f"p within margin {_num(j.p_equivalent, 2)}; n {j.n_baseline} vs {j.n_candidate})"
            + (f" — {j.note}" if j.note else "")
        )
    lines += [f"  {line}" for line in _unmatched(result)]
    return "\n".join(lines)


def _cell(value: str) -> str:
    return value.replace("|", "\\|")


def markdown(result: GateResult) -> str:
    lines = [
        f"### Inference cost gate: {MARK.get(result.outcome, '') if result.outcome == 'regressed' else ''}"
        f"{result.outcome}",
        "",
        _headline(result),
        "",
        "| verdict | series | metric | baseline | candidate | change [95 % CI] | p worse | p better | n |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for j in result.judgements:
        lines.append(
            f"| {MARK[j.verdict]} {j.verdict} | {_cell(j.series)} | {_cell(_quantity(j))} | {_num(j.mean_baseline)} "
            f"| {_num(j.mean_candidate)} | {_ratio(j)} | {_num(j.p_regressed, 2)} | {_num(j.p_improved, 2)} "
            f"| {j.n_baseline} vs {j.n_candidate} |"
        )
    notes = [f"- {j.series} · {j.metric}: {j.note}" for j in result.judgements if j.note]
    notes += [f"- {line}" for line in _unmatched(result)]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def as_json(result: GateResult) -> str:
    return json.dumps(result.to_dict(), indent=2)


FORMATS = {"text": text, "markdown": markdown, "json": as_json}
