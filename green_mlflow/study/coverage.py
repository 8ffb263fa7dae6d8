"""How much of a claim's scope the data cover: the pairs (or groups) a claim speaks of, which of them were
measured, and what is missing, with what would measure it.

A claim's scope is the groups its ``where`` names — each of model, batch size and provider it lists; a key it
does not list stands for the values the study has — crossed, for a comparison, with the series its sides name
(``a: {runtime: [torch, tf]}`` against ``b: {runtime: mxnet}`` is two pairs in every group). A universal claim
("always", "every model") measured on part of its scope is "partly measured: k of m pairs", never supported on
the part (docs/method.md rule 20).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from green_mlflow.study.groups import Group
from green_mlflow.study.hypotheses import Hypothesis, Selector
from green_mlflow.study.runs import runtime_label
from green_mlflow.study.selectors import Place, overrides

CELL_KEYS = ("model", "batch_size", "provider")
NOT_MEASURABLE = "not measurable here"  # a side whose runs failed: the reason is the run's own


@dataclass(frozen=True)
class Coverage:
    """``measured`` of ``expected`` units (pairs or groups) of a claim's scope; ``missing`` names the others."""

    measured: int
    expected: int
    unit: str  # "pairs" | "groups"
    missing: tuple[str, ...] = ()
    measure: str = ""  # the overrides that would measure what is missing

    @property
    def complete(self) -> bool:
        return self.measured >= self.expected

    @property
    def text(self) -> str:
        return f"{self.measured} of {self.expected} {self.unit}"

    def record(self) -> dict:
        return {"measured": self.measured, "expected": self.expected, "unit": self.unit, "missing": list(self.missing)}


@dataclass
class Scope:
    """The units a claim speaks of, each keyed by its group cell and the sides' named facts."""

    h: Hypothesis
    cell_keys: tuple[str, ...]
    cells: list[tuple[str, ...]]
    combos_a: list[tuple[str, ...]] = field(default_factory=list)
    combos_b: list[tuple[str, ...]] = field(default_factory=list)


def _named(side: Selector) -> tuple[str, ...]:
    return tuple(k for k in ("runtime", "source", "mode", "provider") if side.get(k))


def _combos(side: Selector) -> list[tuple[str, ...]]:
    return list(itertools.product(*(side.get(k) for k in _named(side)))) if side.values else [()]


def scope(groups: list[Group], h: Hypothesis, comparison: bool) -> Scope:
    """The groups (and, for a comparison, the side combinations) ``h`` speaks of."""
    named = set(h.a.values) | set(h.b.values) if comparison else set()
    keys = tuple(k for k in CELL_KEYS if k not in named)
    values = []
    for key in keys:
        listed = h.where.get(key)
        values.append(listed or tuple(sorted({str(getattr(g, key)) for g in groups})))
    cells = list(itertools.product(*values))
    out = Scope(h, keys, cells)
    if comparison:
        out.combos_a, out.combos_b = _combos(h.a), _combos(h.b)
    return out


def cell_of(s: Scope, group: Group) -> tuple[str, ...]:
    return tuple(str(getattr(group, k)) for k in s.cell_keys)


def unit_of(s: Scope, pa: Place, pb: Place) -> tuple:
    return (
        cell_of(s, pa.group),
        tuple(str(pa.facts[k]) for k in _named(s.h.a)),
        tuple(str(pb.facts[k]) for k in _named(s.h.b)),
    )


def _label(side: Selector, combo: tuple[str, ...]) -> str:
    """A side's named facts as the report names a series: ``onnx (from torch)``, ``torch cuda_graph``."""
    facts = dict(zip(_named(side), combo))
    words = [runtime_label(facts.pop("runtime"), facts.pop("source", None))] if "runtime" in facts else []
    return " ".join(words + list(facts.values()))


def _cell_text(s: Scope, cell: tuple[str, ...]) -> str:
    names = {"model": "{}", "batch_size": "batch {}", "provider": "{}"}
    return ", ".join(names[k].format(v) for k, v in zip(s.cell_keys, cell))


def _units(s: Scope) -> list[tuple]:
    return [(cell, ca, cb) for cell in s.cells for ca in s.combos_a for cb in s.combos_b if ca != cb]


def _why_missing(groups: list[Group], s: Scope, cell: tuple[str, ...], sides: list[tuple[Selector, str]]) -> str:
    """Why a unit of the scope has no pair: no runs there at all, a side never run, or a side whose runs
    failed — "not measurable here" with the run's own reason (MXNet on a GPU newer than its last build)."""
    here = [Place(g, x) for g in groups if cell_of(s, g) == cell for x in g.series]
    if not here:
        return "no runs in this group"
    why = []
    for side, label in sides:
        if any(side.matches(**p.facts) and p.series.finished for p in here):
            continue
        failed = [r for p in here if side.matches(**p.facts) for r in p.series.runs if not r.finished]
        if failed:
            reason = failed[0].status_reason.splitlines()[0] if failed[0].status_reason else "no reason logged"
            why.append(f"{label} {NOT_MEASURABLE} ({failed[0].status}: {reason})")
        else:
            why.append(f"no {label} series")
    return "; ".join(why) or "no pair with a common measured figure"


def comparison_coverage(groups: list[Group], h: Hypothesis, tested: list[tuple[Place, Place]]) -> Coverage:
    """The pairs of a comparison claim's scope, and which of them ``tested`` measured."""
    s = scope(groups, h, comparison=True)
    units = _units(s)
    seen = {unit_of(s, pa, pb) for pa, pb in tested}
    missing = []
    for cell, ca, cb in units:
        if (cell, ca, cb) in seen:
            continue
        side_a = Selector({k: (v,) for k, v in zip(_named(h.a), ca)})
        side_b = Selector({k: (v,) for k, v in zip(_named(h.b), cb)})
        label_a, label_b = _label(h.a, ca) or "a", _label(h.b, cb) or "b"
        why = _why_missing(groups, s, cell, [(side_a, label_a), (side_b, label_b)])
        missing.append(f"{label_b} vs {label_a} ({_cell_text(s, cell)}): {why}")
    measured = len(units) - len(missing)
    return Coverage(measured, len(units), "pairs", tuple(missing), overrides(h) if missing else "")


def group_coverage(groups: list[Group], h: Hypothesis, measured_groups: list[Group]) -> Coverage:
    """The groups of a ``best`` or ``ranking_changes`` claim's scope, and which of them were measured."""
    s = scope(groups, h, comparison=False)
    seen = {cell_of(s, g) for g in measured_groups}
    missing = []
    for cell in s.cells:
        if cell not in seen:
            here = [g for g in groups if cell_of(s, g) == cell]
            why = "not enough of the claim's series" if here else "no finished runs in this group"
            missing.append(f"{_cell_text(s, cell)}: {why}")
    return Coverage(
        len(s.cells) - len(missing), len(s.cells), "groups", tuple(missing), overrides(h) if missing else ""
    )
