"""The paper's claims as the paper states them, on synthetic stores whose truth is known: a claim measured on
half its scope is "partly measured" (never supported on the part); energy and time are tested side by side and
can differ; "usually" is a share of the conversions; P9 is decided by its interval's bound inside the paper's
family; the MXNet mechanism is a claim on CPU utilisation; the ranking claim says what its n counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from scipy import stats

from green_mlflow.report.analysis import analyse
from green_mlflow.report.data import load
from green_mlflow.report.study import study
from green_mlflow.study.claims import claims
from green_mlflow.study.hypotheses import load as load_hypotheses
from green_mlflow.study.hypotheses import parse
from tests.helpers.synthetic import Job, make_sweep

TIGHT = [0.99, 1.0, 1.01, 0.995, 1.005, 1.0]
MODES = {"torch": "eager", "tf": "function", "mxnet": "hybrid", "onnx": "ort_all"}


def _series(runtime, energy, latency=None, model="mobilenet_v2", batch_size=1, source=None, provider="cpu",
            cpu_percent=None, reps=TIGHT):  # fmt: skip
    latency = 10 * energy if latency is None else latency
    return [
        Job(runtime, MODES[runtime], model, batch_size, provider, source, i, energy_j=energy * k,
            latency_ms=latency * k, estimated=False, cpu_percent=None if cpu_percent is None else cpu_percent * k)
        for i, k in enumerate(reps)
    ]  # fmt: skip


def _view(tmp_path: Path, jobs: list[Job], name: str = "paper"):
    client = MlflowClient(f"sqlite:///{tmp_path / f'{name}.db'}")
    return analyse(load(client, make_sweep(client, name, jobs)), traces=False)


def _claims(view, text: str) -> dict:
    found = claims(view.groups, study(view), parse(f"hypotheses:\n{text}", "test.yaml"))
    return {c.name: c for c in found}


def test_a_claim_measured_on_half_its_scope_is_partly_measured_never_supported(tmp_path: Path):
    """ONNX below PyTorch on MobileNetV2 and ResNet-50: the data have MobileNetV2 only (and show it there); TF
    above PyTorch on both: contradicted on MobileNetV2, which stands on any part of an "always" claim."""
    jobs = (
        _series("torch", 1.0) + _series("onnx", 0.6, source="torch") + _series("tf", 0.7)
        + _series("torch", 2.0, model="resnet50") + _series("tf", 2.5, model="resnet50")
    )  # fmt: skip
    found = _claims(
        _view(tmp_path, jobs),
        "  - {id: HALF, statement: s, kind: lower, a: {runtime: torch}, b: {runtime: onnx, source: torch},"
        " where: {model: [mobilenet_v2, resnet50], batch_size: 1}}\n"
        "  - {id: ALWAYS, statement: s, kind: higher, a: {runtime: torch}, b: {runtime: tf},"
        " where: {model: [mobilenet_v2, resnet50, bert_base]}}\n",
    )
    half = found["HALF"]
    assert half.supported is True  # the measured pair shows it ...
    assert half.status == "partly measured" and half.part == "supported"  # ... but half the scope is missing
    assert half.shown_as == "partly measured: 1 of 2 pairs" and half.coverage.record()["expected"] == 2
    assert half.coverage.missing == (
        "onnx (from torch) vs torch (resnet50, batch 1, cpu): no onnx (from torch) series",
    )
    assert "model=mobilenet_v2,resnet50" in half.decide and "never supported on part" in half.decide
    record = half.record()
    assert record["status"] == "partly measured" and record["coverage"]["measured"] == 1
    assert record["pairs"] and "mobilenet_v2" in record["pairs"][0]
    always = found["ALWAYS"]
    assert always.status == "contradicted" and always.coverage.text == "2 of 3 pairs"


def test_a_time_claim_and_an_energy_claim_on_the_same_pairs_can_differ(tmp_path: Path):
    """MXNet on one core: 20 % less energy than PyTorch but 40 % more time per batch."""
    jobs = _series("torch", 1.0, latency=10.0) + _series("mxnet", 0.8, latency=14.0)
    found = _claims(
        _view(tmp_path, jobs),
        "  - {id: M, statement: s, kind: lower, a: {runtime: torch}, b: {runtime: mxnet}, metric: [energy, latency]}\n",
    )
    energy, time = found["M (energy)"], found["M (latency)"]
    assert energy.status == "supported" and time.status == "contradicted"
    assert energy.ratio == pytest.approx(0.8, rel=1e-3) and time.ratio == pytest.approx(1.4, rel=1e-3)
    assert "latency" in time.quantity and "energy" in energy.quantity
    assert energy.level == time.level == pytest.approx(0.05 / 2)  # both members of the family
    assert energy.n_counts.startswith("6 vs 6 runs per side")


def _conversions(onnx_ratio: dict[tuple[str, str], float]) -> list[Job]:
    jobs = []
    for model in ("mobilenet_v2", "resnet50"):
        for source, base in (("torch", 1.0), ("tf", 1.3), ("mxnet", 0.9)):
            jobs += _series(source, base, model=model)
            if (source, model) in onnx_ratio:
                jobs += _series("onnx", base * onnx_ratio[(source, model)], model=model, source=source)
    return jobs


USUALLY = (
    "  - {id: U, statement: s, kind: lower, a: {runtime: [torch, tf, mxnet]}, b: {runtime: onnx}, share: 0.5,"
    " where: {model: [mobilenet_v2, resnet50], batch_size: 1}}\n"
)
ALL = [(s, m) for m in ("mobilenet_v2", "resnet50") for s in ("torch", "tf", "mxnet")]


@pytest.mark.parametrize(
    "ratios,status,shown",
    [
        ({k: 0.7 if i < 4 else 1.2 for i, k in enumerate(ALL)}, "supported", 4),  # 4 of 6 lower: more than half
        ({k: 0.7 if i < 3 else 1.2 for i, k in enumerate(ALL)}, "contradicted", 3),  # 3 of 6: not more than half
        ({k: 0.7 if i < 2 else 1.2 for i, k in enumerate(ALL[:3])}, "partly measured", 2),  # 3 missing could tip it
    ],
)
def test_usually_is_more_than_a_share_of_the_conversions_each_onnx_against_its_own_source(
    tmp_path: Path, ratios, status, shown
):
    (claim,) = _claims(_view(tmp_path, _conversions(ratios)), USUALLY).values()
    assert claim.status == status, (claim.statistic, claim.detail)
    total = 6
    assert claim.counted.startswith(f"{shown} of {total} pairs shown"), claim.counted
    # each ONNX model against the framework it came from, never another
    assert len(claim.detail) == len(ratios), claim.detail
    for line in claim.detail:
        onnx, native = line.split(" / ")
        assert native.startswith(onnx[len("onnx (from ") : onnx.index(")")] + " ("), line


def _ranked(n: int, blocks: list[int]) -> list[int]:
    """1..n with consecutive blocks of the given lengths reversed: Σd² = Σ L(L² − 1)/3."""
    out, at = list(range(1, n + 1)), 0
    for length in blocks:
        out[at : at + length] = reversed(out[at : at + length])
        at += length
    return out


MODELS = ("resnet50", "mobilenet_v2", "bert_base")


def _many_series(energy_ranks: list[int]) -> list[Job]:
    """24 series (4 runtimes × 3 models × batch 1, 64), latency per sample 1..24, energy per sample by rank."""
    places = [(r, m, b) for m in MODELS for b in (1, 64) for r in ("torch", "tf", "mxnet", "onnx")]
    jobs = []
    for x, ((r, m, b), rank) in enumerate(zip(places, energy_ranks)):
        src = "torch" if r == "onnx" else None
        jobs += _series(r, float(rank), latency=(x + 1.0) * b, model=m, batch_size=b, source=src, reps=TIGHT[:3])
    return jobs


@pytest.mark.parametrize(
    "blocks,status",
    [
        ([2] * 11, "supported"),  # 11 adjacent swaps: ρ = 0.9904, lower bound 0.957 at 0.05/22
        ([8, 5, 4], "inconclusive"),  # ρ = 0.9009: its lower bound is under 0.9 (nor is the top below it)
    ],
)
def test_p9_is_its_interval_bound_against_0_9_inside_the_papers_family(tmp_path: Path, blocks, status):
    ranks = _ranked(24, blocks)
    view = _view(tmp_path, _many_series(ranks))
    paper = load_hypotheses("paper")
    found = {c.name: c for c in claims(view.groups, study(view), paper)}
    p9 = found["P9-energy-follows-time"]
    rho = stats.spearmanr(range(24), ranks).statistic
    assert p9.ratio == pytest.approx(rho) and p9.n_counts.startswith("24 series")
    assert p9.level == pytest.approx(0.05 / 22)  # inside the family of 22 (12 hypotheses, 10 on energy and time)
    assert p9.status == status, p9.statistic
    assert (p9.interval[0] >= 0.9) == (status == "supported")


def test_the_mxnet_mechanism_is_a_claim_on_cpu_utilisation_on_a_gpu_and_not_measured_on_a_cpu(tmp_path: Path):
    """P2c: on CUDA, MXNet's process at 30 % CPU against PyTorch's 90 % and TensorFlow's 95 % — supported; a
    CPU-only sweep does not measure it and says what would."""
    jobs = []
    for model in ("resnet50", "mobilenet_v2"):
        for runtime, cpu in (("torch", 90.0), ("tf", 95.0), ("mxnet", 30.0)):
            jobs += _series(runtime, 1.0, model=model, provider="cuda", cpu_percent=cpu)
    paper = load_hypotheses("paper")
    (p2c,) = [h for h in paper.hypotheses if h.id.startswith("P2c")]
    one = type(paper)(paper.source, paper.text, [p2c])
    (claim,) = claims(_view(tmp_path, jobs, "gpu").groups, None, one)
    assert claim.status == "supported" and claim.ratio == pytest.approx(30 / 90, rel=1e-3), claim.detail
    assert claim.coverage.text == "4 of 4 pairs" and "CPU utilisation" in claim.quantity
    (cpu_claim,) = claims(_view(tmp_path, _series("torch", 1.0) + _series("mxnet", 0.8), "cpu").groups, None, one)
    assert cpu_claim.status == "not measured" and "provider=cuda" in cpu_claim.decide


def test_the_ranking_claim_says_what_its_n_counts(tmp_path: Path):
    jobs = _series("torch", 1.0) + _series("mxnet", 0.8) + _series("torch", 2.0, model="resnet50")
    jobs += _series("mxnet", 2.4, model="resnet50")
    (claim,) = _claims(_view(tmp_path, jobs), "  - {id: R, statement: s, kind: ranking_changes}\n").values()
    assert claim.status == "supported"
    assert claim.n_counts == "2 groups, 1 runtime pair, 2 within-group comparisons" and claim.n == []
    assert claim.record()["n_counts"] == claim.n_counts


def test_the_claims_table_shows_each_claims_pairs_coverage_and_n_and_no_escaped_markup(tmp_path: Path):
    from types import SimpleNamespace

    from green_mlflow.report.render_study import claims as claims_section

    jobs = _series("torch", 1.0) + _series("onnx", 0.6, source="torch")
    found = claims(
        _view(tmp_path, jobs).groups,
        None,
        parse(
            "hypotheses:\n  - {id: HALF, statement: s, kind: lower, a: {runtime: torch}, b: {runtime: onnx, source: torch},"
            " where: {model: [mobilenet_v2, resnet50]}, metric: [energy, latency]}\n"
            "  - {id: TRT, statement: s, kind: lower, a: {provider: cuda}, b: {provider: tensorrt}}\n",
            "t",
        ),
    )
    declared = {"source": "t", "sha256": "0" * 64, "note": "declared before the first job started",
                "guarantee": "g", "claims": [c.record() for c in found]}  # fmt: skip
    html = claims_section(SimpleNamespace(claims=declared))
    assert "&lt;span" not in html  # the "—" of a claim without a ratio is markup, not escaped text
    for name in ("HALF (energy)", "HALF (latency)"):
        assert f'data-claim="{name}"' in html
    assert html.count("partly measured: 1 of 2 pairs") == 2 and "6 vs 6 runs per side" in html
    assert html.count("<details><summary>1 read</summary>") == 2 and "onnx (from torch) / torch (mobilenet_v2" in html


def test_mxnet_on_a_gpu_it_cannot_run_on_is_not_measurable_here_with_the_runs_own_reason(tmp_path: Path):
    """On a Hopper GPU MXNet's runs fail before measuring (its last build stops at compute capability 8.x): the
    paper's P2a is "not measured", says "not measurable here" with that reason, and what would measure it."""
    reason = (
        "MXNet 1.9.1 (mxnet-cu112, its last build) has GPU kernels up to compute capability 8.x; this GPU is 9.0, "
        "so MXNet cannot run on it."
    )
    jobs = []
    for model in ("resnet50", "mobilenet_v2"):
        jobs += _series("torch", 1.0, model=model, provider="cuda")
        jobs += [
            Job("mxnet", "hybrid", model, 1, "cuda", repetition=i, status="FAILED", reason=reason) for i in range(3)
        ]
    paper = load_hypotheses("paper")
    (p2a,) = [h for h in paper.hypotheses if h.id.startswith("P2a")]
    energy, _ = claims(_view(tmp_path, jobs).groups, None, type(paper)(paper.source, paper.text, [p2a]))
    assert energy.status == "not measured"
    assert energy.decide.startswith("mxnet vs torch (")
    assert (
        "mxnet not measurable here (FAILED: MXNet 1.9.1" in energy.decide and "compute capability 8.x" in energy.decide
    )
    assert "elsewhere: python -m green_mlflow -m runtime=torch,mxnet" in energy.decide
