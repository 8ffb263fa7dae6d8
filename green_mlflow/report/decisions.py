"""What a study decides beyond its tables: an adaptive sweep's sequential answers and the declared claims.

``study.study`` calls these when the sweep's parent run holds an adaptive design (``adaptive/design.json``,
docs/method.md rule 19) or declared hypotheses (``hypotheses/hypotheses.yaml``, rule 20).
"""

from __future__ import annotations

from green_mlflow.report.analysis import ALPHA, View


def adaptive_answers(view: View, result, design_dict: dict) -> dict:
    """An adaptive sweep's questions, each decided sequentially over the looks the sweep took (rule 19)."""
    from green_mlflow.report.hypotheses import HypothesisError, parse
    from green_mlflow.report.questions import Design, answers

    design = Design.from_dict(design_dict)
    declared = None
    if view.dataset.hypotheses and view.dataset.hypotheses.get("text"):
        try:
            declared = parse(view.dataset.hypotheses["text"], view.dataset.hypotheses["source"])
        except HypothesisError:
            declared = None  # the claims section says why
    found = answers(view, result, design, declared)
    return {
        "method": design.method,
        "alpha": design.alpha,
        "margin_rel": design.margin_rel,
        "min_repetitions": design.min_repetitions,
        "max_repetitions": design.max_repetitions,
        "rounds": len(design.rounds),
        "stopped": design.stopped,
        "questions": [a.record() for a in found],
    }


def tested_claims(view: View, result, declared: dict) -> dict:
    """The declared hypotheses' statuses, and whether they were declared before the first job started."""
    from green_mlflow.report.claims import claims
    from green_mlflow.report.hypotheses import HypothesisError, parse

    first_ms = min((r.start_time_ms for r in view.dataset.runs if r.start_time_ms), default=None)
    logged = declared.get("logged_ms")
    preregistered = logged is not None and (first_ms is None or logged <= first_ms)
    note = (
        "declared before the first job started"
        if preregistered
        else "not preregistered: the hypotheses file was logged after the first job started (added or changed "
        "after the data existed); its tests are exploratory"
    )
    base = {"source": declared["source"], "sha256": declared["sha256"], "preregistered": preregistered, "note": note}
    if not declared.get("text"):
        return {**base, "claims": [], "error": "the hypotheses file could not be read from the parent run"}
    try:
        parsed = parse(declared["text"], declared["source"])
    except HypothesisError as err:
        return {**base, "claims": [], "error": str(err)}
    return {**base, "alpha": ALPHA, "claims": [c.record() for c in claims(view, result, parsed)]}
