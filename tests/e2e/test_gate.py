"""The regression gate on real sweeps: a sweep against its own repeat passes, a sweep measured while two busy
processes load the CPU fails for latency, and sweeps with nothing in common cannot be judged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.helpers.project import TINY_MEASURE, cli_env, require_env, run_cli

pytestmark = pytest.mark.slow

SWEEP = ["-m", "runtime=torch", "model=mobilenet_v2", "model.image_size=32", *TINY_MEASURE, "measure.repetitions=6"]
# steadier than the tiniest windows: every run's p50 from at least 2 × 20 batches
SWEEP += ["measure.window_min_iterations=20", "measure.window_min_s=0.5"]
SWEEP += ["report=false"]  # the gate reads the runs, not the comparison report: four sweeps spare writing one
BUSY = "import time\nend = time.monotonic() + 600\nwhile time.monotonic() < end:\n    pass\n"


def sweep(tmp_path: Path, uri: str, experiment: str, *extra: str) -> str:
    proc = run_cli([*SWEEP, f"tracking.experiment_name={experiment}", *extra], tmp_path, uri)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    client = MlflowClient(uri)
    [parent] = client.search_runs(
        [client.get_experiment_by_name(experiment).experiment_id], "tags.`green.kind` = 'sweep'"
    )
    return parent.info.run_id


def gate(tmp_path: Path, uri: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "green_mlflow.gate", *args],
        cwd=tmp_path,
        env=cli_env(tmp_path, uri),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _assert_carbon_only_where_an_intensity_was_given(client: MlflowClient, without: str, with_400: str) -> None:
    for parent, intensity in ((without, None), (with_400, 400.0)):
        experiment = client.get_run(parent).info.experiment_id
        children = client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{parent}'")
        assert len(children) == 6
        for child in children:
            metrics, tags = child.data.metrics, child.data.tags
            per_sample_j = metrics["energy_per_sample_net_estimated_j"]
            wh = metrics["energy_net_estimated_wh_per_1000_samples"]
            assert wh == pytest.approx(per_sample_j * 1000 / 3600)
            assert metrics["samples_per_kwh_net_estimated"] == pytest.approx(3.6e6 / per_sample_j)
            carbon = {k for k in metrics if k.startswith("co2e_")}
            if intensity is None:
                assert not carbon and "carbon.intensity_g_per_kwh" not in tags
            else:
                kwh_per_1000 = wh / 1000
                assert metrics["co2e_net_estimated_g_per_1000_samples"] == pytest.approx(intensity * kwh_per_1000)
                assert tags["carbon.intensity_g_per_kwh"] == "400" and tags["carbon.source"].startswith("not given")
                assert not [k for k in carbon if "_estimated" not in k], "no measured energy here: no measured CO2e"


def test_the_gate_passes_a_repeat_fails_a_loaded_cpu_and_cannot_judge_strangers(tmp_path, sqlite_uri):
    require_env("torch")
    baseline = sweep(tmp_path, sqlite_uri, "baseline", "batch_size=1")
    repeat = sweep(tmp_path, sqlite_uri, "repeat", "batch_size=1", "carbon.intensity_g_per_kwh=400")
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]  # both cores of this host
    try:
        loaded = sweep(tmp_path, sqlite_uri, "loaded", "batch_size=1")
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    other = sweep(tmp_path, sqlite_uri, "other", "batch_size=2", "measure.repetitions=1")

    _assert_carbon_only_where_an_intensity_was_given(MlflowClient(sqlite_uri), baseline, repeat)

    same = gate(tmp_path, sqlite_uri, baseline, repeat, "--max-regression", "0.25", "--format", "json")
    assert same.returncode == 0, same.stdout + same.stderr
    verdicts = {j["metric"]: j["verdict"] for j in json.loads(same.stdout)["judgements"]}
    # a repeat is never called worse; "unchanged" needs the ratio's CI inside ±25 %, which 6 short runs on a 2-core
    # VM do not always give (seen: ratio 0.91, CI 0.69–1.13 → inconclusive, and the gate still passes)
    assert verdicts["latency"] in ("unchanged", "inconclusive") and "regressed" not in verdicts.values(), same.stdout

    worse = gate(tmp_path, sqlite_uri, "baseline", loaded, "--max-regression", "0.25", "--metric", "latency")
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert (
        worse.stdout.startswith("REGRESSED") and "  regressed    mobilenet_v2 · batch 1 · cpu · torch" in worse.stdout
    )
    client = MlflowClient(sqlite_uri)
    assert client.get_run(loaded).data.tags["green.gate"] == "regressed", "the verdict is on the candidate's sweep"
    logged = {a.path for a in client.list_artifacts(loaded, "gate")}
    assert logged == {"gate/verdict.md", "gate/verdict.json"}

    strangers = gate(tmp_path, sqlite_uri, "baseline", other, "--format", "markdown", "--no-log")
    assert strangers.returncode == 2, strangers.stdout + strangers.stderr
    assert "cannot judge" in strangers.stdout and "only in the baseline (not judged)" in strangers.stdout

    wrong = gate(tmp_path, sqlite_uri, "baseline", "no such experiment")
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: ") and "Traceback" not in wrong.stderr
