"""The study's conclusions as sentences generated from the data, each with its statistic and n, and the
machine-readable ``findings.json`` that holds them with every table behind them.

No sentence is written for a particular result: each comes from a rule over the tables of ``study``, and a
rule that has nothing to say says "inconclusive" or "not measured" rather than nothing.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

from green_mlflow.report.analysis import ALPHA, LATENCY, View, p_text
from green_mlflow.report.study import EquivalenceRow, Row, Study

SCHEMA = "green_mlflow.findings/1"
WORDS = {
    "energy_per_sample_net_j": "net energy per sample",
    "energy_per_sample_gross_j": "gross energy per sample",
    "energy_per_sample_net_estimated_j": "net energy per sample (estimated)",
    "energy_per_sample_gross_estimated_j": "gross energy per sample (estimated)",
    LATENCY.metric: "latency",
}


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{abs(value) * 100:.3g} %"


def _ci(row: Row) -> str:
    if row.ci_low is None or row.ci_high is None:
        return "no interval: too few runs"
    return f"95 % CI {row.ci_low * 100:+.3g} to {row.ci_high * 100:+.3g} %"


def _where(row: Row | EquivalenceRow) -> str:
    return f"{row.model} at batch {row.batch_size} on {row.provider}"


def _stat(row: Row) -> str:
    p = f"{p_text(row.p_holm)}, Holm-corrected" if row.p_holm is not None else "no test"
    return f"{_ci(row)}; {p}; n = {row.n_other} vs {row.n_reference}"


def _comparison_sentence(row: Row, kind: str) -> dict:
    what = WORDS.get(row.metric, row.metric)
    more = "less" if (row.delta_rel or 0) < 0 else "more"
    if row.metric == LATENCY.metric:
        more = "lower" if (row.delta_rel or 0) < 0 else "higher"
    # provider rows name the provider in each side already
    where = f"{row.model} at batch {row.batch_size}" if kind == "provider" else _where(row)
    claim = f"{row.other} had {_pct(row.delta_rel)} {more} {what} than {row.reference} for {where}"
    if row.verdict in ("lower", "higher"):
        text = f"{claim} ({_stat(row)})."
    elif row.verdict == "no significant difference":
        text = (
            f"No significant difference: {claim} on average ({_stat(row)}); this is not evidence that they are equal."
        )
    else:
        text = f"Inconclusive: {claim} on average, but {row.verdict.split(': ', 1)[-1]} ({_stat(row)})."
    return {"kind": kind, "text": text, "verdict": row.verdict, **_fields(row)}


def _fields(row) -> dict:
    return {k: v for k, v in dataclasses.asdict(row).items() if k != "extra"}


def _equivalence_sentence(row: EquivalenceRow) -> dict:
    what = WORDS.get(row.metric, row.metric)
    margin = f"±{row.margin_rel * 100:.3g} %"
    ci = (
        f"90 % CI of the difference {row.ci90_low_rel * 100:+.3g} to {row.ci90_high_rel * 100:+.3g} %"
        if row.ci90_low_rel is not None
        else "no interval"
    )
    stat = f"TOST {p_text(row.p_tost)}" if row.p_tost is not None else "no TOST"
    if row.verdict == "equivalent":
        text = f"{row.a} and {row.b} are equivalent in {what} within {margin} for {_where(row)} ({ci}; {stat}; n = {row.n_a} vs {row.n_b})."
    else:
        text = f"{row.a} and {row.b} differ in {what} for {_where(row)} ({ci}; {stat}, margin {margin}; n = {row.n_a} vs {row.n_b})."
    return {"kind": "equivalence", "text": text, "verdict": row.verdict, **dataclasses.asdict(row)}


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
            "text": f"Lowest of its group, over {ranked} groups with more than one runtime: {counts}.",
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
    """Every conclusion, in reading order: rankings, conversions, providers, batch size, equivalence, energy vs time."""
    out = _ranking(view)
    out += [
        {"kind": "group", "text": g.verdict, "model": g.model, "batch_size": g.batch_size, "provider": g.provider}
        for g in view.groups
    ]
    out += [_comparison_sentence(r, "conversion") for r in study.conversions]
    out += [_comparison_sentence(r, "provider") for r in study.providers]
    out += [_comparison_sentence(r, "batch size") for r in study.batch_effects]
    out += [_equivalence_sentence(r) for r in study.equivalences if r.verdict in ("equivalent", "different")]
    out += _correlation_sentences(study)
    out += _adaptive_sentences(study)
    out += _claim_sentences(study)
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
        pre = "" if study.claims["preregistered"] else " (not preregistered)"
        text = f"Claim {c['id']}{pre}: {c['statement']} — {status}" + (f" ({tail})" if tail else "") + "."
        out.append({"kind": "claim", "text": text, "id": c["id"], "status": status})
    return out


def _adaptive_sentences(study: Study) -> list[dict]:
    """An adaptive sweep's decided questions, each with the method, the looks and n per side."""
    design = study.adaptive
    if not design:
        return []
    out = []
    for q in design["questions"]:
        if q["verdict"] == "open":
            text = (
                f"Open: {q['question']} — {q['reason']} ({q['looks']} looks, n = {q['n_reference']} vs {q['n_other']})."
            )
        else:
            amount = f"{q['delta_rel'] * 100:+.3g} %" if q["delta_rel"] is not None else "?"
            ci = (
                f", repeated 95 % CI {q['ci95_low_rel'] * 100:+.3g} % to {q['ci95_high_rel'] * 100:+.3g} %"
                if q["ci95_low_rel"] is not None
                else ""
            )
            what = (
                "equivalent within ±" + f"{q['margin_rel'] * 100:.3g} %"
                if q["verdict"] == "equivalent"
                else q["verdict"]
            )
            text = (
                f"{q['question']}: {what} ({amount}{ci}; decided at look {q['decided_at_look']} of {q['looks']}, "
                f"n = {q['n_reference']} vs {q['n_other']}; {q['method']})."
            )
        out.append(
            {
                "kind": "adaptive",
                "text": text,
                **{k: q[k] for k in ("model", "batch_size", "verdict", "method", "looks", "n_reference", "n_other")},
            }
        )
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
        "test": row.test,
        "p_value": row.p_value,
        "p_holm": row.p_holm,
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
            "alpha": ALPHA,
            "equivalence_margin_rel": study.margin_rel,
            "findings": findings(view, study),
            "conversions": [conversion_record(r) for r in study.conversions],
            "providers": [_fields(r) | r.extra for r in study.providers],
            "batch_effects": [_fields(r) | r.extra for r in study.batch_effects],
            "equivalences": [dataclasses.asdict(r) for r in study.equivalences],
            "correlation": study.correlations,
            "overview": study.overview,
            "adaptive": study.adaptive,
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
