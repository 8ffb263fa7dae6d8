"""What the user's terminal shows during a sweep: job k/N with elapsed time and an estimate, our lines and the
worker's, and not the frameworks' banners, which stay in each run's ``logs/job.log``."""

from __future__ import annotations

import re

import pytest
from mlflow.tracking import MlflowClient

from tests.helpers.project import TINY_MEASURE, require_env, run_cli

pytestmark = pytest.mark.slow


def _framework_lines(log: str) -> list[str]:
    """Lines of a job log that neither the orchestrator (indented by nobody) nor the worker said: TensorFlow's."""
    return [line for line in log.splitlines() if re.search(r"tensorflow|oneDNN|cuda|absl|I0000|W0000", line)]


def test_the_terminal_shows_progress_and_keeps_framework_noise_in_the_job_log(tmp_path, sqlite_uri):
    require_env("tf"), require_env("torch")
    args = ["-m", "runtime=tf,torch", "model=mobilenet_v2", "model.image_size=32", *TINY_MEASURE]
    proc = run_cli(args, tmp_path, sqlite_uri)
    shown = proc.stdout + proc.stderr
    assert proc.returncode == 0, shown[-3000:]
    starts = re.findall(r"\[green_mlflow\] (job \d/\d · elapsed [^:]+): runtime=", proc.stdout)
    assert [s.split(" · ")[0] for s in starts] == ["job 1/2", "job 2/2"], proc.stdout
    assert "about" in starts[1] and " left" in starts[1], "the second job's start estimates what is left"
    assert len(re.findall(r"\[green_mlflow\] job \d/2 · elapsed .*: done in \d+ s", proc.stdout)) == 2

    client = MlflowClient(sqlite_uri)
    [tf_run] = client.search_runs(
        [client.get_experiment_by_name("green_mlflow").experiment_id], "params.runtime = 'tf'"
    )
    log = client.download_artifacts(tf_run.info.run_id, "logs/job.log", str(tmp_path / "dl"))
    noise = _framework_lines(open(log).read())
    assert noise, "TensorFlow said something of its own (its log is kept whole)"
    assert "[worker] window 1/2" in open(log).read()
    assert not [line for line in noise if line in shown], "the frameworks' lines stay out of the terminal"

    loud = run_cli([*args[:1], "runtime=tf", *args[2:], "rerun=true", "verbose=true"], tmp_path, sqlite_uri)
    assert loud.returncode == 0, loud.stderr[-3000:]
    assert _framework_lines(loud.stderr), "verbose=true shows them"
