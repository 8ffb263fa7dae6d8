"""PNG figures of each group (matplotlib, Agg), logged beside the HTML report so MLflow's artifact viewer,
which previews images but may not run a page's script, shows the comparison at a glance.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI; must precede pyplot's import
import matplotlib.pyplot as plt  # noqa: E402

from green_mlflow.report.analysis import View  # noqa: E402
from green_mlflow.study.groups import LATENCY, Group  # noqa: E402


def slug(text: str) -> str:
    """A file name fragment: only letters, digits, dots, dashes and underscores survive."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:60] or "group"


def _bars(ax, group: Group, metric: str, label: str, unit: str, estimated: bool) -> None:
    shown = [(s, s.summaries.get(metric)) for s in group.series]
    shown = [(s, m) for s, m in shown if m is not None and m.mean is not None]
    names = [s.name if len(s.name) <= 22 else s.name[:21] + "…" for s, _ in shown]
    means = [m.mean for _, m in shown]
    errors = [
        [m.mean - m.ci95_low if m.ci95_low is not None else 0 for _, m in shown],
        [m.ci95_high - m.mean if m.ci95_high is not None else 0 for _, m in shown],
    ]
    colors = ["#2f855a" if s is group.best else "#4a77b4" for s, _ in shown]
    ax.barh(names, means, xerr=errors, color=colors, hatch="//" if estimated else None, capsize=3)
    for i, (s, _) in enumerate(shown):  # each repetition as a dot on its bar, jittered across the bar's height
        values = s.values(metric)
        ax.scatter(
            values, [i + (j % 5 - 2) * 0.1 for j in range(len(values))], s=9, color="#1a202c", alpha=0.6, zorder=3
        )
    ax.invert_yaxis()
    ax.set_xlabel(f"{label} ({unit}){' — ESTIMATED' if estimated else ''}")
    ax.set_title(f"{label}: mean, 95% CI, repetitions", fontsize=10)


def group_figure(group: Group, path: Path) -> Path:
    """One PNG per group: energy and latency bars, the energy-latency scatter with its Pareto front."""
    energy = group.basis if group.basis is not None and group.basis.energy else None
    panels = (1 if energy else 0) + (1 if LATENCY in group.quantities else 0) + (1 if group.points else 0)
    fig, axes = plt.subplots(1, max(panels, 1), figsize=(5.2 * max(panels, 1), 3.6), squeeze=False)
    axes = list(axes[0])
    if energy:
        _bars(axes.pop(0), group, energy.metric, energy.label, energy.unit, energy.estimated)
    if LATENCY in group.quantities:
        _bars(axes.pop(0), group, LATENCY.metric, LATENCY.label, LATENCY.unit, False)
    if group.points and energy:
        ax = axes.pop(0)
        for point in group.points:
            ax.scatter(
                point.latency_ms,
                point.energy_j,
                s=60 if point.on_front else 25,
                edgecolors="black" if point.on_front else "none",
            )
        middle = (min(p.latency_ms for p in group.points) + max(p.latency_ms for p in group.points)) / 2
        for point in group.points:  # labels point inwards: a label right of the rightmost point would be clipped
            right = point.latency_ms > middle
            ax.annotate(
                point.name,
                (point.latency_ms, point.energy_j),
                fontsize=8,
                xytext=(-5 if right else 5, 4),
                textcoords="offset points",
                ha="right" if right else "left",
            )
        ax.margins(x=0.1, y=0.15)
        front = sorted((p for p in group.points if p.on_front), key=lambda p: p.latency_ms)
        if len(front) > 1:  # a line only where there is one to draw; the legend names what is drawn
            ax.plot(
                [p.latency_ms for p in front], [p.energy_j for p in front], "--", color="#2f855a", label="Pareto front"
            )
            ax.legend(fontsize=8)
        ax.set_xlabel(f"{LATENCY.label} (ms)")
        ax.set_ylabel(f"{energy.label} (J){' — ESTIMATED' if energy.estimated else ''}")
        ax.set_title("energy vs latency (ringed: Pareto front)", fontsize=10)
    for ax in axes:  # no figure to draw (no finished run): say so instead of an empty frame
        ax.text(0.5, 0.5, "no finished run", ha="center", va="center")
        ax.set_axis_off()
    # fixed margins and a pre-wrapped title: tight_layout and wrap=True re-measure every text several
    # times and cost most of a figure's time
    title = "\n".join([group.title, *textwrap.wrap(group.verdict, 40 * len(fig.axes))][:4])
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=1.5 / (5.2 * len(fig.axes)), right=0.98, wspace=0.6, top=0.72, bottom=0.16)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_figures(view: View, folder: Path) -> list[Path]:
    """One PNG per group in ``folder``, named by position and a sanitised group title."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        group_figure(group, folder / f"{i:02d}_{slug(f'{group.model}_bs{group.batch_size}_{group.provider}')}.png")
        for i, group in enumerate(view.groups)
    ]
