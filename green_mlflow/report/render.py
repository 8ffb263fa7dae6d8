"""The comparison view as one HTML document: the server page and the offline report share this code.

The document is self-contained: CSS and the one small script are inline, charts are inline SVG, and
nothing is fetched. Every string that came from a run goes through ``_e`` (``html.escape``); the data
blob for the download link is JSON with ``<``, ``>`` and ``&`` escaped, so no run string can close its
``<script>`` element. A Content-Security-Policy lets only that script (by hash) run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Callable
from html import escape

from green_mlflow.report import render_study, svg
from green_mlflow.report.analysis import View
from green_mlflow.report.comparisons import how_sure, percent
from green_mlflow.report.findings import findings_document
from green_mlflow.report.study import Study, study
from green_mlflow.study.defaults import MARGIN_REL
from green_mlflow.study.groups import LATENCY, Group, Quantity, Series
from green_mlflow.study.runs import JobRun
from green_mlflow.study.summary import Summary

RunLink = Callable[[JobRun], "str | None"]
METHOD_LEGEND = {
    "counter": "an energy counter read at window edges (NVML total energy, RAPL energy_uj)",
    "polled": "NVML power polled by the sampler process and integrated (GPUs without an energy counter)",
    "estimated": "a model, not a measurement (e.g. TDP × CPU utilisation); shown ≈ and hatched",
    "unavailable": "nothing could be read; the figure is absent, never 0",
}
CSS = (
    """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1a202c;margin:0 auto;max-width:1200px;
padding:0 16px 40px}
h1{font-size:22px;margin:18px 0 4px}h2{font-size:18px;margin:28px 0 6px;border-bottom:2px solid #e2e8f0}
h3{font-size:15px;margin:16px 0 6px}.meta{color:#4a5568;margin:0 0 8px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border:1px solid #e2e8f0;padding:4px 7px;text-align:left;vertical-align:top}th{background:#f7fafc}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.gap{color:#a0aec0}.est{background:#fffaf0;color:#9c4221}.est b{font-size:11px;border:1px solid #dd6b20;
border-radius:3px;padding:0 3px;margin-left:3px;font-weight:600}
.best{background:#f0fff4}.verdict{font-size:15px;background:#ebf8ff;border-left:4px solid #3182ce;padding:6px 10px}
.warn{background:#fff5f5;border-left:4px solid #e53e3e;padding:4px 10px}
.charts{display:flex;flex-wrap:wrap;gap:10px}svg.chart{background:#fff;border:1px solid #edf2f7;font-size:11px}
svg .ct{font-weight:600;font-size:12px}svg .tk{fill:#4a5568;font-size:10px}svg .v{font-size:10px}
.small{font-size:12px;color:#4a5568}td.methods{min-width:200px}code{background:#edf2f7;padding:0 3px;border-radius:3px}
"""
    + render_study.CSS
)
# Builds a download link for the embedded numbers; the page reads fine without it (MLflow's artifact
# preview may sandbox scripts away).
SCRIPT = """(function(){var d=document.getElementById('green-data');var a=document.getElementById('green-download');
if(!d||!a)return;var b=new Blob([d.textContent],{type:'application/json'});a.href=URL.createObjectURL(b);
a.download='green_mlflow_comparison.json';a.hidden=false;})();"""
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    f"script-src 'sha256-{base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()}'"
)


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _num(value: float) -> str:
    return f"{value:.4g}"


def json_for_script(payload: object) -> str:
    """JSON that cannot end its ``<script>`` element or open a comment, whatever strings it holds."""
    text = json.dumps(payload, ensure_ascii=False, allow_nan=False, default=str)
    for char, code in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, code)
    return text


def mean_pm(mean: float, half: float) -> str:
    """``mean ± half`` to the precision the interval supports: the half-width to two significant digits and the
    mean to the same decimal place (0.278 ± 0.099, not 0.278 ± 0.09884; 241 ± 160)."""
    if not half > 0 or not math.isfinite(half):
        return f"{_num(mean)} ± {_num(half)}"
    decimals = max(0, 1 - math.floor(math.log10(half)))
    return f"{mean:.{decimals}f} ± {half:.{decimals}f}"


def _cell(summary: Summary | None, quantity: Quantity) -> str:
    if summary is None or summary.mean is None:
        return '<td class="n gap" title="not logged by any finished run">—</td>'
    value = _num(summary.mean)
    if summary.ci95_low is not None and summary.ci95_high is not None:
        value = mean_pm(summary.mean, (summary.ci95_high - summary.ci95_low) / 2)
        title = f"mean over {summary.n} runs, 95% CI [{_num(summary.ci95_low)}, {_num(summary.ci95_high)}]"
    else:
        title = f"{summary.n} run: no confidence interval"
    if quantity.estimated:
        return f'<td class="n est" title="estimated, not measured; {title}">≈ {value}<b>est.</b></td>'
    return f'<td class="n" title="{title}">{value}</td>'


def _methods(series: Series) -> str:
    if not series.methods:
        return '<span class="gap">no energy tags</span>'
    run = next((r for r in series.finished if r.methods), None)
    parts = []
    for domain in sorted(series.methods):
        methods = "/".join(series.methods[domain])
        cls = ' class="est"' if "estimated" in series.methods[domain] else ""
        title = run.details.get(domain, "") if run else ""
        if run and domain in run.idle:
            title += f" | idle: {run.idle[domain]}"
        parts.append(f'<span{cls} title="{_e(title)}">{_e(domain)}: {_e(methods)}</span>')
    covers = "; ".join(f"{k.replace('_', ' ')} = {v}" for k, v in sorted(run.covers.items())) if run else ""
    return f'<span title="{_e(covers)}">' + " · ".join(parts) + "</span>"


def _run_name(run: JobRun, link: RunLink | None) -> str:
    href = link(run) if link else None
    name = _e(run.run_name or run.run_id)
    return f'<a href="{_e(href)}">{name}</a>' if href else name


def _series_table(group: Group) -> str:
    head = ["runtime", "mode", "runs"]
    head += [f"{q.label}{' — estimated' if q.estimated else ''} ({q.unit})" for q in group.quantities]
    basis = group.basis
    if basis is not None:
        head += [f"vs best: Δ {basis.label}", "interval, n", "verdict"]
    head.append("how the energy was obtained")
    rows = ["<tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    for series in group.series:
        finished = len(series.finished)
        cls = ' class="best"' if series is group.best else ""
        cells = [
            f"<td>{_e(series.runtime_label)}</td><td>{_e(series.mode)}</td>",
            f'<td class="n">{finished} of {len(series.runs)} finished</td>',
        ]
        cells += [_cell(series.summaries.get(q.metric), q) for q in group.quantities]
        if basis is not None:
            cells.append(_comparison_cells(group, series))
        cells.append(f'<td class="small methods">{_methods(series)}</td>')
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f'<table class="series">{"".join(rows)}</table>'


def _comparison_cells(group: Group, series: Series) -> str:
    """The series against the group's best: the study's answer (``comparisons.apply``), the same as elsewhere."""
    if series is group.best:
        return '<td colspan="3">best (lowest mean)</td>'
    answer = group.comparisons.get(series.name)
    if answer is None:
        return '<td colspan="3" class="gap">no figure to compare</td>'
    delta = "?" if answer["delta_rel"] is None else f"{percent(answer['delta_rel'] * 100, sign=True)} %"
    return (
        f'<td class="n">{_e(delta)}</td><td class="n">{_e(how_sure(answer))}</td>'
        f'<td title="{_e(answer["reason"])}">{_e(answer["verdict"])}</td>'
    )


def _charts(group: Group) -> str:
    charts = []
    energy = group.basis if group.basis is not None and group.basis.energy else None
    for quantity in [q for q in (energy, LATENCY) if q is not None and q in group.quantities]:
        bars = []
        for s in group.series:
            summary = s.summaries.get(quantity.metric)
            if summary is not None and summary.mean is not None:
                bars.append(
                    svg.Bar(
                        s.name,
                        summary.mean,
                        summary.ci95_low,
                        summary.ci95_high,
                        quantity.estimated,
                        s is group.best,
                        tuple(s.values(quantity.metric)),
                    )
                )
        if bars:
            charts.append(svg.bar_chart(f"{quantity.label}, mean, 95% CI and each repetition", quantity.unit, bars))
    if group.points and energy is not None:
        points = [(p.name, p.latency_ms, p.energy_j, p.on_front) for p in group.points]
        charts.append(
            svg.scatter(
                "energy vs latency, Pareto front",
                points,
                f"{LATENCY.label} (ms)",
                f"{energy.label} (J)",
                energy.estimated,
            )
        )
    return f'<div class="charts">{"".join(charts)}</div>' if charts else ""


def _trace_title(metric: str, unit: str) -> str:
    """``system/gpu_0_power_usage_watts`` → ``gpu 0 power usage``; ``trace_process_rss_mb`` → ``process rss``."""
    return metric.removeprefix("trace_").removeprefix("system/").removesuffix(f"_{unit}").replace("_", " ")


def _traces(group: Group) -> str:
    if not group.trace_runs:
        return ""
    metrics = sorted({m for run in group.trace_runs for m in group.traces.get(run[1].run_id, {})})
    if not metrics:
        return '<p class="small gap">No utilisation or power trace was logged for the chosen runs.</p>'
    charts = []
    for metric in metrics:
        lines = [
            (f"{role.split()[0]}: {run.runtime_label} {run.mode}", group.traces[run.run_id][metric])
            for role, run in group.trace_runs
            if metric in group.traces.get(run.run_id, {})
        ]
        unit = metric.rsplit("_", 1)[-1]
        charts.append(svg.line_chart(_trace_title(metric, unit), unit, lines))
    return f'<h3>Traces of chosen runs</h3><div class="charts">{"".join(charts)}</div>'


def _group(index: int, group: Group, link: RunLink | None) -> str:
    parts = [f'<section class="group" id="group-{index}"><h2>{_e(group.title)}</h2>']
    parts.append(f'<p class="verdict">{_e(group.verdict)}</p>')
    parts.append(_series_table(group))
    parts.append(render_study.domain_table(group))
    parts.append(_charts(group))
    parts.append(_traces(group))
    for note in group.notes:
        parts.append(f'<p class="small warn">{_e(note)}</p>')
    parts.append(_flagged(group, link))
    if group.trace_runs:
        chosen = ", ".join(f"{_e(role)}: {_run_name(run, link)}" for role, run in group.trace_runs)
        parts.append(f'<p class="small">Runs whose traces are shown — {chosen}.</p>')
    parts.append("</section>")
    return "".join(parts)


def _flagged(group: Group, link: RunLink | None) -> str:
    """Runs measured beside other work or drifting: kept in every figure above, listed here to judge."""
    items = [
        f"<li>{_run_name(run, link)} ({_e(series.name)}): {_e(tag.removeprefix('green.').replace('_', ' '))} "
        f"{_e(value)}</li>"
        for series in group.series
        for run in series.runs
        for tag, value in sorted(run.flags.items())
    ]
    if not items:
        return ""
    return (
        '<div class="flagged warn"><p class="small">⚠ Flagged runs, included in every figure above (nothing is '
        f'dropped silently): judge them yourself or measure again.</p><ul class="small">{"".join(items)}</ul></div>'
    )


def _not_finished(view: View, link: RunLink | None) -> str:
    pruned = view.dataset.pruned
    if not view.not_finished and not pruned:
        return '<section id="not-finished"><h2>Failed and pruned jobs</h2><p>None: every job finished.</p></section>'
    rows = ["<tr><th>job</th><th>status</th><th>reason</th></tr>"]
    for run in view.not_finished:
        reason = run.status_reason or ("still running" if run.status == "RUNNING" else "no reason recorded")
        rows.append(f"<tr><td>{_run_name(run, link)}</td><td>{_e(run.status)}</td><td>{_e(reason)}</td></tr>")
    for job in pruned:
        rows.append(f"<tr><td>{_e(job.job)}</td><td>PRUNED</td><td>{_e(job.reason)}</td></tr>")
    return f'<section id="not-finished"><h2>Failed and pruned jobs</h2><table>{"".join(rows)}</table></section>'


def _method_section(view: View) -> str:
    methods = "".join(f"<li><code>{m}</code>: {_e(text)}</li>" for m, text in METHOD_LEGEND.items())
    idle = []
    for sweep in view.dataset.sweeps:
        for name, watts in sorted(sweep.idle_power_w.items()):
            domain = name.removeprefix("idle_").split("_")[0]
            method = sweep.idle_methods.get(domain, "method not logged")
            idle.append(f"{_e(sweep.run_name)}: <code>{_e(name)}</code> = {_num(watts)} W ({_e(method)})")
    idle_text = "; ".join(idle) if idle else "no idle power was logged (net energy needs it)"
    return (
        '<section id="method"><h2>How the numbers were obtained</h2><ul>'
        "<li>Each finished run (one repetition) is one sample; a cell shows mean ± half-width of the Student-t "
        "95% confidence interval (no interval for a single run). Gaps (—) are figures no run logged: they are "
        "never 0.</li><li>Energy per sample: <em>gross</em> is what the meters read over the measured windows, "
        "<em>net</em> subtracts idle power × measured time. Measured totals sum only measured domains; the "
        "<em>estimated</em> columns add estimated domains and are marked ≈ / est. / hatched.</li>"
        f"<li>Energy method per domain: <ul>{methods}</ul></li>"
        "<li>Latency: wall-clock time per batch, the device synchronised after every iteration.</li>"
        "<li>Every verdict (the top lines, the Comparisons section, the tables' verdict columns, the claims) comes "
        "from one estimate — the ratio of the geometric means, Welch's standard error, Hsu's degrees of freedom "
        "min(n) − 1 — and one decision: repeated confidence intervals over the looks the sweep took (one look for "
        "a sweep that was not adaptive), each comparison at its share of its family's α (docs/method.md, "
        '"What a verdict guarantees").</li>'
        f"<li>Idle power: {idle_text}.</li></ul></section>"
    )


def _data(view: View) -> dict:
    return {
        "experiment": view.dataset.experiment_name,
        "groups": [
            {
                "model": g.model,
                "batch_size": g.batch_size,
                "provider": g.provider,
                "verdict": g.verdict,
                "series": [
                    {
                        "runtime": s.runtime_label,
                        "mode": s.mode,
                        "runs": [r.run_id for r in s.runs],
                        "summaries": {m: vars(summary) for m, summary in s.summaries.items()},
                    }
                    for s in g.series
                ],
            }
            for g in view.groups
        ],
    }


def render(
    view: View,
    link: RunLink | None = None,
    offline: bool = True,
    margin_rel: float = MARGIN_REL,
    answers: Study | None = None,
) -> str:
    """The whole view as one HTML document; ``link`` gives each run's MLflow UI address (server page only);
    ``margin_rel`` is the equivalence margin (±5 % by default)."""
    dataset = view.dataset
    answers = answers or study(view, margin_rel)
    document = findings_document(view, answers)
    finished = sum(1 for r in dataset.runs if r.finished)
    sweeps = ", ".join(_e(s.run_name or s.run_id) for s in dataset.sweeps) or "none"
    verdicts = "".join(
        f'<li><a href="#group-{i}">{_e(g.title)}</a>: {_e(g.verdict)}</li>' for i, g in enumerate(view.groups)
    )
    body = [
        f"<h1>Which runtime? {_e(dataset.title)}</h1>",
        f'<p class="meta">experiment {_e(dataset.experiment_name)} · sweeps: {sweeps} · {len(dataset.runs)} job runs, '
        f"{finished} finished, {len(dataset.pruned)} pruned · generated {_e(view.generated_at)}"
        f"{' · offline report' if offline else ''}</p>",
    ]
    body += [f'<p class="warn">{_e(w)}</p>' for w in dataset.warnings]
    if view.groups:
        body.append(render_study.overview(answers))
        body.append(render_study.findings(document["findings"]))
        body.append(render_study.limits(document["limits"]))
        body.append(f'<section id="verdicts"><h2>Verdicts</h2><ul>{verdicts}</ul></section>')
        body.append(render_study.tables(answers))
    else:
        body.append('<p class="warn">No job runs (tag green.kind=job) in this selection yet.</p>')
    body += [_group(i, g, link) for i, g in enumerate(view.groups)]
    body.append(_not_finished(view, link))
    body.append(_method_section(view))
    body.append('<p class="small"><a id="green-download" hidden>Download these numbers (JSON)</a></p>')
    data = {**_data(view), "findings": document}
    body.append(f'<script type="application/json" id="green-data">{json_for_script(data)}</script>')
    body.append(f"<script>{SCRIPT}</script>")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>green_mlflow · {_e(dataset.title)}</title><style>{CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )
