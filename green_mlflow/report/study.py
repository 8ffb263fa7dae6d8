"""The study of a view, as the report shows it: the study engine's tables and answers (``green_mlflow.study``),
the answers written into the groups and rows the reader meets, and the declared claims."""

from __future__ import annotations

from green_mlflow.report.analysis import View
from green_mlflow.report.comparisons import apply
from green_mlflow.report.decisions import tested_claims
from green_mlflow.study.defaults import MARGIN_REL
from green_mlflow.study.design import Design
from green_mlflow.study.tables import Study, build

__all__ = ["Study", "study"]


def study(view: View, margin_rel: float = MARGIN_REL) -> Study:
    """The study of ``view`` (over the adaptive sweep's looks when its data came from one), with its verdicts
    written into the view's groups and the tables' rows, and its declared claims decided."""
    design = Design.from_dict(view.dataset.design) if view.dataset.design else None
    result = build(view.groups, design, margin_rel)
    apply(view, result, result.answers)
    if view.dataset.hypotheses:
        result.claims = tested_claims(view, result, view.dataset.hypotheses)
    return result
