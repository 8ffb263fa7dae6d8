"""Hypotheses declared before the data: what a study claims, as configuration (``hypotheses=paper|<file>``).

A hypotheses file is YAML: ``hypotheses:`` a list, each with an ``id``, the ``statement`` in words, a ``kind``
and series selectors (docs/method.md rule 20):

- ``lower`` / ``higher``: series ``b`` uses less / more than series ``a`` (``min_effect``: by at least that
  fraction), in every group ``where`` selects — or, with ``share``, in more than that share of them ("usually");
- ``equivalent``: ``a`` and ``b`` within ±``margin`` (default 0.05) in every such group;
- ``best``: ``series`` is the lowest of every group ``where`` selects;
- ``ranking_changes``: the order of the runtimes differs between the groups ``where`` selects;
- ``correlation``: energy per sample follows latency per sample with Spearman's ρ at least ``threshold``.

A selector is a mapping of ``runtime``, ``source``, ``mode``, ``model``, ``batch_size``, ``provider`` to a
value or a list of values. ``metric`` is ``energy`` (the group's energy basis, the default), ``latency`` or ``cpu_utilisation`` (the
process's mean CPU %), or a list of them: a claim about energy *and* time is tested on each, side by side, and
each counts in the family. An ONNX side that names no ``source`` is paired with the framework it was converted
from (a conversion). The groups ``where`` names are the claim's scope: a claim measured on part of it is
"partly measured", never supported on the part.
``load`` refuses, in one line, a field it does not know or a selector value that names nothing that exists.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from green_mlflow.registry import PROVIDERS, RUNTIMES

PAPER = Path(__file__).resolve().parents[2] / "conf" / "paper_hypotheses.yaml"  # hypotheses=paper
KINDS = ("lower", "higher", "equivalent", "best", "ranking_changes", "correlation")
SELECTOR_KEYS = ("runtime", "source", "mode", "model", "batch_size", "provider")
FIELDS = (
    "id",
    "statement",
    "kind",
    "a",
    "b",
    "series",
    "where",
    "min_effect",
    "margin",
    "threshold",
    "metric",
    "ratio",
    "share",
)
METRICS = ("energy", "latency", "cpu_utilisation")


class HypothesisError(ValueError):
    """A hypotheses file that cannot be tested as written; the message is one line naming what is wrong."""


@dataclass(frozen=True)
class Selector:
    """Which series (or groups) a hypothesis speaks of: each key a set of allowed values, absent = any."""

    values: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, key: str) -> tuple[str, ...]:
        return self.values.get(key, ())

    def matches(self, **facts: str | None) -> bool:
        """Every key the selector names has one of its values among ``facts`` (a key not given is not checked)."""
        return all(key not in facts or str(facts[key]) in allowed for key, allowed in self.values.items())

    def text(self) -> str:
        return " ".join(f"{k}={','.join(v)}" for k, v in self.values.items()) or "any"


@dataclass(frozen=True)
class Hypothesis:
    id: str
    statement: str
    kind: str
    a: Selector = field(default_factory=Selector)
    b: Selector = field(default_factory=Selector)
    series: Selector = field(default_factory=Selector)
    where: Selector = field(default_factory=Selector)
    min_effect: float = 0.0
    margin: float = 0.05
    threshold: float = 0.9
    metric: str = "energy"  # the one metric this claim is tested on (``metrics[i]`` when the claims expand it)
    ratio: float = 1.0  # equivalent: b/a is about this ratio (within ±margin on the log scale); 1 = the same
    metrics: tuple[str, ...] = ("energy",)  # as declared: each is tested, side by side
    share: float | None = None  # lower/higher: in more than this share of the pairs ("usually"); None = every pair


@dataclass(frozen=True)
class Declared:
    """A loaded hypotheses file: the hypotheses, its text as declared and its sha256 (logged before any job)."""

    source: str  # "paper" or the file's path
    text: str
    hypotheses: list[Hypothesis]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def vocabulary() -> dict[str, tuple[str, ...]]:
    """What a selector may name: the runtimes, sources, modes and providers the product has (models and batch
    sizes are open: a user's own model has its own name)."""
    return {
        "runtime": tuple(RUNTIMES),
        "source": tuple(r for r in RUNTIMES if r != "onnx"),
        "mode": tuple(dict.fromkeys(m for r in RUNTIMES.values() for m in r.modes)),
        "provider": PROVIDERS,
    }


def _one_line(where: str, what: str) -> HypothesisError:
    return HypothesisError(f"{where}: {what}")


def _selector(raw: object, where: str, name: str, known: dict[str, tuple[str, ...]]) -> Selector:
    if raw is None:
        return Selector()
    if not isinstance(raw, dict):
        raise _one_line(where, f"{name} must be a mapping of {', '.join(SELECTOR_KEYS)}, got {raw!r}")
    values: dict[str, tuple[str, ...]] = {}
    for key, value in raw.items():
        if key not in SELECTOR_KEYS:
            near = difflib.get_close_matches(str(key), SELECTOR_KEYS, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise _one_line(where, f"{name} has an unknown selector {key!r}{hint}; allowed: {', '.join(SELECTOR_KEYS)}")
        items = tuple(str(v) for v in (value if isinstance(value, list) else [value]))
        for item in items:
            allowed = known.get(key)
            if allowed is not None and item not in allowed:
                near = difflib.get_close_matches(item, allowed, n=1)
                hint = f" (did you mean {near[0]}?)" if near else ""
                raise _one_line(
                    where, f"{name}: {key}={item} names nothing that exists{hint}; allowed: {', '.join(allowed)}"
                )
            if key == "batch_size" and not (item.isdigit() and int(item) >= 1):
                raise _one_line(where, f"{name}: batch_size={item} is not a batch size (a whole number from 1)")
        values[key] = items
    return Selector(values)


def _number(raw: dict, key: str, default: float, where: str, low: float, high: float) -> float:
    value = raw.get(key, default)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
        raise _one_line(where, f"{key}={value!r} must be a number from {low:g} to {high:g}")
    return float(value)


def parse(text: str, source: str) -> Declared:
    """Hypotheses from a file's text; HypothesisError (one line) for anything that cannot be tested as written."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise HypothesisError(f"hypotheses file {source} is not YAML: {str(err).splitlines()[0]}") from None
    items = data.get("hypotheses") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise HypothesisError(f"hypotheses file {source} must hold 'hypotheses:', a list of hypotheses")
    known = vocabulary()
    out, seen = [], set()
    for index, raw in enumerate(items, 1):
        where = f"hypotheses file {source}, hypothesis {index}"
        if not isinstance(raw, dict):
            raise _one_line(where, "must be a mapping with id, statement, kind and its selectors")
        where = f"hypotheses file {source}, hypothesis {raw.get('id', index)!s}"
        unknown = [k for k in raw if k not in FIELDS]
        if unknown:
            near = difflib.get_close_matches(str(unknown[0]), FIELDS, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise _one_line(where, f"unknown field {unknown[0]!r}{hint}; allowed: {', '.join(FIELDS)}")
        for key in ("id", "statement", "kind"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise _one_line(where, f"needs {key} (text)")
        if raw["id"] in seen:
            raise _one_line(where, f"id {raw['id']!r} is used twice")
        seen.add(raw["id"])
        kind = raw["kind"]
        if kind not in KINDS:
            raise _one_line(where, f"kind={kind} is not known; allowed: {', '.join(KINDS)}")
        raw_metric = raw.get("metric", "energy")
        metrics = tuple(dict.fromkeys(str(m) for m in (raw_metric if isinstance(raw_metric, list) else [raw_metric])))
        for metric in metrics:
            if metric not in METRICS:
                raise _one_line(where, f"metric={metric} is not known; allowed: {', '.join(METRICS)} (or a list)")
        if not metrics:
            raise _one_line(where, f"metric is an empty list; allowed: {', '.join(METRICS)} (or a list)")
        if kind == "correlation" and metrics != ("energy",):
            raise _one_line(where, "kind=correlation correlates energy with latency: leave metric out")
        share = raw.get("share")
        if share is not None:
            if kind not in ("lower", "higher"):
                raise _one_line(where, f'share applies to kind=lower or higher ("usually"), not kind={kind}')
            share = _number(raw, "share", 0.5, where, 0.01, 0.99)
        needs = {"lower": ("a", "b"), "higher": ("a", "b"), "equivalent": ("a", "b"), "best": ("series",)}
        for key in needs.get(kind, ()):
            if not raw.get(key):
                raise _one_line(where, f"kind={kind} needs {key} (a selector of series)")
        out.append(
            Hypothesis(
                id=raw["id"],
                statement=raw["statement"].strip(),
                kind=kind,
                a=_selector(raw.get("a"), where, "a", known),
                b=_selector(raw.get("b"), where, "b", known),
                series=_selector(raw.get("series"), where, "series", known),
                where=_selector(raw.get("where"), where, "where", known),
                min_effect=_number(raw, "min_effect", 0.0, where, 0.0, 0.99),
                margin=_number(raw, "margin", 0.05, where, 0.001, 0.99),
                threshold=_number(raw, "threshold", 0.9, where, -1.0, 1.0),
                metric=metrics[0],
                ratio=_number(raw, "ratio", 1.0, where, 0.01, 100.0),
                metrics=metrics,
                share=share,
            )
        )
    return Declared(source, text, out)


def load(spec: str) -> Declared:
    """``paper`` (the seed study's claims, shipped) or the path of a user's YAML file."""
    if spec == "paper":
        return parse(PAPER.read_text(), "paper")
    path = Path(spec).expanduser()
    if not path.is_file():
        raise HypothesisError(f"hypotheses={spec}: no such file; give hypotheses=paper or the path of a YAML file")
    return parse(path.read_text(), str(path))
