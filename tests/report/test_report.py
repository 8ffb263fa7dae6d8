"""The comparison view on synthetic sweeps in a real SQLite MLflow store: loading, grouping, statistics,
verdicts, Pareto front, gaps, the report command and the page served by the mlflow.app plugin."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from mlflow.server import BACKEND_STORE_URI_ENV_VAR
from mlflow.tracking import MlflowClient

from green_mlflow.report.analysis import analyse
from green_mlflow.report.data import ReportError, load
from green_mlflow.report.render import render
from green_mlflow.report.study import study
from green_mlflow.study.groups import ENERGY_NET, ENERGY_NET_EST, LATENCY, pareto_front
from tests.helpers.synthetic import Job, make_sweep

TORCH = [0.95, 1.0, 1.05, 0.98, 1.02, 1.01]  # energy per sample (J) of six repetitions
ONNX = [0.66, 0.70, 0.72, 0.69, 0.71, 0.68]
DRIFTING = "drifting: latency +3.0 % per window (Mann-Kendall p=0.017)"
TF = [1.4, 1.5, 1.45, 1.55, 1.48, 1.52]


def jobs(runtime: str, energies: list[float], source: str | None = None, mode: str = "eager", **kw) -> list[Job]:
    return [
        Job(runtime, mode, source=source, repetition=i, energy_j=e, latency_ms=e * 10, **kw)
        for i, e in enumerate(energies)
    ]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[MlflowClient, str, dict[str, str]]:
    """One store holding the sweeps these tests read (written once: SQLite writes are slow on 2 cores)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('report') / 'mlflow.db'}"
    client = MlflowClient(uri)
    sweeps = {
        "clear": make_sweep(
            client,
            "clear",
            jobs("torch", TORCH)
            + jobs("onnx", ONNX, source="torch", mode="ort_all")
            + jobs("tf", TF, mode="function")
            + jobs("torch", TORCH, batch_size=64)
            + [
                Job(
                    "torch",
                    "eager",
                    repetition=9,
                    status="FAILED",
                    reason="worker crashed",
                    energy_j=None,
                    latency_ms=None,
                )
            ],
            pruned=[("onnx provider=tensorrt", "provider=tensorrt needs a GPU")],
        ),
        "single": make_sweep(
            client, "single", jobs("torch", [1.0]) + jobs("onnx", [0.7], source="torch", mode="ort_all")
        ),
        "same": make_sweep(
            client, "same", jobs("torch", TORCH) + jobs("onnx", TORCH[::-1], source="torch", mode="ort_all")
        ),
        "latency_only": make_sweep(
            client,
            "latency_only",
            jobs("torch", TORCH)
            + [Job("tf", "function", repetition=i, energy_j=None, latency_ms=5.0 + i) for i in range(6)],
            ledger=False,
        ),
        "measured": make_sweep(
            client,
            "measured",
            jobs("torch", TORCH, estimated=False) + jobs("mxnet", TF, mode="hybrid", estimated=False),
        ),
        "modes": make_sweep(client, "modes", jobs("torch", TORCH) + jobs("torch", ONNX, mode="compiled")),
        "carbon": make_sweep(
            client,
            "carbon",
            jobs("torch", TORCH[:3], carbon_g_per_kwh=400.0)
            + jobs("onnx", ONNX[:3], source="torch", mode="ort_all", extra_tags={"green.stability": DRIFTING}),
        ),
    }
    sweeps["second_clear"] = make_sweep(client, "clear", jobs("torch", TORCH[:2]), name="second sweep")
    return client, uri, sweeps


def test_runs_are_grouped_per_model_batch_and_provider_with_one_series_per_runtime_and_mode(store):
    client, _, sweeps = store
    view = analyse(load(client, sweeps["clear"]))
    assert [(g.model, g.batch_size, g.provider) for g in view.groups] == [
        ("mobilenet_v2", "1", "cpu"),
        ("mobilenet_v2", "64", "cpu"),
    ]
    batch1 = view.groups[0]
    assert [s.name for s in batch1.series] == ["onnx (from torch)", "torch", "tf"], "ranked by mean energy"
    assert [len(s.finished) for s in batch1.series] == [6, 6, 6]
    assert [r.status_reason for r in batch1.failed] == ["worker crashed"]
    net = ENERGY_NET_EST.metric
    assert batch1.series[0].summaries[net].mean == pytest.approx(0.8 * sum(ONNX) / 6)
    modes = analyse(load(client, sweeps["modes"])).groups[0]
    assert sorted(s.name for s in modes.series) == ["torch compiled", "torch eager"], "a runtime in two modes"


def _studied(client, sweep):
    """The view with the study's answers written into it (as every page and report has it)."""
    view = analyse(load(client, sweep))
    study(view)
    return view


def test_each_runtime_is_compared_with_the_best_by_the_studys_answers(store):
    client, _, sweeps = store
    group = _studied(client, sweeps["clear"]).groups[0]
    assert group.basis == ENERGY_NET_EST and group.best.name == "onnx (from torch)"
    rows = [group.comparisons["torch"], group.comparisons["tf"]]
    assert [r["verdict"] for r in rows] == ["higher", "higher"]
    expected = math.exp(np.mean(np.log(TORCH)) - np.mean(np.log(ONNX))) - 1  # ratio of geometric means
    assert rows[0]["delta_rel"] == pytest.approx(expected)
    assert "onnx (from torch)" not in group.comparisons, "the best is the reference, not a row"


def test_the_top_line_names_the_winner_by_how_much_how_sure_and_that_energy_is_estimated(store):
    client, _, sweeps = store
    verdict = _studied(client, sweeps["clear"]).groups[0].verdict
    match = re.fullmatch(
        r"onnx \(from torch\) wins for mobilenet_v2 at batch 1 on cpu: ([\d.]+) % less net energy per sample than "
        r"torch, the runner-up; latency [\d.]+ % lower on average \(([\d.]+) % repeated CI -[\d.]+ to -[\d.]+ %; "
        r"n = 6 vs 6\)\. Energy estimated \(power × time: no energy counter on this host\), not measured\.",
        verdict,
    )
    assert match, verdict
    assert float(match[1]) == pytest.approx((1 - np.exp(np.mean(np.log(ONNX)) - np.mean(np.log(TORCH)))) * 100, abs=0.5)


def test_one_run_per_runtime_is_not_decided_and_says_why(store):
    client, _, sweeps = store
    verdict = _studied(client, sweeps["single"]).groups[0].verdict
    assert verdict.startswith("Not decided for mobilenet_v2 at batch 1 on cpu: onnx (from torch) is lowest on average")
    assert "n = 1 per side: no variance yet" in verdict


def test_equal_runtimes_are_not_called_different(store):
    client, _, sweeps = store
    group = _studied(client, sweeps["same"]).groups[0]
    assert group.verdict.startswith(("Not decided", "No winner")), group.verdict
    assert group.comparisons[group.series[1].name]["verdict"] in ("open", "equivalent")


def test_latency_ranks_the_runtimes_when_no_energy_figure_covers_all_of_them(store):
    client, _, sweeps = store
    group = _studied(client, sweeps["latency_only"]).groups[0]
    assert group.basis == LATENCY and group.best.name == "tf"
    assert "tf wins" in group.verdict and "less mean latency per batch than torch" in group.verdict
    assert group.verdict.endswith("ranked by latency.")
    assert group.points == [], "no energy-latency plane without energy for every runtime"


def test_measured_energy_ranks_before_estimates_and_only_estimates_are_marked(store):
    client, _, sweeps = store
    measured = analyse(load(client, sweeps["measured"]))
    assert measured.groups[0].basis == ENERGY_NET
    assert "<b>est.</b>" not in render(measured) and "estimated" not in measured.groups[0].verdict
    estimated = render(analyse(load(client, sweeps["single"])))
    assert estimated.count("<b>est.</b>") == 4, "gross and net of both runtimes carry the estimate mark"


def test_co2e_is_shown_where_the_sweep_was_given_a_carbon_intensity_and_nowhere_else(store):
    client, _, sweeps = store
    with_carbon = render(analyse(load(client, sweeps["carbon"])))
    assert "CO2e per 1,000 samples (net) — estimated (g)" in with_carbon
    assert "CO2e" not in render(analyse(load(client, sweeps["single"])))


def test_flagged_runs_are_listed_beside_their_numbers_and_none_is_dropped(store):
    client, _, sweeps = store
    view = analyse(load(client, sweeps["carbon"]))
    page = render(view)
    assert page.count(f"stability {DRIFTING}") == 3 and "Flagged runs, included in every figure" in page
    assert sum(len(s.finished) for g in view.groups for s in g.series) == 6, "flagged runs still count"
    assert "Flagged runs" not in render(analyse(load(client, sweeps["single"])))


def test_missing_metrics_are_gaps_never_zeros_and_failed_and_pruned_jobs_keep_their_reasons(store):
    client, _, sweeps = store
    view = analyse(load(client, sweeps["clear"]))
    html = render(view)
    assert "worker crashed" in html and "provider=tensorrt needs a GPU" in html and "PRUNED" in html
    failed = next(r for r in view.not_finished)
    assert failed.metrics == {} and failed.status == "FAILED"
    latency_only = render(analyse(load(client, sweeps["latency_only"])))
    assert re.search(r'<td class="n gap"[^>]*>—</td>', latency_only), "tf has no energy: a gap"
    data = json.loads(re.search(r'id="green-data">(.*?)</script>', latency_only).group(1))
    tf = next(s for s in data["groups"][0]["series"] if s["runtime"] == "tf")
    assert tf["summaries"][ENERGY_NET_EST.metric]["mean"] is None and tf["summaries"][ENERGY_NET_EST.metric]["n"] == 0


def test_pareto_front_keeps_exactly_the_undominated_points():
    points = [(1.0, 5.0), (2.0, 3.0), (3.0, 3.0), (4.0, 1.0), (2.5, 4.0), (1.0, 5.0)]
    assert pareto_front(points) == [True, True, False, True, False, True]
    assert pareto_front([(1.0, 1.0)]) == [True]


def test_scatter_marks_the_pareto_front_of_the_series(store):
    client, _, sweeps = store
    group = analyse(load(client, sweeps["clear"])).groups[0]
    assert {p.name: p.on_front for p in group.points} == {"onnx (from torch)": True, "torch": False, "tf": False}


def test_an_experiment_covers_all_its_sweeps_and_a_parent_run_only_its_own(store):
    client, _, sweeps = store
    experiment = load(client, "clear")
    assert len(experiment.sweeps) == 2 and len(experiment.runs) == 6 * 4 + 1 + 2
    assert load(client, experiment.experiment_id).experiment_name == "clear", "an experiment id works too"
    sweep = load(client, sweeps["second_clear"])
    assert [s.run_id for s in sweep.sweeps] == [sweeps["second_clear"]] and len(sweep.runs) == 2


def test_pruned_jobs_come_from_the_ledger_whose_absence_or_garbage_is_tolerated(store, tmp_path):
    client, _, sweeps = store
    assert [p.reason for p in load(client, sweeps["clear"]).pruned] == ["provider=tensorrt needs a GPU"]
    absent = load(client, sweeps["latency_only"])
    assert absent.pruned == [] and absent.warnings == []
    parent = make_sweep(client, "garbled", jobs("torch", [1.0]), ledger=False)
    (tmp_path / "jobs.jsonl").write_text('{"job": "a", "status": "PRUNED", "reason": "r"}\nnot json\n')
    client.log_artifact(parent, str(tmp_path / "jobs.jsonl"), "summary")
    garbled = load(client, parent)
    assert [p.job for p in garbled.pruned] == ["a"] and "line 2 is not JSON" in garbled.warnings[0]


def test_unknown_targets_are_refused_with_what_is_allowed(store):
    client, _, sweeps = store
    with pytest.raises(ReportError, match=r"neither an experiment.*known: .*'clear'.*32-character id"):
        load(client, "no such experiment")
    child = load(client, sweeps["clear"]).runs[0]
    with pytest.raises(ReportError, match=f"not a sweep's parent run.*job of sweep {sweeps['clear']}"):
        load(client, child.run_id)


def test_report_command_writes_one_offline_file_and_logs_it_with_figures_to_the_parent(store, tmp_path):
    client, uri, sweeps = store
    out = tmp_path / "report.html"
    cmd = [sys.executable, "-m", "green_mlflow.report", sweeps["clear"], "--tracking-uri", uri, "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "onnx (from torch) wins" in proc.stdout and f"logged to run {sweeps['clear']}" in proc.stdout
    html = out.read_text()
    # nothing to fetch: no external script, stylesheet, image or font (the only URL is SVG's namespace name)
    assert not re.search(r"<link|src=|@import|url\(\s*['\"]?http", html)
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}
    assert html.count("<svg") >= 3
    logged = {a.path for a in client.list_artifacts(sweeps["clear"], "report")}
    assert "report/comparison.html" in logged
    figures = [a.path for a in client.list_artifacts(sweeps["clear"], "report/figures")]
    assert len(figures) == 2 and all(f.endswith(".png") for f in figures)
    png = Path(client.download_artifacts(sweeps["clear"], figures[0], str(tmp_path)))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000

    unknown = subprocess.run([*cmd[:3], "nope", *cmd[4:]], capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and "'nope' is neither an experiment" in unknown.stderr


def test_write_report_for_the_end_of_a_sweep_survives_a_sweep_where_everything_failed(store, tmp_path):
    client, uri, _ = store
    failed = [Job("torch", "eager", status="FAILED", reason="no env", energy_j=None, latency_ms=None)]
    parent = make_sweep(client, "all failed", failed, ledger=False)
    from green_mlflow.report import write_report

    path = write_report(uri, parent, "all failed", out=tmp_path / "r.html")
    assert "No run finished for mobilenet_v2 at batch 1 on cpu" in path.read_text()
    assert "no env" in path.read_text()
    assert [a.path for a in client.list_artifacts(parent, "report")][0] == "report/comparison.html"
    with pytest.raises(ReportError, match="not a run id"):
        write_report(uri, "../etc")


def test_page_reads_the_store_the_server_was_started_with(store, tmp_path, monkeypatch):
    _, uri, sweeps = store
    from green_mlflow.report import plugin

    monkeypatch.setenv(BACKEND_STORE_URI_ENV_VAR, uri)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'other.db'}")
    monkeypatch.delenv("_MLFLOW_SGI_NAME", raising=False)
    app = plugin.create_app(Flask("test"))  # a fresh app: MLflow's own is left untouched
    web = app.test_client()
    page = web.get("/green/compare?experiment=clear")
    assert page.status_code == 200 and "onnx (from torch) wins" in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    run_links = re.findall(r'href="([^"]*#/experiments[^"]*)"', page.text)
    assert run_links, "runs link to the MLflow UI"
    ui_run = re.compile(r"\.\./#/experiments/\d+/runs/[0-9a-f]{32}\?workflowType=machine_learning")
    assert [link for link in run_links if not ui_run.fullmatch(link)] == [], "each opens MLflow's runs view"
    assert plugin.UNAUTHENTICATED in page.text, "the page says it is served without authentication"
    assert web.get(f"/green/compare?parent={sweeps['single']}").status_code == 200
    index = web.get("/green/compare")
    assert f"compare?parent={sweeps['clear']}" in index.text and ">clear</a>" in index.text
    assert plugin.UNAUTHENTICATED in index.text
    missing = web.get("/green/compare?experiment=nope")
    assert missing.status_code == 404 and "neither an experiment" in missing.text
    assert web.get("/green/compare?parent=x%27%20or%201=1").status_code == 404


def test_plugin_returns_the_fastapi_app_under_uvicorn(monkeypatch):
    from fastapi import FastAPI

    from green_mlflow.report import plugin

    monkeypatch.setenv("_MLFLOW_SGI_NAME", "uvicorn")
    assert isinstance(plugin.create_app(Flask("uvicorn")), FastAPI)


def test_what_the_study_does_not_show_is_in_the_visible_text(store):
    client, _, sweeps = store
    view = analyse(load(client, sweeps["single"]))
    page = render(view)
    visible = re.sub(r"<[^>]+>", " ", page.split('<section id="limits">', 1)[1].split("</section>", 1)[0])
    assert "What this study does not show" in visible
    assert "Not measured: models resnet50, bert_base; batch size 64" in visible
    assert "CPU energy is estimated, not measured: synthetic: TDP model." in visible
    assert "Idle power (" in visible and "CPU 10 W (estimated)" in visible
    assert "What the verdicts guarantee: at most 5%" in visible


def test_the_overview_heat_map_gives_the_ratios_a_study_shows_different_colours():
    from green_mlflow.report.render_study import heat

    colours = [heat(r) for r in (1.0, 1.3, 2.58, 2.91, 4.71, 10.58, 16.0, 40.0)]
    assert colours[0].endswith('rgb(255,255,255)"') and colours[-2] == colours[-1], "white at best, darkest at ×16+"
    assert len(set(colours[:-1])) == 7, colours  # ×2.58, ×2.91 and ×4.71 no longer share one colour
    assert heat(None) == "" and heat(0.0) == ""


def test_cells_round_to_the_precision_their_interval_supports_and_ticks_fall_on_round_values():
    from green_mlflow.report.render import mean_pm
    from green_mlflow.report.svg import _ticks

    assert mean_pm(0.278, 0.09884) == "0.278 ± 0.099" and mean_pm(241.4, 159.8) == "241 ± 160"
    assert _ticks(0.0, 10.58) == [0, 5, 10] and _ticks(0.0, 1.3748) == [0.0, 0.5, 1.0]
    assert _ticks(0.0, 401.2) == [0, 200, 400]


def test_an_interval_reaching_minus_100_percent_turned_round_is_unbounded_not_a_crash():
    """A wide interval of b/a at n = 3 reaches b/a = 0 (−100 %); asked the other way round (a/b) its top is
    +∞: the cell says so (the paper preset's report once failed here with a TypeError)."""
    from green_mlflow.report.comparisons import _inverse, how_sure

    record = {"ci_low_rel": -1.0, "ci_high_rel": 2.0, "ci_level": 0.999, "looks": 1, "n_other": 3, "n_reference": 3}
    flipped = {**record, "ci_low_rel": _inverse(record["ci_high_rel"]), "ci_high_rel": _inverse(record["ci_low_rel"])}
    assert flipped["ci_high_rel"] is None and flipped["ci_low_rel"] == pytest.approx(-2 / 3)
    assert how_sure(flipped) == "99.9 % repeated CI -66.7 to +∞ %; n = 3 vs 3"
    assert how_sure({**record, "ci_low_rel": None, "ci_high_rel": None}).startswith("no interval yet")
