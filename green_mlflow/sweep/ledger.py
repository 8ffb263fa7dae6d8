"""The sweep's ledger (``jobs.jsonl`` in the sweep folder) and the one-screen summary table.

Every job — finished, failed or pruned — appends one line, so the summary also works when jobs
run in other processes or on other hosts sharing the folder (submitit launchers).
"""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

from green_mlflow.redaction import redact_text
from green_mlflow.sweep.outcome import current

LEDGER = "jobs.jsonl"
PARENT = "parent_run.json"


def record(folder: Path, row: dict) -> None:
    """Append a job's row, stamped with the parent run it belongs to (a folder resumed into holds several) and, in
    a job of ``hydra/launcher=green_slurm``, with its SLURM job (``SweepOutcome.slurm_job_id``)."""
    folder.mkdir(parents=True, exist_ok=True)
    row = {**row, "parent_run_id": row.get("parent_run_id") or (read_parent(folder) or {}).get("run_id")}
    if current().slurm_job_id and not row.get("slurm_job_id"):
        row["slurm_job_id"] = current().slurm_job_id
    with open(folder / LEDGER, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write(redact_text(json.dumps(row)) + "\n")


def read_ledger(folder: Path, parent_run_id: str | None = None) -> list[dict]:
    """The rows of the folder's ledger; with ``parent_run_id``, only that sweep's (not an earlier one's).

    A row with ``replaces_run_id`` takes the place of the earlier row of that run: a job the scheduler ended after
    it wrote its own row (a SLURM cancel, ``sweep.slurm_runs``) gets the launcher's row, with the scheduler's reason.
    A SLURM job has one row (``slurm_job_id``), where its first row was: its FINISHED row if it has one (a result is
    a result, even when the scheduler requeued the job after), else its last word (an attempt lost with its node
    is followed by the requeued attempt's row, or the launcher's)."""
    path = folder / LEDGER
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if parent_run_id is None or r.get("parent_run_id") == parent_run_id]
    out: list[dict] = []
    for row in rows:
        replaced = row.get("replaces_run_id")
        at = next((i for i, r in enumerate(out) if replaced and r.get("run_id") == replaced), None)
        if at is None:
            out.append(row)
        else:
            out[at] = row
    return _one_row_per_slurm_job(out)


def _one_row_per_slurm_job(rows: list[dict]) -> list[dict]:
    out: list[dict] = []
    at: dict[str, int] = {}
    for row in rows:
        job = row.get("slurm_job_id")
        if not job:
            out.append(row)
        elif job not in at:
            at[job] = len(out)
            out.append(row)
        elif out[at[job]]["status"] != "FINISHED":
            out[at[job]] = row
    return out


# The energy per sample a job is shown by, preferred first: net where an idle baseline was subtracted, else
# gross; measured before estimated (the summary table's column and the sweep's view in the MLflow UI).
ENERGY_PER_SAMPLE = (
    "energy_per_sample_net_j",
    "energy_per_sample_gross_j",
    "energy_per_sample_net_estimated_j",
    "energy_per_sample_gross_estimated_j",
)


def energy_cell(row: dict) -> str:
    for key in ENERGY_PER_SAMPLE:
        if row.get(key) is not None:
            kind = "net" if "_net" in key else "gross"
            method = "estimated" if key.endswith("_estimated_j") else row.get("energy_method") or "measured"
            return f"{row[key]:.4g} J ({kind}, {method})"
    return "unavailable" if row.get("status") == "FINISHED" else "-"


def energy_metric(rows: list[dict]) -> str:
    """The energy per sample the sweep's rows carry, by ``ENERGY_PER_SAMPLE``'s preference (net estimated if none)."""
    return next((k for k in ENERGY_PER_SAMPLE if any(r.get(k) is not None for r in rows)), ENERGY_PER_SAMPLE[2])


def table(rows: list[dict]) -> str:
    """A plain-text table: one line per job, then the reasons of failed or pruned jobs."""
    header = ("job", "status", "latency p50", "throughput", "energy/sample")
    lines = [
        (
            row["job"],
            row["status"],
            f"{row['latency_p50_ms']:.2f} ms" if row.get("latency_p50_ms") is not None else "-",
            f"{row['throughput_samples_per_s']:.1f}/s" if row.get("throughput_samples_per_s") is not None else "-",
            energy_cell(row),
        )
        for row in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines)]
    fmt = "  ".join(f"{{:{w}}}" for w in widths)
    out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*line) for line in lines]
    reasons = [f"  {row['job']}: {row['reason']}" for row in rows if row.get("reason")]
    if reasons:
        out += ["", "why jobs failed or were pruned:", *reasons]
    return "\n".join(out)


def write_parent(folder: Path, payload: dict) -> None:
    """The parent run's id and store for the sweep's jobs; owner-only, as the URI may hold credentials."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PARENT
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps(payload))


def read_parent(folder: Path) -> dict | None:
    path = folder / PARENT
    return json.loads(path.read_text()) if path.exists() else None
