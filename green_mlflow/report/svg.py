"""Inline SVG charts: horizontal bars with confidence intervals, an energy-latency scatter, line traces.

SVG inside HTML needs no script and no network, so the same markup works on the server page, in the
offline report and in MLflow's artifact preview. Every label is escaped: run names and modes come from runs.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from html import escape

WIDTH = 570
LABEL_W = 170
ROW_H = 24
_IDS = itertools.count()  # pattern ids must be unique within the page that holds many charts
PALETTE = ("#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#2c7a7b", "#975a16", "#4a5568")


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _num(value: float) -> str:
    return f"{value:.4g}"


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}"><title>{_e(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` ticks at round values (steps of 1, 2 or 5 × 10^k) within [low, high]."""
    if high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks, tick = [], first
    while tick <= high + step * 1e-9:
        ticks.append(round(tick, 12))
        tick += step
    return ticks


@dataclass(frozen=True)
class Bar:
    """One series' mean with its 95% CI (None when n < 2); ``estimated`` bars are hatched."""

    name: str
    mean: float
    low: float | None
    high: float | None
    estimated: bool = False
    best: bool = False
    values: tuple[float, ...] = ()  # each repetition's value, drawn as a dot on its bar


def bar_chart(title: str, unit: str, bars: list[Bar]) -> str:
    """Horizontal bars from 0, one per series, with the CI as a whisker and each repetition as a dot."""
    plot_w = WIDTH - LABEL_W - 70
    top = max([b.high if b.high is not None else b.mean for b in bars] + [v for b in bars for v in b.values] + [0.0])
    top = top or 1.0
    height = 34 + ROW_H * len(bars) + 26
    hatch = f"hatch{next(_IDS)}"
    body = [
        f'<defs><pattern id="{hatch}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#fbd38d"/><line x1="0" y1="0" x2="0" y2="6" stroke="#c05621" '
        'stroke-width="2"/></pattern></defs>',
        f'<text x="4" y="16" class="ct">{_e(title)} ({_e(unit)})</text>',
    ]

    def x(value: float) -> float:
        return LABEL_W + plot_w * max(value, 0.0) / top

    for i, bar in enumerate(bars):
        y = 30 + i * ROW_H
        fill = f"url(#{hatch})" if bar.estimated else ("#2f855a" if bar.best else "#4a77b4")
        body.append(f'<text x="{LABEL_W - 6}" y="{y + 15}" text-anchor="end">{_e(_short(bar.name, 26))}</text>')
        body.append(
            f'<rect x="{LABEL_W}" y="{y + 3}" width="{max(x(bar.mean) - LABEL_W, 1):.1f}" height="{ROW_H - 8}" '
            f'fill="{fill}"><title>{_e(bar.name)}: {_num(bar.mean)} {_e(unit)}'
            f"{' (estimated)' if bar.estimated else ''}</title></rect>"
        )
        if bar.low is not None and bar.high is not None:
            lo, hi, mid = x(bar.low), x(bar.high), y + ROW_H / 2 - 1
            body.append(
                f'<path d="M{lo:.1f} {mid - 5}v10M{lo:.1f} {mid}H{hi:.1f}M{hi:.1f} {mid - 5}v10" '
                'stroke="#1a202c" fill="none"/>'
            )
        for j, value in enumerate(bar.values):  # jittered across the bar's height so equal values stay visible
            dy = (j % 5 - 2) * (ROW_H - 12) / 5
            body.append(
                f'<circle class="rep" cx="{x(value):.1f}" cy="{y + ROW_H / 2 - 1 + dy:.1f}" r="2.2" fill="#1a202c" '
                f'fill-opacity="0.55"><title>repetition {j + 1}: {_num(value)} {_e(unit)}</title></circle>'
            )
        label_x = x(max([bar.high if bar.high is not None else bar.mean, *bar.values])) + 4
        body.append(
            f'<text x="{label_x:.1f}" y="{y + 15}" class="v">{"≈" if bar.estimated else ""}{_num(bar.mean)}</text>'
        )
    axis_y = 30 + ROW_H * len(bars) + 4
    body.append(f'<line x1="{LABEL_W}" y1="{axis_y}" x2="{LABEL_W + plot_w}" y2="{axis_y}" stroke="#a0aec0"/>')
    for tick in _ticks(0.0, top):
        body.append(f'<text x="{x(tick):.1f}" y="{axis_y + 14}" text-anchor="middle" class="tk">{_num(tick)}</text>')
    return _svg(WIDTH, height, title, body)


def scatter(
    title: str, points: list[tuple[str, float, float, bool]], x_label: str, y_label: str, estimated: bool
) -> str:
    """Energy (y) against latency (x) per series; the Pareto front (``on_front``) is joined by a step line."""
    width, height, left, right, top_pad, bottom = WIDTH, 330, 70, 150, 30, 58
    xs, ys = [p[1] for p in points], [p[2] for p in points]
    x_lo, x_hi = min(xs + [0.0]), max(xs) * 1.08 or 1.0
    y_lo, y_hi = min(ys + [0.0]), max(ys) * 1.08 or 1.0

    def px(v: float) -> float:
        return left + (width - left - right) * (v - x_lo) / ((x_hi - x_lo) or 1.0)

    def py(v: float) -> float:
        return height - bottom - (height - bottom - top_pad) * (v - y_lo) / ((y_hi - y_lo) or 1.0)

    body = [f'<text x="4" y="16" class="ct">{_e(title)}</text>']
    body.append(
        f'<path d="M{left} {top_pad}V{height - bottom}H{width - right}" stroke="#a0aec0" fill="none"/>'
        f'<text x="{(left + width - right) / 2:.0f}" y="{height - 26}" text-anchor="middle" class="tk">{_e(x_label)}</text>'
        f'<text x="12" y="{(top_pad + height - bottom) / 2:.0f}" class="tk" text-anchor="middle" '
        f'transform="rotate(-90 12 {(top_pad + height - bottom) / 2:.0f})">{_e(y_label)}{" (estimated)" if estimated else ""}</text>'
    )
    for tick in _ticks(x_lo, x_hi):
        body.append(
            f'<text x="{px(tick):.1f}" y="{height - bottom + 14}" text-anchor="middle" class="tk">{_num(tick)}</text>'
        )
    for tick in _ticks(y_lo, y_hi):
        body.append(f'<text x="{left - 4}" y="{py(tick) + 4:.1f}" text-anchor="end" class="tk">{_num(tick)}</text>')
    front = sorted((p for p in points if p[3]), key=lambda p: p[1])
    if len(front) > 1:
        steps = [f"M{px(front[0][1]):.1f} {py(front[0][2]):.1f}"]
        for prev, nxt in zip(front, front[1:]):
            steps.append(
                f"H{px(nxt[1]):.1f}V{py(nxt[2]):.1f}" if nxt[2] < prev[2] else f"L{px(nxt[1]):.1f} {py(nxt[2]):.1f}"
            )
        body.append(f'<path class="front" d="{"".join(steps)}" stroke="#2f855a" stroke-dasharray="4 3" fill="none"/>')
    for i, (name, lat, energy, on_front) in enumerate(points):
        color = PALETTE[i % len(PALETTE)]
        cx, cy = px(lat), py(energy)
        body.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{6 if on_front else 4}" fill="{color}" '
            f'stroke="{"#1a202c" if on_front else "none"}" stroke-width="2"><title>{_e(name)}: {_num(lat)} ms, '
            f"{_num(energy)} J{' (Pareto front)' if on_front else ''}</title></circle>"
        )
        body.append(f'<text x="{cx + 8:.1f}" y="{cy + 4:.1f}" fill="{color}">{_e(_short(name, 24))}</text>')
    drawn = "ringed points and dashed line" if len(front) > 1 else "ringed point"  # the caption names what is drawn
    body.append(
        f'<text x="{left}" y="{height - 8}" class="tk">{drawn}: the Pareto front '
        "(no other runtime is lower on both axes)</text>"
    )
    return _svg(width, height, title, body)


def line_chart(title: str, unit: str, lines: list[tuple[str, list[tuple[float, float]]]], width: int = 390) -> str:
    """Values over seconds since the first sample, one line per run."""
    height, left, right, top_pad, bottom = 190, 50, 14, 26, 54
    all_t = [t for _, pts in lines for t, _ in pts] or [0.0]
    all_v = [v for _, pts in lines for _, v in pts] or [0.0]
    t_hi = max(all_t) or 1.0
    v_lo, v_hi = min(all_v + [0.0]), max(all_v) * 1.05 or 1.0

    def px(t: float) -> float:
        return left + (width - left - right) * t / t_hi

    def py(v: float) -> float:
        return height - bottom - (height - bottom - top_pad) * (v - v_lo) / ((v_hi - v_lo) or 1.0)

    body = [f'<text x="4" y="16" class="ct">{_e(title)} ({_e(unit)})</text>']
    body.append(f'<path d="M{left} {top_pad}V{height - bottom}H{width - right}" stroke="#a0aec0" fill="none"/>')
    for tick in _ticks(0.0, t_hi, 4):
        body.append(
            f'<text x="{px(tick):.1f}" y="{height - bottom + 14}" text-anchor="middle" class="tk">{tick:.3g} s</text>'
        )
    for tick in _ticks(v_lo, v_hi, 3):
        body.append(f'<text x="{left - 4}" y="{py(tick) + 4:.1f}" text-anchor="end" class="tk">{_num(tick)}</text>')
    for i, (name, pts) in enumerate(lines):
        color = PALETTE[i % len(PALETTE)]
        if pts:
            d = "M" + "L".join(f"{px(t):.1f} {py(v):.1f}" for t, v in pts)
            body.append(
                f'<path d="{d}" stroke="{color}" stroke-width="1.5" fill="none"><title>{_e(name)}</title></path>'
            )
        body.append(f'<text x="{left}" y="{height - 22 + 14 * i}" fill="{color}">— {_e(_short(name, 56))}</text>')
    return _svg(width, height, title, body)
