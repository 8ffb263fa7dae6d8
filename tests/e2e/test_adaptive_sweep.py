"""``hydra.sweeper.adaptive=true`` through the real command line: rounds, the design on the parent run, the
report's sequential verdicts, and a rerun that measures nothing again (resume).

Real processes (torch and ONNX Runtime workers), a real SQLite store, tiny models and windows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mlflow.tracking import MlflowClient

from green_mlflow.report.data import client_artifact_reader
from green_mlflow.report.parent_artifacts import DESIGN_ARTIFACT
from tests.helpers.project import TINY_MEASURE, require_env, run_cli

# the paper's CPU preset (adaptive, hypotheses=paper, no -m: the preset makes it a sweep), shrunk on the command line
SWEEP = [
    "+experiment=paper_cpu",
    "runtime=torch,onnx",
    "runtime.source=torch",
    "model=mobilenet_v2",
    "model.image_size=32",
    "batch_size=1",
    *TINY_MEASURE,
    "hydra.sweeper.min_repetitions=3",
    "hydra.sweeper.max_repetitions=5",
    "hydra.sweeper.max_per_round=2",
]


def _runs(uri: str, kind: str):
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("green_mlflow")
    return [r for r in client.search_runs([experiment.experiment_id]) if r.data.tags.get("green.kind") == kind]


def test_an_adaptive_sweep_decides_in_rounds_and_a_rerun_measures_nothing_again(tmp_path: Path, sqlite_uri: str):
    require_env("torch")
    require_env("onnx")
    first = run_cli(SWEEP, tmp_path, sqlite_uri)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    out = first.stdout + first.stderr
    assert "adaptive sweep, round 1: 2 configurations × 3 = 6 jobs" in out
    assert re.search(r"adaptive sweep, after round \d+: \d+ of 1 questions decided", out)

    jobs = _runs(sqlite_uri, "job")
    per_config: dict[str, list[int]] = {}
    per_runtime: dict[str, int] = {}
    for run in jobs:
        assert run.info.status == "FINISHED"
        per_config.setdefault(run.data.tags["green.config_hash"], []).append(int(run.data.params["repetition"]))
        per_runtime[run.data.params["runtime"]] = per_runtime.get(run.data.params["runtime"], 0) + 1
    assert len(per_config) == 2
    for reps in per_config.values():  # 3 to 5 repetitions, numbered from 0 without gaps or duplicates
        assert sorted(reps) == list(range(len(reps))) and 3 <= len(reps) <= 5

    client = MlflowClient(sqlite_uri)
    (parent,) = _runs(sqlite_uri, "sweep")
    design = json.loads(client_artifact_reader(client)(parent, DESIGN_ARTIFACT))
    assert design["max_repetitions"] == 5 and len(design["rounds"]) >= 1
    assert sorted(design["runs"]) == sorted(r.info.run_id for r in jobs)
    findings = json.loads(client_artifact_reader(client)(parent, "report/findings.json"))
    (question,) = findings["comparisons"]
    assert question["kinds"][0] == "conversion" and question["reference"] == "torch"
    claims = json.loads(client_artifact_reader(client)(parent, "report/claims.json"))
    assert claims["preregistered"] is True and len(claims["claims"]) == 22  # 12 hypotheses, 10 on energy and time
    assert parent.data.tags["green.hypotheses.source"] == "paper"
    by_name = {c["name"]: c for c in claims["claims"]}
    assert by_name["P8-tensorrt-beats-cuda (energy)"]["status"] == "not measured"
    for metric in ("energy", "latency"):  # "usually" over 18 conversions: one measured here, never supported on it
        p6 = by_name[f"P6-onnx-usually-improves ({metric})"]
        assert p6["status"] == "partly measured" and p6["coverage"]["measured"] == 1, p6
        assert p6["coverage"]["expected"] == 18 and p6["shown_as"].endswith("partly measured: 1 of 18 pairs")
        assert "replicated on " in p6["shown_as"]
    assert "open claim P6" not in out  # more runs of one pair cannot decide a share of 18: not repeated for it
    assert question["method"].startswith("repeated confidence intervals")
    if question["verdict"] == "open":  # the sweep says why at the end, with every run it took
        assert "open: onnx (from torch) vs torch" in out
        assert (question["n_reference"], question["n_other"]) == (per_runtime["torch"], per_runtime["onnx"])
    else:  # decided at a look the sweep took; later rounds (for an open claim) do not reopen it
        assert 1 <= question["decided_at_look"] <= question["looks"] == len(design["rounds"])
        at = design["rounds"][question["decided_at_look"] - 1]  # finished runs per configuration at that look
        runtime_of = {r.data.tags["green.config_hash"]: r.data.params["runtime"] for r in jobs}
        counted = {name: sum(n for h, n in at.items() if runtime_of[h] == name) for name in ("torch", "onnx")}
        assert (question["n_reference"], question["n_other"]) == (counted["torch"], counted["onnx"])

    again = run_cli(SWEEP, tmp_path, sqlite_uri)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert len(_runs(sqlite_uri, "job")) == len(jobs)  # every job of every round was skipped, none repeated
    assert f"({len(jobs)} skipped: already FINISHED earlier)" in again.stdout
    parents = sorted(_runs(sqlite_uri, "sweep"), key=lambda r: r.info.start_time)
    replay = json.loads(client_artifact_reader(client)(parents[-1], DESIGN_ARTIFACT))
    assert replay["rounds"] == design["rounds"] and sorted(replay["runs"]) == sorted(design["runs"])
    refound = json.loads(client_artifact_reader(client)(parents[-1], "report/findings.json"))
    assert refound["comparisons"][0]["verdict"] == question["verdict"]


def test_a_hypotheses_file_with_a_typo_is_refused_before_any_job(tmp_path: Path, sqlite_uri: str):
    mine = tmp_path / "mine.yaml"
    mine.write_text("hypotheses:\n  - {id: H1, statement: s, kind: lower, a: {runtime: pytorch}, b: {runtime: onnx}}\n")
    refused = run_cli(["-m", "runtime=torch,onnx", *TINY_MEASURE, f"hypotheses={mine}"], tmp_path, sqlite_uri)
    assert refused.returncode == 2
    (line,) = [x for x in refused.stderr.splitlines() if x.startswith("error:")]
    assert "hypothesis H1: a: runtime=pytorch names nothing that exists (did you mean torch?)" in line
    assert "Traceback" not in refused.stderr
    experiment = MlflowClient(sqlite_uri).get_experiment_by_name("green_mlflow")
    assert experiment is None or not MlflowClient(sqlite_uri).search_runs([experiment.experiment_id])
