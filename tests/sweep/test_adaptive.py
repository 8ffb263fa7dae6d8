"""The adaptive sweep's rounds, on a real MLflow store holding synthetic runs of known truth.

After a round, ``AdaptiveSweep.next_round`` reads the sweep's ledger and runs, answers the study's questions
with the report's code, and plans repetitions only for the configurations of open questions; it stops when
all are decided, at the cap, or when the budget would be overrun, saying why each open question stayed open.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from green_mlflow.report.analysis import analyse
from green_mlflow.report.data import client_artifact_reader, load_sweep
from green_mlflow.report.findings import findings_document
from green_mlflow.report.parent_artifacts import DESIGN_ARTIFACT
from green_mlflow.report.study import study
from green_mlflow.sweep import outcome
from green_mlflow.sweep.adaptive import AdaptiveSettings, AdaptiveSweep, Configuration
from green_mlflow.sweep.ledger import record, write_parent
from tests.helpers.synthetic import Job, log_job

# three series of one group: onnx(from torch) at half torch's energy (decided at once), tf
# 4 % above torch with 6 % noise (neither different nor inside ±5 % at n = 3: open)
TRUTH = {
    "torch": ("torch", None, "eager", 1.0),
    "onnx": ("onnx", "torch", "ort_all", 0.5),
    "tf": ("tf", None, "function", 1.01),
}
NOISE = 0.06


def _hash(runtime: str, source: str | None, mode: str) -> str:
    return f"{runtime}-{source}-{mode}-mobilenet_v2-1-cpu"  # tests.helpers.synthetic's green.config_hash


class Sweep:
    """A sweep folder with its parent run and ledger, into which rounds of synthetic runs are logged."""

    def __init__(self, tmp_path: Path, uri: str, noise: float = NOISE):
        self.noise = noise
        self.client = MlflowClient(tracking_uri=uri)
        experiment_id = self.client.create_experiment("adaptive")
        self.experiment_id = experiment_id
        self.parent = self.client.create_run(experiment_id, run_name="sweep", tags={"green.kind": "sweep"}).info.run_id
        self.folder = tmp_path / "sweep"
        write_parent(self.folder, {"run_id": self.parent, "tracking_uri": uri, "experiment_name": "adaptive"})
        self.rng = random.Random(7)

    def log(self, name: str, repetitions: range) -> None:
        runtime, source, mode, mean = TRUTH[name]
        for rep in repetitions:
            energy = mean * self.rng.gauss(1, self.noise)
            job = Job(runtime, mode, source=source, repetition=rep, energy_j=energy, latency_ms=energy * 10)
            run_id = log_job(self.client, self.experiment_id, self.parent, job)
            record(self.folder, {"job": name, "status": "FINISHED", "run_id": run_id, "parent_run_id": self.parent})


def _state(sweep: Sweep, said: list[str], **settings) -> AdaptiveSweep:
    configurations = [
        Configuration([f"runtime={TRUTH[n][0]}", f"x={n}"], _hash(*TRUTH[n][:3]), planned=3) for n in TRUTH
    ]
    state = AdaptiveSweep(AdaptiveSettings(**settings), configurations, sweep.folder, seed=0, say=said.append)
    state.round = 1
    return state


@pytest.fixture
def first_round(tmp_path: Path, sqlite_uri: str) -> Sweep:
    outcome.begin().started_s = time.monotonic()
    sweep = Sweep(tmp_path, sqlite_uri)
    for name in TRUTH:
        sweep.log(name, range(3))
    return sweep


def test_the_next_round_repeats_only_the_configurations_of_open_questions(first_round: Sweep):
    said: list[str] = []
    state = _state(first_round, said, max_repetitions=10, max_per_round=4)
    jobs = state.next_round()
    verdicts = {(a.question.a.name, a.question.b.name): a.result.verdict for a in state.answers}
    assert verdicts[("torch", "onnx (from torch)")] == "lower"  # onnx uses half the energy: decided at n = 3
    assert verdicts[("onnx (from torch)", "tf")] == "higher"
    assert verdicts[("torch", "tf")] == "open"
    repeated = {o for job in jobs for o in job if o.startswith("x=")}
    assert repeated == {"x=torch", "x=tf"}  # onnx takes part in no open question: not repeated
    assert all("measure.repetitions=10" in job for job in jobs)
    reps = sorted(int(o.split("=")[1]) for job in jobs for o in job if o.startswith("repetition=") and "x=tf" in job)
    assert reps == list(range(3, 3 + len(reps))) and 1 <= len(reps) <= 4  # new indices, bounded per round
    assert any("round 2" in line and "open" in line for line in said)


def test_the_design_on_the_parent_run_gives_the_report_the_same_looks_and_verdicts(first_round: Sweep):
    state = _state(first_round, [], max_repetitions=10)
    state.next_round()
    design = json.loads(
        client_artifact_reader(first_round.client)(first_round.client.get_run(first_round.parent), DESIGN_ARTIFACT)
    )
    assert len(design["rounds"]) == 1 and design["rounds"][0][_hash("onnx", "torch", "ort_all")] == 3
    view = analyse(load_sweep(first_round.client, first_round.parent, client_artifact_reader(first_round.client)))
    answered = study(view)
    assert answered.design is not None and answered.design.rounds == design["rounds"]
    assert answered.design.family_size == state.design.family_size == len(state.answers)
    by_pair = {(a.question.a.name, a.question.b.name): a.record() for a in answered.answers}
    assert by_pair[("torch", "onnx (from torch)")]["method"].startswith("repeated confidence intervals")
    assert by_pair[("torch", "onnx (from torch)")]["verdict"] == "lower"
    assert by_pair[("torch", "onnx (from torch)")]["kinds"][0] == "conversion"
    assert by_pair[("torch", "tf")]["verdict"] == "open" and by_pair[("torch", "tf")]["n_reference"] == 3
    # the sweep and the report: the same verdict for every question
    assert {a.question.text: a.result.verdict for a in state.answers} == {
        a.question.text: a.result.verdict for a in answered.answers
    }
    document = json.loads(json.dumps(findings_document(view, answered)))
    sentences = [f for f in document["findings"] if f["kind"] == "comparison" and f["verdict"] == "lower"]
    assert any("n = 3 vs 3" in f["text"] for f in sentences)
    assert document["comparisons"][0]["batch_size"] == 1  # a number


def test_an_open_question_at_max_repetitions_ends_the_sweep_and_says_why(tmp_path: Path, sqlite_uri: str):
    outcome.begin().started_s = time.monotonic()
    noisy = Sweep(tmp_path, sqlite_uri, noise=0.3)  # at n = 3 no interval can exclude 0 or fit in ±5 %
    for name in TRUTH:
        noisy.log(name, range(3))
    said: list[str] = []
    state = _state(noisy, said, min_repetitions=3, max_repetitions=3)
    assert state.next_round() == []
    assert state.design.stopped == "max_repetitions reached"
    assert any(line.startswith("  open: tf vs torch") and "max_repetitions=3 reached" in line for line in said)


def test_a_round_that_would_overrun_budget_s_is_not_started(first_round: Sweep):
    outcome.current().started_s = time.monotonic() - 100.0  # 100 s spent; each synthetic job took 1 s
    said: list[str] = []
    state = _state(first_round, said, max_repetitions=10, budget_s=100.5)
    assert state.next_round() == []
    assert state.design.stopped.startswith("budget spent: budget_s=100.5")
    assert any("open: tf vs torch" in line and "budget" in line for line in said)


def test_a_round_is_shrunk_to_what_fits_in_budget_s(first_round: Sweep):
    outcome.current().started_s = time.monotonic() - 10.0
    state = _state(first_round, [], max_repetitions=10, max_per_round=4, budget_s=12.5)
    jobs = state.next_round()
    assert len(jobs) == 2  # torch and tf once each: 2 s of jobs fit, not the planned round


def test_a_second_round_decides_with_more_data_and_the_sweep_stops(first_round: Sweep):
    said: list[str] = []
    state = _state(first_round, said, max_repetitions=30, max_per_round=30)
    jobs = state.next_round()
    while jobs:  # play the rounds: log what each round asked for
        for name in ("torch", "tf"):
            count = sum(1 for job in jobs if f"x={name}" in job)
            start = state.configurations[list(TRUTH).index(name)].planned - count
            first_round.log(name, range(start, start + count))
        jobs = state.next_round()
    assert state.design.stopped in ("every question decided", "max_repetitions reached")
    assert len(state.design.rounds) >= 2
    tf = next(a for a in state.answers if {a.question.a.name, a.question.b.name} == {"torch", "tf"})
    assert tf.result.looks == len(tf.looks) >= 2


def test_settings_that_cannot_work_are_refused_with_what_is_allowed():
    with pytest.raises(ValueError, match="min_repetitions <= max_repetitions"):
        AdaptiveSettings(min_repetitions=5, max_repetitions=3).check()
    with pytest.raises(ValueError, match="budget_s=0"):
        AdaptiveSettings(budget_s=0).check()


def test_an_open_declared_claim_keeps_its_configurations_in_the_next_round(first_round: Sweep):
    from green_mlflow.study.hypotheses import parse

    declared = parse(
        "hypotheses:\n  - {id: H1, statement: tf costs more than torch, kind: higher, a: {runtime: torch}, "
        "b: {runtime: tf}}\n",
        "mine.yaml",
    )
    state = _state(first_round, [], max_repetitions=10)
    state.declared = declared
    jobs = state.next_round()
    (claim,) = state.claims
    assert claim.hypothesis.id == "H1" and claim.status == "inconclusive"
    assert claim.config_hashes == {_hash("torch", None, "eager"), _hash("tf", None, "function")}
    assert any("x=tf" in job for job in jobs) and any("x=torch" in job for job in jobs)


def test_one_store_gives_one_verdict_for_a_comparison_in_the_sweep_tables_findings_claims_page_and_gate(
    first_round: Sweep, tmp_path: Path
):
    import dataclasses

    from green_mlflow.gate.judge import judge
    from green_mlflow.report.render import render
    from green_mlflow.study.hypotheses import parse

    declared = parse(
        "hypotheses:\n  - {id: H1, statement: onnx below torch, kind: lower, a: {runtime: torch}, "
        "b: {runtime: onnx, source: torch}}\n",
        "mine.yaml",
    )
    state = _state(first_round, [], max_repetitions=10)
    state.declared = declared
    state.next_round()
    sweep_verdict = next(
        a.result for a in state.answers if (a.question.a.name, a.question.b.name) == ("torch", "onnx (from torch)")
    )
    view = analyse(load_sweep(first_round.client, first_round.parent, client_artifact_reader(first_round.client)))
    answered = study(view)
    document = json.loads(json.dumps(findings_document(view, answered)))
    (row,) = [c for c in document["conversions"] if c["metric"].startswith("energy")]
    (comparison,) = [
        c for c in document["comparisons"] if c["other"] == "onnx (from torch)" and c["reference"] == "torch"
    ]
    sentence = next(f for f in document["findings"] if f.get("question") == comparison["question"])
    page = render(view, answers=answered)
    claim = state.claims[0]
    assert sweep_verdict.verdict == comparison["verdict"] == row["verdict"] == sentence["verdict"] == "lower"
    assert comparison["delta_rel"] == pytest.approx(sweep_verdict.delta_rel) == pytest.approx(row["delta_rel"])
    assert "onnx (from torch) has" in sentence["text"] and "less net energy per sample (estimated)" in sentence["text"]
    assert sentence["text"].split(" (")[0] in page  # the page says the same sentence
    assert claim.status == "supported"  # the declared claim, at its own family's level, agrees
    # the gate: the same two sets of runs, as baseline and candidate of one series
    torch = [r for s in view.groups[0].series if s.name == "torch" for r in s.finished]
    onnx = [r for s in view.groups[0].series if s.name == "onnx (from torch)" for r in s.finished]
    as_torch = [dataclasses.replace(r, runtime="torch", source=None, mode="eager") for r in onnx]
    (gated,) = judge(torch, as_torch, baseline="torch", candidate="onnx", metrics=("energy",)).judgements
    assert gated.verdict == "improved" and gated.ratio == pytest.approx(1 + comparison["delta_rel"])
