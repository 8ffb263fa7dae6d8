"""The declared claims of a study: ``study.study`` calls this when the sweep's parent run holds declared
hypotheses (``hypotheses/hypotheses.yaml``), decided over the adaptive design's looks when there is one.
"""

from __future__ import annotations

from green_mlflow.report.analysis import View


def tested_claims(view: View, result, declared: dict) -> dict:
    """The declared hypotheses' statuses, and whether they were declared before the first job started."""
    from green_mlflow.study.claims import claims, family
    from green_mlflow.study.hypotheses import HypothesisError, parse

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
    fam = family(parsed, result.design)
    found = claims(view.groups, result, parsed, result.design)
    return {**base, "alpha": fam.alpha, "guarantee": fam.guarantee, "claims": [c.record() for c in found]}
