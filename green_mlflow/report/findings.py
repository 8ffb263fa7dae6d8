"""The study's conclusions as sentences generated from the data, each with its statistic and n, and the
machine-readable ``findings.json`` that holds them with every table behind them.

No sentence is written for a particular result: each comes from a rule over the tables of ``study``, and a
rule that has nothing to say says "inconclusive" or "not measured" rather than nothing.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

from green_mlflow.report.analysis import View
from green_mlflow.report.comparisons import percent, sentence
from green_mlflow.report.limits import limits
from green_mlflow.study.groups import LATENCY
from green_mlflow.study.tables import Row, Study

SCHEMA = "green_mlflow.findings/1"
WORDS = {
    "energy_per_sample_net_j": "net energy per sample",
    "energy_per_sample_gross_j": "gross energy per sample",
    "energy_per_sample_net_estimated_j": "net energy per sample (estimated)",
    "energy_per_sample_gross_estimated_j": "gross energy per sample (estimated)",
    LATENCY.metric: "latency",
}


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{percent(abs(value) * 100)} %"


def _answer_sentences(study: Study) -> list[dict]:
    """One sentence per question of the study: the only place a comparison's verdict is put in words."""
    out = []
    for ans in study.answers:
        r = ans.record()
        what = WORDS.get(r["metric"], r["metric"])
        where = f" ({ans.question.a.model} at batch {ans.question.a.batch_size})"
        text = sentence(r, what).rstrip(".") + where + "."
        out.append({"kind": "comparison", "text": text, **r})
    return out


def _batch_sentences(study: Study) -> list[dict]:
    """Batch size rows are descriptive: a ratio of geometric means, no verdict word."""
    out = []
    for row in study.batch_effects:
        if row.delta_rel is None:
            continue
        text = (
            f"{row.reference} → {row.other}: {WORDS.get(row.metric, row.metric)} × {1 + row.delta_rel:.3g} "
            f"({row.model} on {row.provider}; descriptive, n = {row.n_reference} and {row.n_other})."
        )
        out.append({"kind": "batch size", "text": text, "verdict": row.verdict, **_fields(row)})
    return out


def _fields(row) -> dict:
    return {f.name: getattr(row, f.name) for f in dataclasses.fields(row) if f.name not in ("extra", "pair")}


def _ranking(view: View) -> list[dict]:
    """How often each runtime was lowest, over the groups that ranked one (performance is hard to predict)."""
    winners = Counter(g.best.runtime_label for g in view.groups if g.best is not None and len(g.series) > 1)
    ranked = sum(winners.values())
    if not ranked:
        return []
    counts = ", ".join(f"{label} in {n}" for label, n in winners.most_common())
    return [
        {
            "kind": "ranking",
            "text": f"Lowest mean of its group (descriptive; the verdicts follow), over {ranked} groups with more "
            f"than one runtime: {counts}.",
            "wins": dict(winners),
            "groups": ranked,
        }
    ]


def _not_measured(view: View) -> list[dict]:
    out = []
    for group in view.groups:
        for s in group.series:
            if not s.finished:
                reasons = "; ".join(sorted({r.status_reason or r.status for r in s.runs}))[:300]
                out.append(
                    {
                        "kind": "not measured",
                        "text": f"{s.name} was not measured for {group.model} at batch "
                        f"{group.batch_size} on {group.provider}: no run finished ({reasons}).",
                        "series": s.name,
                        "model": group.model,
                        "batch_size": group.batch_size,
                        "provider": group.provider,
                    }
                )
    for pruned in view.dataset.pruned:
        out.append(
            {"kind": "not measured", "text": f"{pruned.job} was not measured: {pruned.reason}.", "job": pruned.job}
        )
    return out


def _correlation_sentences(study: Study) -> list[dict]:
    out = []
    for c in study.correlations:
        where = f"on {c['provider']}" + (f" ({c['hardware']})" if c["hardware"] else "")
        if c["rho"] is None:
            text = f"Energy against time {where}: not computed ({c['note']})."
        else:
            ci = f", 95 % CI {c['ci95_low']:.2f} to {c['ci95_high']:.2f}" if c["ci95_low"] is not None else ""
            p = f"; p = {c['p_value']:.3g}, {c['p_method']}" if c.get("p_value") is not None else ""
            text = f"Energy per sample follows latency per sample {where} with Spearman ρ = {c['rho']:.2f}{ci} (n = {c['n']} series{p})."
            if c["ci95_low"] is None and c["note"]:
                text += f" ({c['note']})"
            if c["departures"]:
                d = c["departures"][0]
                more = "more" if d["energy_vs_trend_rel"] > 0 else "less"
                text += f" Furthest from the trend: {d['series']}, {_pct(d['energy_vs_trend_rel'])} {more} energy than its latency predicts."
        out.append({"kind": "correlation", "text": text, **{k: v for k, v in c.items() if k != "departures"}})
    return out


def findings(view: View, study: Study) -> list[dict]:
    """Every conclusion, in reading order: each group's top line, the declared claims, then each comparison
    once, batch size (descriptive), energy against time, and what was not measured."""
    out = [
        {"kind": "group", "text": g.verdict, "model": g.model, "batch_size": g.batch_size, "provider": g.provider}
        for g in view.groups
    ]
    out += _claim_sentences(study)
    out += _answer_sentences(study)
    out += _ranking(view)
    out += _batch_sentences(study)
    out += _correlation_sentences(study)
    out += _not_measured(view)
    return out


def _claim_sentences(study: Study) -> list[dict]:
    """One sentence per declared hypothesis: its status, with the statistic or what would decide it."""
    if not study.claims:
        return []
    out = []
    for c in study.claims["claims"]:
        status = c["status"]
        tail = c["statistic"] if status in ("supported", "contradicted") else c["what_would_decide"]
        name = c.get("name") or c["id"]
        pre = "" if study.claims["preregistered"] else " (not preregistered)"
        shown = c.get("shown_as") or status  # a paper's claim tested here: "replicated on <hardware>: …"
        text = f"Claim {name}{pre}: {c['statement']} — {shown}" + (f" ({tail})" if tail else "") + "."
        out.append({"kind": "claim", "text": text, "id": c["id"], "metric": c.get("metric"), "status": status})
    return out


def conversion_record(row: Row) -> dict:
    """A conversion row under the names users load in notebooks (docs/report.md)."""
    return {
        "model": row.model,
        "batch_size": row.batch_size,
        "provider": row.provider,
        "hardware": row.hardware,
        "mode": row.extra.get("mode"),
        "source": row.extra.get("source"),
        "metric": row.metric,
        "estimated": row.estimated,
        "native_mean": row.reference_mean,
        "onnx_mean": row.other_mean,
        "delta_rel": row.delta_rel,
        "ci_low": row.ci_low,
        "ci_high": row.ci_high,
        "verdict": row.verdict,
        "n_native": row.n_reference,
        "n_onnx": row.n_other,
    }


def findings_document(view: View, study: Study) -> dict:
    """``findings.json``: what the report shows, for machines (docs/report.md)."""
    return _numbers(
        {
            "schema": SCHEMA,
            "title": view.dataset.title,
            "generated_at": view.generated_at,
            "alpha": study.family.alpha,
            "guarantee": study.family.guarantee,
            "equivalence_margin_rel": study.margin_rel,
            "findings": findings(view, study),
            "limits": limits(view, study),
            "comparisons": [a.record() for a in study.answers],
            "conversions": [conversion_record(r) for r in study.conversions],
            "providers": [_fields(r) | r.extra for r in study.providers],
            "batch_effects": [_fields(r) | r.extra for r in study.batch_effects],
            "correlation": study.correlations,
            "overview": study.overview,
            "adaptive": study.design.to_dict() if study.design is not None else None,
            "claims": study.claims,
        }
    )


def _numbers(value):
    """A batch size is a number in findings.json (a report groups by it as text: ``"64"`` → ``64``)."""
    if isinstance(value, dict):
        return {
            k: int(v) if k in ("batch_size", "small_batch") and isinstance(v, str) and v.isdigit() else _numbers(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def findings_json(view: View, study: Study) -> str:
    return json.dumps(findings_document(view, study), indent=2, default=str, allow_nan=False)
