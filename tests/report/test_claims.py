"""Declared hypotheses on synthetic studies in a real store whose truth is known: each kind comes out supported,
contradicted and inconclusive in the cases built for it; a claim with no data says which overrides would
measure it; the family is Holm-corrected; a file logged after the first job is "not preregistered"."""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from scipy import stats

from green_mlflow.report.analysis import analyse
from green_mlflow.report.data import client_artifact_reader, load, load_sweep
from green_mlflow.report.findings import findings_document
from green_mlflow.report.parent_artifacts import HYPOTHESES_ARTIFACT
from green_mlflow.report.study import study
from green_mlflow.study.claims import claims
from green_mlflow.study.hypotheses import parse
from tests.helpers.synthetic import Job, make_sweep

TIGHT = [0.99, 1.0, 1.01, 0.995, 1.005, 1.0]  # six repetitions, 0.7 % spread
WIDE = [0.7, 1.3]  # two repetitions, far apart: nothing can be decided


def _series(runtime, scale, noise=TIGHT, mode=None, source=None, model="mobilenet_v2", batch_size=1, latency=10.0):
    mode = mode or {"torch": "eager", "tf": "function", "mxnet": "hybrid", "onnx": "ort_all"}[runtime]
    return [
        Job(runtime, mode, model, batch_size, "cpu", source, i, energy_j=scale * k, latency_ms=latency * scale * k,
            estimated=False)
        for i, k in enumerate(noise)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def view(tmp_path_factory):
    """mobilenet_v2: mxnet 20 % below torch; tf 1 % above torch (equivalent); onnx from torch 30 % below torch.
    resnet50: mxnet 20 % ABOVE torch (the ranking of torch and mxnet flips); bert_base: torch and tf, two wide runs each."""
    client = MlflowClient(f"sqlite:///{tmp_path_factory.mktemp('claims') / 'mlflow.db'}")
    jobs = (
        _series("torch", 1.0)
        + _series("mxnet", 0.8)
        + _series("tf", 1.01)
        + _series("onnx", 0.7, source="torch")
        + _series("torch", 2.0, model="resnet50")
        + _series("mxnet", 2.4, model="resnet50")
        + _series("tf", 3.0, model="resnet50")
        + _series("torch", 1.0, WIDE, model="bert_base")
        + _series("tf", 1.1, WIDE, model="bert_base")
    )
    parent = make_sweep(client, "claims", jobs)
    return analyse(load(client, parent), traces=False)


def _claims(view, text: str):
    return {c.hypothesis.id: c for c in claims(view.groups, study(view), parse(f"hypotheses:\n{text}", "test.yaml"))}


def test_lower_is_supported_contradicted_or_inconclusive_as_the_data_say(view):
    found = _claims(
        view,
        """
  - {id: S, statement: mxnet below torch on mobilenet, kind: lower, a: {runtime: torch}, b: {runtime: mxnet}, where: {model: mobilenet_v2}}
  - {id: C, statement: mxnet below torch on resnet50, kind: lower, a: {runtime: torch}, b: {runtime: mxnet}, where: {model: resnet50}}
  - {id: I, statement: tf below torch on bert, kind: lower, a: {runtime: torch}, b: {runtime: tf}, where: {model: bert_base}}
  - {id: E, statement: mxnet 30 % below torch on mobilenet, kind: lower, a: {runtime: torch}, b: {runtime: mxnet}, where: {model: mobilenet_v2}, min_effect: 0.3}
""",
    )
    assert found["S"].status == "supported" and found["S"].ratio == pytest.approx(0.8, rel=1e-6)
    assert found["C"].status == "contradicted"
    assert found["I"].status == "inconclusive" and "runs per series would decide" in found["I"].decide
    assert found["E"].status == "contradicted"  # 20 % lower, not the 30 % claimed
    assert found["S"].n == [(6, 6)]
    assert (
        found["S"].statistic.endswith("on net energy per sample, measured")
        and found["S"].quantity in found["S"].record()["quantity"]
    )


def test_each_claim_is_decided_at_its_bonferroni_share_with_welchs_statistic_at_hsus_df(view):
    import numpy as np

    found = _claims(
        view,
        """
  - {id: S, statement: s, kind: lower, a: {runtime: torch}, b: {runtime: mxnet}, where: {model: mobilenet_v2}}
  - {id: T, statement: t, kind: lower, a: {runtime: torch}, b: {runtime: onnx, source: torch}}
""",
    )
    level = 0.05 / 2  # two declared hypotheses: each at alpha / 2
    assert found["S"].level == pytest.approx(level) and found["T"].level == pytest.approx(level)
    a, b = np.log([1.0 * k for k in TIGHT]), np.log([0.8 * k for k in TIGHT])
    welch = stats.ttest_ind(b, a, equal_var=False)
    se = (b.mean() - a.mean()) / welch.statistic
    half = stats.t.ppf(1 - level, len(TIGHT) - 1) * se  # the one-sided bound at the claim's level, Hsu's df
    assert found["S"].interval == pytest.approx(
        (np.exp(b.mean() - a.mean() - half), np.exp(b.mean() - a.mean() + half)), rel=1e-9
    )
    assert (found["S"].status == "supported") == (stats.t.cdf(welch.statistic, len(TIGHT) - 1) < level)
    assert found["S"].record()["correction"].startswith("Bonferroni over the declared hypotheses")


def test_equivalence_best_and_ranking_changes(view):
    found = _claims(
        view,
        """
  - {id: EQ, statement: tf and torch within 5 %, kind: equivalent, a: {runtime: torch}, b: {runtime: tf}, where: {model: mobilenet_v2}}
  - {id: NEQ, statement: mxnet and torch within 5 %, kind: equivalent, a: {runtime: torch}, b: {runtime: mxnet}, where: {model: mobilenet_v2}}
  - {id: BEST, statement: onnx best on mobilenet, kind: best, series: {runtime: onnx}, where: {model: mobilenet_v2}}
  - {id: NOTBEST, statement: tf best on resnet50, kind: best, series: {runtime: tf}, where: {model: resnet50}}
  - {id: RANK, statement: rankings change, kind: ranking_changes, series: {runtime: [torch, mxnet]}}
  - {id: NORANK, statement: rankings change between torch and tf, kind: ranking_changes, series: {runtime: [torch, tf]}, where: {model: [mobilenet_v2, resnet50]}}
""",
    )
    assert found["EQ"].status == "supported" and found["NEQ"].status == "contradicted"
    assert found["BEST"].status == "supported" and found["NOTBEST"].status == "contradicted"
    assert found["RANK"].status == "supported"  # mxnet below torch on mobilenet, above on resnet50
    assert found["NORANK"].status == "inconclusive"  # tf vs torch: 1 % on mobilenet (not significant), 50 % on resnet


def test_a_claim_with_no_data_says_which_overrides_would_measure_it(view):
    found = _claims(
        view,
        """
  - {id: TRT, statement: tensorrt beats cuda, kind: lower, a: {runtime: onnx, provider: cuda}, b: {runtime: onnx, provider: tensorrt}}
""",
    )
    assert found["TRT"].status == "not measured"
    assert found["TRT"].decide == "python -m green_mlflow -m runtime=onnx provider=cuda,tensorrt"


def test_correlation_of_measured_energy_is_supported_and_of_estimated_energy_is_not_computed(view):
    found = _claims(view, "  - {id: R, statement: energy follows time, kind: correlation, threshold: 0.9}\n")
    assert found["R"].status == "supported" and found["R"].ratio == pytest.approx(1.0)
    assert "lower bound" in found["R"].statistic and found["R"].interval[0] >= 0.9
    assert found["R"].n_counts.startswith("9 series")


def test_the_paper_file_parses_and_every_claim_gets_a_status(view):
    from green_mlflow.study.hypotheses import load as load_hypotheses

    declared = load_hypotheses("paper")
    results = claims(view.groups, study(view), declared)
    # energy and time side by side: one claim per hypothesis and metric, each a member of the family
    assert len(declared.hypotheses) == 12 and len(results) == sum(len(h.metrics) for h in declared.hypotheses) == 22
    assert all(c.level == pytest.approx(0.05 / 22) for c in results)
    statuses = ("supported", "contradicted", "inconclusive", "not measured", "partly measured")
    assert all(c.status in statuses for c in results)
    by_id = {c.hypothesis.id: c for c in results if c.metric in ("energy", "cpu_utilisation")}
    assert by_id["P8-tensorrt-beats-cuda"].status == "not measured"
    assert "provider=cuda,tensorrt" in by_id["P8-tensorrt-beats-cuda"].decide
    p2a = by_id["P2a-mxnet-beats-torch-vision-bs1"]
    assert "the paper measured on an RTX 3070" in p2a.tested_on
    # a paper's claim tested here is a replication on this hardware, never the paper's own outcome
    assert p2a.replicated_on and p2a.shown_as == f"replicated on {p2a.replicated_on}: {p2a.status}"
    assert p2a.record()["shown_as"] == p2a.shown_as and p2a.record()["replicated_on"] == p2a.replicated_on
    assert by_id["P8-tensorrt-beats-cuda"].shown_as == "not measured"  # nothing tested, nothing replicated


def _log_hypotheses(client, parent: str, text: str, logged_ms: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hypotheses.yaml"
        path.write_text(text)
        client.log_artifact(parent, str(path), "hypotheses")
    client.set_tag(parent, "green.hypotheses.source", "mine.yaml")
    client.set_tag(parent, "green.hypotheses.sha256", "0" * 64)
    client.set_tag(parent, "green.hypotheses.logged_ms", str(logged_ms))


@pytest.mark.parametrize("before", [True, False])
def test_claims_json_marks_a_file_logged_after_the_first_job_as_not_preregistered(tmp_path: Path, before: bool):
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    text = "hypotheses:\n  - {id: S, statement: s, kind: lower, a: {runtime: torch}, b: {runtime: mxnet}}\n"
    declared_ms = int(time.time() * 1000) - 60_000 if before else None
    parent = make_sweep(client, "prereg", _series("torch", 1.0) + _series("mxnet", 0.8))
    _log_hypotheses(client, parent, text, declared_ms or int(time.time() * 1000) + 60_000)
    assert client_artifact_reader(client)(client.get_run(parent), HYPOTHESES_ARTIFACT) == text
    view = analyse(load_sweep(client, parent, client_artifact_reader(client)), traces=False)
    document = json.loads(json.dumps(findings_document(view, study(view))))
    assert document["claims"]["preregistered"] is before
    assert document["claims"]["claims"][0]["status"] == "supported"
    sentence = next(f["text"] for f in document["findings"] if f["kind"] == "claim")
    assert ("not preregistered" in sentence) is not before


def test_a_correlation_claim_on_estimated_energy_is_not_measured_and_says_why(tmp_path: Path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    jobs = [
        Job(r, m, repetition=i, energy_j=e * k, latency_ms=10 * e * k, estimated=True)
        for r, m, e in (("torch", "eager", 1.0), ("tf", "function", 2.0), ("mxnet", "hybrid", 3.0))
        for i, k in enumerate(TIGHT)
    ]
    view = analyse(load(client, make_sweep(client, "estimated", jobs)), traces=False)
    text = "hypotheses:\n  - {id: R, statement: s, kind: correlation}\n  - {id: L, statement: s, kind: lower, a: {runtime: tf}, b: {runtime: torch}}\n"
    claim, lower = claims(view.groups, study(view), parse(text, "t"))
    assert claim.status == "not measured" and "circular" in claim.decide and "energy counter" in claim.decide
    # a comparison of estimated energy is made, and says it compared an estimate
    assert lower.status == "supported" and lower.statistic.endswith(
        "estimated (power × time: no energy counter here), not measured"
    )


# Each kind alone (a family of one, so Holm changes nothing) in the case built for each status.
KIND_CASES = {
    "higher": {
        "supported": "{kind: higher, a: {runtime: torch}, b: {runtime: tf}, where: {model: resnet50}}",  # 1.5x
        "contradicted": "{kind: higher, a: {runtime: torch}, b: {runtime: mxnet}, where: {model: mobilenet_v2}}",
        "inconclusive": "{kind: higher, a: {runtime: torch}, b: {runtime: tf}, where: {model: bert_base}}",
    },
    "lower": {
        "supported": "{kind: lower, a: {runtime: torch}, b: {runtime: mxnet}, where: {model: mobilenet_v2}}",
        "contradicted": "{kind: lower, a: {runtime: torch}, b: {runtime: mxnet}, where: {model: resnet50}}",
        "inconclusive": "{kind: lower, a: {runtime: torch}, b: {runtime: tf}, where: {model: bert_base}}",
    },
    "equivalent": {
        "supported": "{kind: equivalent, a: {runtime: torch}, b: {runtime: tf}, where: {model: mobilenet_v2}}",
        "contradicted": "{kind: equivalent, a: {runtime: torch}, b: {runtime: mxnet}, where: {model: mobilenet_v2}}",
        "inconclusive": "{kind: equivalent, a: {runtime: torch}, b: {runtime: tf}, where: {model: bert_base}}",
    },
    "best": {
        "supported": "{kind: best, series: {runtime: onnx}, where: {model: mobilenet_v2}}",
        "contradicted": "{kind: best, series: {runtime: tf}, where: {model: resnet50}}",
        "inconclusive": "{kind: best, series: {runtime: torch}, where: {model: bert_base}}",  # two wide runs each
    },
    "ranking_changes": {
        "supported": "{kind: ranking_changes, series: {runtime: [torch, mxnet]}}",  # flips mobilenet -> resnet50
        "contradicted": "{kind: ranking_changes, series: {runtime: [mxnet, tf]}, where: {model: [mobilenet_v2, resnet50]}}",  # mxnet lower in both
        "inconclusive": "{kind: ranking_changes, series: {runtime: [torch, tf]}, where: {model: [bert_base, mobilenet_v2]}}",
    },
}  # fmt: skip


@pytest.mark.parametrize("kind,status", [(k, s) for k, cases in KIND_CASES.items() for s in cases])
def test_every_kind_comes_out_supported_contradicted_and_inconclusive_where_built_so(view, kind: str, status: str):
    (claim,) = claims(
        view.groups,
        study(view),
        parse(f"hypotheses:\n  - {{id: H, statement: s, {KIND_CASES[kind][status][1:]}\n", "t"),
    )
    assert claim.status == status, (claim.statistic, claim.supported, claim.contradicted, claim.detail)
    assert claim.supported is not None and claim.contradicted is not None and claim.n_counts


def _correlation_view(tmp_path: Path, energy_ranks: list[int]):
    """One series per (runtime, model) pair, latency 1, 2, 3, ... and energy in the given rank order."""
    places = [(r, m) for m in ("mobilenet_v2", "resnet50") for r in ("torch", "tf", "mxnet", "onnx")]
    jobs = [
        Job(r, {"torch": "eager", "tf": "function", "mxnet": "hybrid", "onnx": "ort_all"}[r], m,
            source="torch" if r == "onnx" else None, repetition=i, energy_j=rank * k, latency_ms=(x + 1) * k,
            estimated=False)
        for x, ((r, m), rank) in enumerate(zip(places, energy_ranks))
        for i, k in enumerate(TIGHT)
    ]  # fmt: skip
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    return analyse(load(client, make_sweep(client, "correlation", jobs)), traces=False)


@pytest.mark.parametrize(
    "energy_ranks,status",
    [
        ([1, 2, 3, 4, 5, 6, 7, 8], "inconclusive"),  # ρ = 1 over 8 series: lower bound 0.866 (ρ taken as 0.976)
        ([3, 7, 1, 5, 8, 2, 6, 4], "contradicted"),  # ρ near 0: the interval's top is below 0.9
        ([1, 2, 3], "inconclusive"),  # ρ = 1 over 3 series: no interval at n = 3
    ],
)
def test_correlation_comes_out_as_its_interval_bound_says(tmp_path: Path, energy_ranks, status):
    view = _correlation_view(tmp_path, energy_ranks)
    (claim,) = claims(
        view.groups, study(view), parse("hypotheses:\n  - {id: R, statement: s, kind: correlation}\n", "t")
    )
    rho = stats.spearmanr(range(len(energy_ranks)), energy_ranks).statistic
    assert claim.ratio == pytest.approx(rho) and claim.status == status, claim.statistic
    if len(energy_ranks) == 3:
        assert claim.interval is None and "more series" in claim.decide
    if len(energy_ranks) == 8 and status == "inconclusive":
        assert claim.interval[0] == pytest.approx(0.8657, abs=0.0005) and "more series" in claim.decide


@pytest.mark.parametrize(
    "gap,sd,family", [(0.5, 0.2, 1), (0.1, 0.2, 13), (1.0, 0.3, 5), (0.05, 0.01, 2), (0.02, 0.1, 10)]
)
def test_runs_that_would_decide_match_statsmodels_power_of_a_t_test(gap: float, sd: float, family: int):
    """The smallest equal n at which a one-sided two-sample t-test at Hsu's df (n − 1) reaches 80 % power at
    alpha/family — down to n = 2, where the normal approximation would say too few."""
    from statsmodels.stats.power import TTestIndPower

    from green_mlflow.study.claims import _n_to_decide
    from green_mlflow.study.estimate import Estimate

    est = Estimate(d=gap, se=sd * math.sqrt(2 / 5), df=4.0, sd=sd, n_a=5, n_b=5, log=True)  # SD sd at 5 a side
    n = _n_to_decide(est, 0.0, 0.05 / family)
    power = TTestIndPower()
    exact = next(
        m for m in range(2, 10_000)
        if power.power(effect_size=gap / sd, nobs1=m, alpha=0.05 / family, df=m - 1, alternative="larger") >= 0.8
    )  # fmt: skip
    assert n == exact, (n, exact)


def test_pairs_are_like_for_like_each_runtime_in_its_default_mode_unless_the_claim_names_one(tmp_path: Path):
    """torch in two modes (eager 1.0, CUDA graphs 0.5) and mxnet hybrid 0.8: "mxnet below torch" reads torch as it
    runs by default (eager), never its CUDA graphs; a claim that names cuda_graph gets exactly that pair."""
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    jobs = _series("torch", 1.0) + _series("torch", 0.5, mode="cuda_graph") + _series("mxnet", 0.8)
    view = analyse(load(client, make_sweep(client, "modes", jobs)), traces=False)
    found = _claims(
        view,
        "  - {id: D, statement: s, kind: lower, a: {runtime: torch}, b: {runtime: mxnet}}\n"
        "  - {id: G, statement: s, kind: lower, a: {runtime: torch, mode: cuda_graph}, b: {runtime: mxnet}}\n"
        "  - {id: M, statement: s, kind: lower, a: {runtime: torch}, b: {runtime: torch, mode: cuda_graph}}\n",
    )
    assert found["D"].status == "supported" and found["D"].n == [(6, 6)], found["D"].detail  # eager vs hybrid only
    assert found["G"].status == "contradicted" and found["G"].n == [(6, 6)], found["G"].detail  # 0.8 > 0.5
    assert any("cuda_graph" in d for d in found["G"].detail) and not any("cuda_graph" in d for d in found["D"].detail)
    assert found["M"].status == "supported", found["M"].detail  # the same runtime, its two modes: named, so paired


@pytest.mark.parametrize("ratio,status", [(1.10, "supported"), (1.03, "contradicted"), (1.25, "contradicted")])
def test_about_ten_percent_more_is_supported_at_1_10_and_not_at_1_03_or_1_25(tmp_path: Path, ratio, status):
    """The paper's P7 as declared: ONNX ResNet-50 from PyTorch at batch 64 about 10 % dearer (×1.10 within ±5 %)."""
    from green_mlflow.study.hypotheses import load as load_hypotheses

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    jobs = _series("torch", 1.0, model="resnet50", batch_size=64) + _series(
        "onnx", ratio, source="torch", model="resnet50", batch_size=64
    )
    view = analyse(load(client, make_sweep(client, "p7", jobs)), traces=False)
    paper = load_hypotheses("paper")
    (p7,) = [h for h in paper.hypotheses if h.id.startswith("P7")]
    energy, time = claims(view.groups, study(view), type(paper)(paper.source, paper.text, [p7]))
    assert (energy.metric, time.metric) == ("energy", "latency")  # "about 10 % more energy and time": both
    for claim in (energy, time):
        assert claim.status == status, (claim.statistic, claim.interval, claim.detail)
        assert "around ×1.1 (1.048 to 1.155)" in claim.statistic
