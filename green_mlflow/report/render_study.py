"""HTML of the study's sections (``report.study``, ``report.findings``): overview heat map, findings, the
conversion, provider and batch-size tables, equivalence, energy against time, and where each group's energy
went by domain. Every run string is escaped (``_e``); numbers come from the same tables as ``findings.json``.
"""

from __future__ import annotations

import math
from html import escape

from green_mlflow.report.comparisons import percent
from green_mlflow.report.findings import WORDS
from green_mlflow.study.groups import Group
from green_mlflow.study.tables import Row, Study

DOMAINS = ("gpu", "cpu", "dram")
UTILISATION = (
    ("cpu_util_process_percent", "CPU % (process)"),
    ("gpu_util_percent", "GPU %"),
    ("process_rss_peak_mb", "RSS peak MB"),
    ("gpu_mem_used_peak_mb", "GPU memory peak MB"),
)
CSS = """
.heat td.h{text-align:right;font-variant-numeric:tabular-nums}.findings li{margin:3px 0}
.findings li.k-conversion{list-style:square}.findings li.k-inconclusive{color:#744210}
td.lower{background:#f0fff4}td.higher{background:#fff5f5}td.inc{color:#744210}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _g(value: float | None, spec: str = ".4g") -> str:
    return '<span class="gap">—</span>' if value is None else format(value, spec)


def _pct(value: float | None) -> str:
    return '<span class="gap">—</span>' if value is None else f"{percent(value * 100, True)} %"


HEAT_TOP = 16.0  # the darkest cell: 16 times the group's best or more


def heat(rel: float | None) -> str:
    """Background from white (the group's best) to dark red (``HEAT_TOP`` times the best or more), on a log
    scale: ×2, ×4, ×8 and ×16 are equal steps, so the ratios a study shows (×1.3 … ×10) differ in colour."""
    if rel is None or not rel > 0:
        return ""
    level = max(0.0, min(1.0, math.log(rel) / math.log(HEAT_TOP)))
    return f' style="background:rgb({int(255 - 75 * level)},{int(255 - 200 * level)},{int(255 - 200 * level)})"'


def overview(study: Study) -> str:
    cells = study.overview
    if not cells:
        return ""
    columns = sorted({(c["model"], c["batch_size"], c["provider"], c["hardware"]) for c in cells},
                     key=lambda k: (k[0], k[2], int(k[1]) if k[1].isdigit() else 1 << 30, k[3]))  # fmt: skip
    series = sorted({c["series"] for c in cells})
    value = {(c["series"], c["model"], c["batch_size"], c["provider"], c["hardware"]): c for c in cells}
    head = "".join(f"<th>{_e(m)}<br>batch {_e(b)}<br>{_e(p)}</th>" for m, b, p, _ in columns)
    rows = []
    for name in series:
        tds = []
        for key in columns:
            cell = value.get((name, *key))
            rel = cell["relative_to_best"] if cell else None
            text = "best" if rel == 1.0 else (f"×{rel:.2f}" if rel is not None else "—")
            est = "≈" if cell and cell["estimated"] else ""
            tds.append(f'<td class="h"{heat(rel)}>{est}{text}</td>')
        rows.append(f"<tr><th>{_e(name)}</th>{''.join(tds)}</tr>")
    return (
        '<section id="overview"><h2>Overview: each runtime against its group\'s best</h2>'
        '<p class="small">Energy per sample (the group\'s basis; ≈ estimated) divided by the lowest of its group; '
        "darker is costlier, on a log scale (×2, ×4, ×8 and ×16 or more are equal steps). Latency where no energy "
        "covers the group.</p>"
        f'<table class="heat"><tr><th>runtime</th>{head}</tr>{"".join(rows)}</table></section>'
    )


def findings(items: list[dict]) -> str:
    if not items:
        return ""
    lis = "".join(
        f'<li class="k-{_e(f["kind"].replace(" ", "-"))}{" k-inconclusive" if str(f.get("verdict", "")).startswith("inconclusive") else ""}">'
        f"{_e(f['text'])}</li>"
        for f in items
    )
    return (
        '<section id="findings"><h2>Findings</h2><p class="small">Generated from the tables below, each with its '
        'statistic and n; "equivalent" only from a TOST, never from a non-significant difference.</p>'
        f'<ul class="findings">{lis}</ul></section>'
    )


def limits(sentences: list[str]) -> str:
    """What the study does not show, in the visible text (not only in tooltips)."""
    if not sentences:
        return ""
    items = "".join(f"<li>{_e(s)}</li>" for s in sentences)
    return f'<section id="limits"><h2>What this study does not show</h2><ul>{items}</ul></section>'


def _table(section_id: str, title: str, intro: str, rows: list[Row], ref: str, other: str) -> str:
    if not rows:
        return ""
    head = (
        f"<tr><th>model</th><th>batch</th><th>provider</th><th>{ref}</th><th>{other}</th><th>quantity</th>"
        "<th>n</th><th>Δ (other/ref − 1)</th><th>repeated CI</th><th>verdict</th></tr>"
    )
    body = []
    for r in rows:
        css = "lower" if r.verdict == "lower" else "higher" if r.verdict == "higher" else "inc"
        ci = f"{_pct(r.ci_low)} to {_pct(r.ci_high)}" if r.ci_low is not None else '<span class="gap">—</span>'
        body.append(
            f"<tr><td>{_e(r.model)}</td><td>{_e(r.batch_size)}</td><td>{_e(r.provider)}</td><td>{_e(r.reference)}</td>"
            f"<td>{_e(r.other)}</td><td>{_e(WORDS.get(r.metric, r.metric))}</td>"
            f'<td class="n">{r.n_other} vs {r.n_reference}</td><td class="n">{_pct(r.delta_rel)}</td>'
            f'<td class="n">{ci}</td><td class="{css}">{_e(r.verdict)}</td></tr>'
        )
    return f'<section id="{section_id}"><h2>{title}</h2><p class="small">{intro}</p><table>{head}{"".join(body)}</table></section>'


def tables(study: Study) -> str:
    same = "verdicts and intervals are the answers of the Comparisons section; latency rows are descriptive"
    parts = [
        _table("conversions", "Conversion: ONNX against its source framework",
               f"Each onnx (from X) against native X in the same model, batch, provider and hardware; {same}.",
               study.conversions, "native", "onnx"),
        _table("providers", "Execution providers: the same model on cpu, cuda, tensorrt",
               f"Each provider against the lowest one for the same series; {same}. Energy only where every "
               "provider has the same kind of figure.", study.providers, "reference (lowest)", "other"),
        _table("batch-effects", "Batch size: energy per sample at the largest against the smallest batch",
               "Per runtime and mode; descriptive (ratio of geometric means), not tested.", study.batch_effects,
               "smallest batch", "largest batch"),
    ]  # fmt: skip
    return claims(study) + comparisons(study) + "".join(parts) + correlations(study)


def claims(study: Study) -> str:
    """The declared hypotheses, each on each metric it names (energy and latency side by side), with its status,
    the statistic behind it, what its n counts, how much of its scope was measured and every pair it read."""
    declared = study.claims
    if not declared:
        return ""
    css = {"supported": "lower", "contradicted": "higher"}
    rows = []
    for c in declared["claims"]:
        why = c["what_would_decide"] if c["status"] in ("inconclusive", "not measured", "partly measured") else ""
        interval = (
            f"{_g(c['ratio'], '.3g')} ({_g(c['interval_low'], '.3g')} to {_g(c['interval_high'], '.3g')})"
            if c["interval_low"] is not None
            else _g(c["ratio"], ".3g")
        )
        pairs = c.get("pairs") or []
        listed = (
            f"<details><summary>{len(pairs)} read</summary><ul>{''.join(f'<li>{_e(x)}</li>' for x in pairs)}</ul>"
            "</details>"
            if pairs
            else "—"
        )
        rows.append(
            f'<tr data-claim="{_e(c.get("name") or c["id"])}"><td>{_e(c.get("name") or c["id"])}</td>'
            f"<td>{_e(c['statement'])}</td><td>{_e(c['kind'])}</td><td>{_e(c.get('metric', 'energy'))}</td>"
            f'<td class="{css.get(c["status"], "inc")}">{_e(c.get("shown_as") or c["status"])}</td>'
            f'<td>{_e(c["statistic"])}</td><td class="n">{interval}</td>'
            f"<td>{_e(c.get('n_counts') or '—')}</td><td>{listed}</td><td>{_e(why)}</td><td>{_e(c['tested_on'])}</td></tr>"
        )
    error = f'<p class="small">{_e(declared["error"])}</p>' if declared.get("error") else ""
    return (
        f'<section id="claims"><h2>Claims: the declared hypotheses</h2><p class="small">{_e(declared["source"])} '
        f"(sha256 {_e(declared['sha256'][:12])}…): {_e(declared['note'])}. <strong>Guarantee: "
        f'{_e(declared.get("guarantee", ""))}</strong> (docs/method.md, "What a verdict guarantees"). A claim '
        "about energy and time is tested on each, side by side; a claim measured on part of its scope is "
        '"partly measured: k of m", never supported on the part.</p>'
        f"{error}<table><tr><th>id</th><th>hypothesis</th><th>kind</th><th>metric</th><th>status</th>"
        "<th>statistic</th><th>ratio or ρ (bounds)</th><th>n counts</th><th>pairs and groups</th>"
        "<th>what would decide it</th><th>tested on</th></tr>"
        f"{''.join(rows)}</table></section>"
    )


def comparisons(study: Study) -> str:
    """Every question of the study, once: its verdict, effect, interval, n and looks, under the family's
    guarantee stated above the table."""
    if not study.answers:
        return ""
    body = []
    for ans in study.answers:
        q = ans.record()
        css = {"lower": "lower", "higher": "higher", "equivalent": "lower"}.get(q["verdict"], "inc")
        ci = f"{_pct(q['ci_low_rel'])} to {_pct(q['ci_high_rel'])}" if q["ci_low_rel"] is not None else "—"
        verdict = q["verdict"] if q["verdict"] != "open" else f"open: {q['reason']}"
        body.append(
            f"<tr><td>{_e(q['question'])}</td><td>{_e(', '.join(q['kinds']))}</td>"
            f'<td class="n">{_pct(q["delta_rel"])}</td><td class="n">{ci}</td>'
            f'<td class="n">{q["looks"]}</td><td class="n">{q["n_other"]} vs {q["n_reference"]}</td>'
            f'<td class="{css}">{_e(verdict)}</td></tr>'
        )
    decided = sum(1 for a in study.answers if a.decided)
    design = study.design
    how = (
        f"an adaptive sweep: {len(design.rounds)} look(s) ({_e(design.stopped or 'running')}), "
        f"{design.min_repetitions} to {design.max_repetitions} repetitions per configuration"
        if design is not None
        else "one look at the finished runs"
    )
    level = study.answers[0].result.ci_percent
    return (
        '<section id="comparisons"><h2>Comparisons: the study\'s questions, one verdict each</h2>'
        f'<p class="small"><strong>Guarantee: {_e(study.family.guarantee)}.</strong> {decided} of '
        f"{len(study.answers)} decided; data from {how}. Method: {_e(study.answers[0].result.method)}; "
        f'equivalence margin ±{study.margin_rel * 100:.3g} % (docs/method.md, "What a verdict guarantees").</p>'
        "<table><tr><th>question</th><th>asked by</th><th>(B − A)/A</th>"
        f"<th>{level} repeated CI</th><th>looks</th><th>n (B vs A)</th><th>verdict</th></tr>"
        f"{''.join(body)}</table></section>"
    )


def correlations(study: Study) -> str:
    if not study.correlations:
        return ""
    rows = []
    for c in study.correlations:
        ci = f"{c['ci95_low']:.2f} to {c['ci95_high']:.2f}" if c["ci95_low"] is not None else "—"
        far = "; ".join(
            f"{_e(d['series'])} ({percent(d['energy_vs_trend_rel'] * 100, sign=True)} %)" for d in c["departures"]
        )
        rows.append(
            f'<tr><td>{_e(c["provider"])}</td><td>{_e(c["hardware"])}</td><td class="n">{c["n"]}</td>'
            f'<td class="n">{_g(c["rho"], ".3f")}</td><td class="n">{ci}</td><td>{far or "—"}</td></tr>'
        )
    return (
        '<section id="energy-time"><h2>Energy against time</h2><p class="small">Spearman\'s ρ of energy per sample '
        "against latency per sample over the series (95 % CI: Fisher z); the series furthest from the log-log "
        "trend use more (+) or less (−) energy than their latency predicts: there, energy is not time × power."
        "</p><table><tr><th>provider</th><th>hardware</th><th>n</th><th>ρ</th><th>95 % CI</th>"
        f"<th>furthest from the trend</th></tr>{''.join(rows)}</table></section>"
    )


def _domain_column(group: Group, domain: str) -> tuple[str, str] | None:
    """The domain's per-sample energy metric some series logged: net before gross, measured before estimated."""
    for kind in ("net", "gross"):
        for est in ("", "_estimated"):
            metric = f"{domain}_energy_per_sample_{kind}{est}_j"
            if any(s.values(metric) for s in group.series):
                return metric, f"{domain.upper()} {kind}{' ≈' if est else ''} J/sample"
    return None


def domain_table(group: Group) -> str:
    """Where the energy went (GPU, CPU, DRAM; net where idle was subtracted, ≈ estimated) and utilisation."""
    columns = [found for domain in DOMAINS if (found := _domain_column(group, domain))]
    columns += [(m, label) for m, label in UTILISATION if any(s.values(m) for s in group.series)]
    if not columns:
        return ""
    head = "".join(f"<th>{_e(label)}</th>" for _, label in columns)
    rows = []
    for s in group.series:
        cells = []
        for metric, _ in columns:
            values = s.values(metric)
            cells.append(f'<td class="n">{_g(sum(values) / len(values)) if values else _g(None)}</td>')
        rows.append(f"<tr><td>{_e(s.name)}</td>{''.join(cells)}</tr>")
    return (
        f"<h3>Where the energy went, and utilisation</h3><table><tr><th>runtime</th>{head}</tr>{''.join(rows)}</table>"
    )
