"""The study's questions on synthetic sweeps whose answer is known, each statistic recomputed independently
(numpy/scipy on the stored metrics) and matched with ``findings.json`` to 1e-9."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from scipy import stats

from green_mlflow.report.analysis import analyse
from green_mlflow.report.data import load
from green_mlflow.report.findings import findings_document
from green_mlflow.report.study import study
from tests.helpers.synthetic import Job, make_sweep

NOISE = [0.97, 1.0, 1.03, 0.99, 1.01, 0.985, 1.015, 1.0]  # eight repetitions, symmetric: normal enough
TORCH = [1.0 * k for k in NOISE]
ONNX_TORCH = [0.8 * k for k in reversed(NOISE)]  # 20 % below torch
MXNET = [1.002 * k for k in NOISE[2:] + NOISE[:2]]  # within 0.2 % of torch: equivalent at ±5 %
TF_TWO = [1.3, 1.32]  # only two runs


def _jobs(runtime, energies, source=None, mode="eager", batch_size=1, latency_per_j=10.0, provider="cpu"):
    return [
        Job(runtime, mode, source=source, repetition=i, energy_j=e, latency_ms=e * latency_per_j * batch_size,
            estimated=False, batch_size=batch_size, provider=provider)
        for i, e in enumerate(energies)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def document(tmp_path_factory):
    client = MlflowClient(f"sqlite:///{tmp_path_factory.mktemp('study') / 'mlflow.db'}")
    jobs = (
        _jobs("torch", TORCH)
        + _jobs("onnx", ONNX_TORCH, source="torch", mode="ort_all")
        + _jobs("mxnet", MXNET, mode="hybrid")
        + _jobs("tf", TF_TWO, mode="function")
        + _jobs("onnx", [0.9, 0.95], source="tf", mode="ort_all")
        + _jobs("torch", [0.25 * k for k in NOISE], batch_size=64, latency_per_j=12.0)
        + _jobs("onnx", [0.3 * k for k in NOISE], source="torch", mode="ort_all", batch_size=64, latency_per_j=7.0)
        + _jobs("onnx", [0.5 * k for k in NOISE], source="torch", mode="ort_all", provider="cuda")
    )
    parent = make_sweep(client, "study", jobs)
    view = analyse(load(client, parent), traces=False)
    document = json.loads(json.dumps(findings_document(view, study(view))))
    return document, view


def _natives(document, model_batch=("mobilenet_v2", 1), provider="cpu"):
    return [
        c
        for c in document["conversions"]
        if (c["model"], c["batch_size"], c["provider"]) == (*model_batch, provider) and c["metric"].startswith("energy")
    ]


def _log_interval(a, b, level):
    """exp(mean log b − mean log a) − 1 and its two-sided ``level`` t interval at Hsu's df, from scratch."""
    x, y = np.log(a), np.log(b)
    d = y.mean() - x.mean()
    se = math.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size)
    half = stats.t.ppf(0.5 + level / 2, min(x.size, y.size) - 1) * se
    return math.expm1(d), math.expm1(d - half), math.expm1(d + half)


def _comparison(document, a, b, model_batch=("mobilenet_v2", 1), provider="cpu"):
    for c in document["comparisons"]:
        if (c["model"], c["batch_size"], c["reference_provider"]) == (*model_batch, provider) and {
            c["reference"],
            c["other"],
        } == {a, b}:
            return c
    raise AssertionError(f"no comparison of {a} and {b}")


def test_every_comparison_is_decided_at_its_bonferroni_share_of_alpha(document):
    document, _ = document
    comparisons = document["comparisons"]
    assert len(comparisons) >= 6
    assert [c["alpha"] for c in comparisons] == pytest.approx([0.05 / len(comparisons)] * len(comparisons))
    assert f"among the {len(comparisons)} comparisons" in document["guarantee"]


def test_onnx_from_torch_20_percent_lower_is_found_with_its_statistics(document):
    document, _ = document
    (torch_row,) = [c for c in _natives(document) if c["source"] == "torch"]
    native, onnx = [e * 0.8 for e in TORCH], [e * 0.8 for e in ONNX_TORCH]  # net = gross × 0.8
    assert torch_row["metric"] == "energy_per_sample_net_j" and torch_row["verdict"] == "lower"
    answer = _comparison(document, "torch", "onnx (from torch)")
    delta, low, high = _log_interval(native, onnx, 1 - answer["alpha"])
    assert torch_row["delta_rel"] == pytest.approx(delta, abs=1e-9) and delta == pytest.approx(-0.2, abs=2e-3)
    assert (torch_row["ci_low"], torch_row["ci_high"]) == pytest.approx((low, high), abs=1e-9)
    assert (answer["ci_low_rel"], answer["ci_high_rel"]) == pytest.approx((low, high), abs=1e-9)
    assert (torch_row["n_native"], torch_row["n_onnx"]) == (8, 8)
    assert torch_row["native_mean"] == pytest.approx(np.mean(native), abs=1e-9)


def test_two_runs_against_two_are_open_never_a_verdict(document):
    document, _ = document
    (tf_row,) = [c for c in _natives(document) if c["source"] == "tf"]
    assert tf_row["verdict"] == "open"
    answer = _comparison(document, "tf", "onnx (from tf)")
    assert answer["verdict"] == "open" and (answer["n_reference"], answer["n_other"]) == (2, 2)
    sentence = next(
        f for f in document["findings"] if f["kind"] == "comparison" and f["question"] == answer["question"]
    )
    assert sentence["text"].startswith("Open: onnx (from tf) is") and "not yet decided" in sentence["text"]


def test_equal_series_are_equivalent_and_different_ones_different(document):
    document, _ = document
    pair = _comparison(document, "torch", "mxnet")
    assert pair["verdict"] == "equivalent" and pair["margin_rel"] == 0.05
    a = [e * 0.8 for e in (TORCH if pair["reference"] == "torch" else MXNET)]
    b = [e * 0.8 for e in (MXNET if pair["reference"] == "torch" else TORCH)]
    # TOST at the comparison's level: the 1 − 2 alpha interval (Hsu's df) inside ±5 %
    _, low, high = _log_interval(a, b, 1 - 2 * pair["alpha"])
    assert (pair["eq_low_rel"], pair["eq_high_rel"]) == pytest.approx((low, high), abs=1e-9)
    assert -0.05 < low and high < 0.05
    assert _comparison(document, "torch", "onnx (from torch)")["verdict"] in ("lower", "higher")
    texts = [f["text"] for f in document["findings"] if f["kind"] == "comparison"]
    assert any("equivalent in net energy per sample within ±5 %" in t for t in texts)
    assert not any(w in " ".join(f["text"] for f in document["findings"]) for w in ("indistinguishable", " same "))


def test_each_pair_is_stated_once_in_the_findings(document):
    document, _ = document
    stated = [
        (
            f["model"],
            f["batch_size"],
            frozenset((f["reference"], f["other"])),
            f["reference_provider"],
            f["other_provider"],
        )
        for f in document["findings"]
        if f["kind"] == "comparison"
    ]
    assert stated and len(stated) == len(set(stated))
    assert {f["kind"] for f in document["findings"]}.isdisjoint({"conversion", "provider", "equivalence", "adaptive"})


def test_energy_follows_time_with_spearman_computed_independently(document):
    document, view = document
    (cpu,) = [c for c in document["correlation"] if c["provider"] == "cpu"]
    xs, ys = [], []
    for group in view.groups:
        if group.provider == "cpu":
            for s in group.series:
                xs.append(s.mean("latency_mean_ms") / int(group.batch_size))
                ys.append(s.mean(cpu["metric"]))
    rho = stats.spearmanr(xs, ys).statistic
    assert cpu["n"] == len(xs) == 7 and cpu["rho"] == pytest.approx(rho, abs=1e-9)
    z, se = math.atanh(rho), math.sqrt((1 + rho**2 / 2) / (len(xs) - 3))
    assert cpu["ci95_low"] == pytest.approx(math.tanh(z - 1.959963984540054 * se), abs=1e-9)
    assert cpu["departures"] and cpu["departures"][0]["series"]


def test_batch_size_providers_overview_and_findings_carry_their_numbers(document):
    document, _ = document
    (batch,) = [
        b
        for b in document["batch_effects"]
        if b["reference"].startswith("torch at batch 1") and b["metric"].startswith("energy")
    ]
    assert batch["delta_rel"] == pytest.approx(-0.75, abs=1e-9) and batch["verdict"].startswith("descriptive")
    (provider,) = [p for p in document["providers"] if p["metric"].startswith("energy")]
    # each provider against the lowest one: cuda (0.5 J) is the reference, cpu (0.8 J) is 60 % above it
    assert provider["reference"] == "onnx (from torch) on cuda" and provider["other"] == "onnx (from torch) on cpu"
    assert provider["delta_rel"] == pytest.approx(0.8 / 0.5 - 1, abs=1e-9) and provider["verdict"] == "higher"
    assert _comparison(document, "onnx (from torch)", "onnx (from torch)", provider="cuda")["verdict"] == "higher"
    best = [o for o in document["overview"] if o["relative_to_best"] == 1.0]
    assert {(o["series"], o["batch_size"], o["provider"]) for o in best} >= {("onnx (from torch)", 1, "cpu")}
    answer = _comparison(document, "torch", "onnx (from torch)")
    sentence = next(f["text"] for f in document["findings"] if f.get("question") == answer["question"])
    assert "onnx (from torch) has 20 % less net energy per sample than torch" in sentence
    assert "repeated CI" in sentence and "n = 8 vs 8" in sentence and "(mobilenet_v2 at batch 1)" in sentence
    assert document["schema"] == "green_mlflow.findings/1" and document["equivalence_margin_rel"] == 0.05


def test_runs_of_two_machines_are_never_pooled(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    for cpu, scale in (("Intel Xeon 8480", 1.0), ("AMD EPYC 9654", 0.5)):
        jobs = [
            Job(r, m, source=s, repetition=i, energy_j=e * scale, latency_ms=10.0, estimated=False,
                extra_tags={"host.cpu_model": cpu})
            for r, m, s, base in (("torch", "eager", None, 1.0), ("onnx", "ort_all", "torch", 0.8))
            for i, e in enumerate(base * k for k in NOISE[:4])
        ]  # fmt: skip
        make_sweep(client, "two hosts", jobs, name=f"sweep on {cpu}")
    view = analyse(load(client, "two hosts"), traces=False)
    assert sorted(g.title for g in view.groups) == [
        "mobilenet_v2 · batch 1 · cpu · AMD EPYC 9654",
        "mobilenet_v2 · batch 1 · cpu · Intel Xeon 8480",
    ]
    assert all(len(s.finished) == 4 for g in view.groups for s in g.series), "4 runs a series, not 8 pooled"
    rows = study(view).conversions
    assert sorted(r.hardware for r in rows if r.metric.startswith("energy")) == ["AMD EPYC 9654", "Intel Xeon 8480"]
