"""What a sweep's parent run holds besides its job runs: pruned jobs, an adaptive design, declared hypotheses.

Each reader takes the run and an ``ArtifactReader`` (``data.client_artifact_reader``, or the server's own);
an absent artifact is None or empty, an unreadable one a warning, never an error that takes the page down.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from mlflow.entities import Run

ArtifactReader = Callable[[Run, str], "str | None"]  # read a text artifact of a run; None if absent

JOBS_ARTIFACT = "summary/jobs.jsonl"  # the sweep's ledger: every job, finished, failed or pruned
DESIGN_ARTIFACT = "adaptive/design.json"  # an adaptive sweep's looks (docs/method.md rule 19)
HYPOTHESES_ARTIFACT = "hypotheses/hypotheses.yaml"  # the declared hypotheses, logged before the first job


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class PrunedJob:
    """A job the plan refused inside a sweep: it has no run, only a line in the parent's jobs.jsonl."""

    job: str
    reason: str
    parent_run_id: str


def pruned_jobs(parent: Run, read_artifact: ArtifactReader, warnings: list[str]) -> list[PrunedJob]:
    """PRUNED rows of the parent's ``summary/jobs.jsonl``; an absent or garbled file is a warning, not an error."""
    try:
        text = read_artifact(parent, JOBS_ARTIFACT)
    except Exception as err:  # an artifact store that cannot be read must not take the page down
        warnings.append(f"sweep {parent.info.run_id}: {JOBS_ARTIFACT} could not be read ({err})")
        return []
    if text is None:
        return []
    pruned = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            warnings.append(f"sweep {parent.info.run_id}: {JOBS_ARTIFACT} line {number} is not JSON; skipped")
            continue
        # a folder resumed into holds earlier sweeps' rows too: only this parent's (or unstamped, older) rows
        mine = isinstance(row, dict) and row.get("parent_run_id") in (None, parent.info.run_id)
        if mine and row.get("status") == "PRUNED":
            pruned.append(PrunedJob(str(row.get("job", "?")), str(row.get("reason", "")), parent.info.run_id))
    return pruned


def declared_hypotheses(parent: Run, read_artifact: ArtifactReader, warnings: list[str]) -> dict | None:
    """The hypotheses a sweep declared (``hypotheses=…``): the file as logged, its sha256 and when it was logged."""
    tags = parent.data.tags
    if "green.hypotheses.sha256" not in tags:
        return None
    try:
        text = read_artifact(parent, HYPOTHESES_ARTIFACT)
    except Exception as err:
        text = None
        warnings.append(f"sweep {parent.info.run_id}: {HYPOTHESES_ARTIFACT} could not be read ({err})")
    return {
        "source": tags.get("green.hypotheses.source", "?"),
        "sha256": tags["green.hypotheses.sha256"],
        "logged_ms": _int(tags.get("green.hypotheses.logged_ms")),
        "text": text,
    }


def adaptive_design(parent: Run, read_artifact: ArtifactReader, warnings: list[str]) -> dict | None:
    """The parent's ``adaptive/design.json`` (an adaptive sweep's looks), or None for a fixed sweep."""
    try:
        text = read_artifact(parent, DESIGN_ARTIFACT)
        return json.loads(text) if text else None
    except Exception as err:  # an unreadable design leaves the fixed-sample tables; say so
        warnings.append(f"sweep {parent.info.run_id}: {DESIGN_ARTIFACT} could not be read ({err})")
        return None
