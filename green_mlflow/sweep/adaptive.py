"""The adaptive sweep (``hydra.sweeper.adaptive=true``): repeat only what is still undecided.

Round 1 runs every configuration ``min_repetitions`` times. After each round the study's questions
(``green_mlflow.study.questions``: what the report decides) are answered from the finished runs with the
sequential method (docs/method.md rule 19); the next round repeats only the configurations of the series in
open questions, as many times as an estimate of what would decide them says (at most ``max_per_round`` per
round and ``max_repetitions`` in all). It stops when every question is decided, when every open question
is at the cap, or when the budget (``budget_s`` wall time, ``budget_wh`` measured energy) would be overrun.

The looks are recorded on the parent run (``adaptive/design.json``: finished runs per configuration at each
look, and the run ids), so the report decides each question from the same looks. A rerun of an interrupted
adaptive sweep replays: finished jobs are skipped (resume), the same data give the same rounds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from green_mlflow.meters.base import MEASURED
from green_mlflow.report.data import job_from_run
from green_mlflow.report.parent_artifacts import DESIGN_ARTIFACT
from green_mlflow.study.claims import Claim, claims
from green_mlflow.study.design import AdaptiveSettings, Design
from green_mlflow.study.groups import group_runs
from green_mlflow.study.hypotheses import Declared
from green_mlflow.study.questions import Answer
from green_mlflow.study.runs import JobRun
from green_mlflow.study.sequential import method_text, next_repetitions
from green_mlflow.study.tables import build
from green_mlflow.sweep.ledger import read_ledger, read_parent
from green_mlflow.sweep.outcome import current, duration

__all__ = ["AdaptiveSettings", "AdaptiveSweep", "Configuration", "measured_energy_j"]


def measured_energy_j(run: JobRun) -> float:
    """What a run spent on measured domains (counter or polled): load, warm-up and windows; estimates not counted."""
    total = 0.0
    for domain, method in run.methods.items():
        if method in MEASURED:
            for metric in (f"{domain}_energy_gross_j", f"{domain}_warmup_energy_j", f"{domain}_load_energy_j"):
                total += run.metrics.get(metric) or 0.0
    return total


@dataclass
class Configuration:
    """One combination of the sweep's overrides and the config hash its jobs carry."""

    overrides: list[str]
    config_hash: str | None  # None: the plan refuses it (its one job is pruned, with the reason)
    planned: int = 0  # repetitions launched so far (indices 0 .. planned-1)


@dataclass
class AdaptiveSweep:
    """The state of an adaptive sweep between rounds; ``next_round`` is called after each batch."""

    settings: AdaptiveSettings
    configurations: list[Configuration]
    folder: Path
    seed: int
    say: Callable[[str], None] = print
    declared: Declared | None = None  # the sweep's hypotheses: their comparisons are questions too
    design: Design = field(init=False)
    round: int = 0
    answers: list[Answer] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)  # the declared hypotheses, decided as the report does
    _runs: dict[str, JobRun] = field(default_factory=dict)
    _budget_note: bool = False

    def __post_init__(self) -> None:
        self.design = Design.of(self.settings, method_text(self.settings.spending))

    # -- jobs -------------------------------------------------------------------------------------------------
    def _jobs(self, extra: dict[int, int]) -> list[list[str]]:
        """``extra`` more repetitions for the configurations at those indices, shuffled with the sweep's seed."""
        jobs = []
        for index, count in extra.items():
            config = self.configurations[index]
            base = [o for o in config.overrides if not o.startswith(("measure.repetitions=", "repetition="))]
            for rep in range(config.planned, config.planned + count):
                jobs.append([*base, f"measure.repetitions={self.settings.max_repetitions}", f"repetition={rep}"])
            config.planned += count
        random.Random(self.seed * 1000 + self.round).shuffle(jobs)
        return jobs

    def first_round(self) -> list[list[str]]:
        self.round = 1
        extra = {i: (self.settings.min_repetitions if c.config_hash else 1) for i, c in enumerate(self.configurations)}
        jobs = self._jobs(extra)
        self.say(
            f"adaptive sweep, round 1: {len(self.configurations)} configurations × "
            f"{self.settings.min_repetitions} = {len(jobs)} jobs (at most {self.settings.max_repetitions} "
            "repetitions per configuration; later rounds repeat only what is undecided)"
        )
        current().total_jobs = len(jobs)
        return jobs

    # -- evaluation -------------------------------------------------------------------------------------------
    def _load(self) -> tuple[list[JobRun], list[JobRun]]:
        """(runs the questions use, runs this sweep measured itself): finished or resumed rows of the ledger."""
        parent = read_parent(self.folder)
        if parent is None:
            return [], []
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=parent["tracking_uri"])
        used, measured = [], []
        for row in read_ledger(self.folder, parent["run_id"]):
            run_id = row.get("run_id")
            if row.get("status") not in ("FINISHED", "SKIPPED") or not run_id:
                continue
            if run_id not in self._runs:
                self._runs[run_id] = job_from_run(client.get_run(run_id))
            used.append(self._runs[run_id])
            if row["status"] == "FINISHED":
                measured.append(self._runs[run_id])
        return used, measured

    def _evaluate(self, used: list[JobRun]) -> None:
        """The questions and the declared claims on what has finished, exactly as the report will decide them."""
        counts: dict[str, int] = {}
        for run in used:
            counts[run.config_hash] = counts.get(run.config_hash, 0) + 1
        self.design.rounds.append(counts)
        groups = group_runs(used)
        result = build(groups, self.design, self.settings.margin_rel)
        if not self.design.family_size:  # fixed at the first look: later looks decide at the same level
            self.design.family_size = result.family.size
        self.answers = result.answers
        self.claims = claims(groups, result, self.declared, self.design) if self.declared is not None else []

    def _log_design(self, used: list[JobRun]) -> None:
        parent = read_parent(self.folder)
        if parent is None:
            return
        from green_mlflow.tracking import runs
        from green_mlflow.tracking.store import open_store

        store = open_store(parent["tracking_uri"], parent["experiment_name"])
        folder, _, name = DESIGN_ARTIFACT.rpartition("/")
        payload = {**self.design.to_dict(), "runs": sorted(r.run_id for r in used)}
        runs.log_json(store, parent["run_id"], name, payload, folder)

    def next_round(self) -> list[list[str]]:
        """Evaluate the questions on what has finished; the next round's jobs, or [] when the sweep is done."""
        used, measured = self._load()
        self._evaluate(used)
        open_answers = [a for a in self.answers if not a.decided]
        open_claims = [c for c in self.claims if c.open]
        by_hash = {c.config_hash: i for i, c in enumerate(self.configurations) if c.config_hash}
        extra: dict[int, int] = {}
        cap = self.settings.max_repetitions
        for ans in open_answers:
            n = min(ans.result.n_a, ans.result.n_b)
            more = next_repetitions(ans.result, n, cap, self.settings.max_per_round)
            for ref in (ans.question.a, ans.question.b):
                for h in ref.config_hashes:
                    i = by_hash.get(h)
                    if i is None:
                        continue
                    room = cap - self.configurations[i].planned
                    want = min(more, room)
                    if want > 0:
                        extra[i] = max(extra.get(i, 0), want)
        for claim in open_claims:  # a claim still open: the configurations of its pairs, a full round more
            for i in self._claim_configurations(claim, by_hash):
                want = min(self.settings.max_per_round, cap - self.configurations[i].planned)
                if want > 0:
                    extra[i] = max(extra.get(i, 0), want)
        decided = len(self.answers) - len(open_answers)
        head = f"adaptive sweep, after round {self.round}: {decided} of {len(self.answers)} questions decided"
        if self.claims:
            settled = sum(c.status in ("supported", "contradicted") for c in self.claims)
            head += f", {settled} of {len(self.claims)} claims decided ({len(open_claims)} open)"
        if not open_answers and not open_claims:
            return self._stop(used, f"{head}; every question is decided", "every question decided")
        if not extra:
            return self._stop(used, f"{head}; the open ones are at max_repetitions={cap}", "max_repetitions reached")
        budget = self._over_budget(extra, used, measured)
        if budget:
            return self._stop(used, f"{head}; {budget}", "budget spent: " + budget)
        self.round += 1
        jobs = self._jobs(extra)
        current().total_jobs = (current().total_jobs or 0) + len(jobs)
        left = self._job_s(used) * len(jobs)
        self.say(
            f"{head}, {len(open_answers)} open → round {self.round}: {len(jobs)} repetitions of "
            f"{len(extra)} configurations (about {duration(left)})"
        )
        self._log_design(used)
        return jobs

    def _claim_configurations(self, claim: Claim, by_hash: dict[str, int]) -> set[int]:
        """The configurations whose runs an open claim reads."""
        return {by_hash[h] for h in claim.config_hashes if h in by_hash}

    def _job_s(self, used: list[JobRun]) -> float:
        walls = [r.metrics["job_wall_s"] for r in used if r.metrics.get("job_wall_s")]
        return sum(walls) / len(walls) if walls else 0.0

    def _over_budget(self, extra: dict[int, int], used: list[JobRun], measured: list[JobRun]) -> str | None:
        """Why the next round would overrun the budget, or None."""
        s = self.settings
        if s.budget_s is not None and current().started_s is not None:
            spent = time.monotonic() - current().started_s
            need = self._job_s(used) * sum(extra.values())
            if spent + need > s.budget_s:
                # a smaller round that fits: one more repetition for each configuration still in question
                smaller = self._job_s(used) * len(extra)
                if spent + smaller <= s.budget_s:
                    for i in extra:
                        extra[i] = 1
                else:
                    return (
                        f"budget_s={s.budget_s:g} s: {duration(spent)} spent, the next round needs about "
                        f"{duration(smaller)}"
                    )
        if s.budget_wh is not None:
            if not any(m in MEASURED for r in measured for m in r.methods.values()):
                if not self._budget_note:
                    self.say(f"budget_wh={s.budget_wh:g}: no energy counter on this host, only budget_s applies")
                    self._budget_note = True
            else:
                spent_wh = sum(measured_energy_j(r) for r in measured) / 3600.0
                per_job = spent_wh / len(measured) if measured else 0.0
                if spent_wh + per_job * sum(extra.values()) > s.budget_wh:
                    return f"budget_wh={s.budget_wh:g} Wh: {spent_wh:.3g} Wh measured so far"
        return None

    def _stop(self, used: list[JobRun], line: str, why: str) -> list[list[str]]:
        self.design.stopped = why
        self._log_design(used)
        self.say(line)
        for ans in self.answers:
            if not ans.decided:
                self.say(f"  open: {ans.question.text}: {self.open_reason(ans)}")
        for claim in self.claims:
            if claim.open:
                self.say(f"  open claim {claim.name}: {claim.decide}")
        return []

    def open_reason(self, ans: Answer) -> str:
        """Why a question stayed open when the sweep stopped."""
        cap = self.settings.max_repetitions
        at_cap = max(ans.result.n_a, ans.result.n_b) >= cap or any(
            c.planned >= cap
            for c in self.configurations
            if c.config_hash in (*ans.question.a.config_hashes, *ans.question.b.config_hashes)
        )
        if self.design.stopped.startswith("budget"):
            return f"{self.design.stopped}; {ans.result.reason}"
        if at_cap:
            return f"max_repetitions={cap} reached; {ans.result.reason}"
        return ans.result.reason
