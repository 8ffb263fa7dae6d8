"""What tests share besides fixtures: the project's paths, shrunk measure settings and models, and the
real command line, worker and environments as the product runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from green_mlflow.envs import env_python, is_current

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"

TINY_MEASURE = [
    "measure=quick",
    "measure.warmup_min_iterations=2",
    "measure.warmup_min_s=0.2",
    "measure.windows=2",
    "measure.window_min_iterations=3",
    "measure.window_min_s=0.3",
    "measure.idle_s=0.5",
]


SMALL_IMAGE = {"name": "mobilenet_v2", "kind": "image", "image_size": 32, "parity_tol": 1e-4}
SMALL_BERT = {
    "name": "bert_base",
    "kind": "text",
    "seq_len": 16,
    "vocab_size": 100,
    "hidden_size": 32,
    "num_layers": 2,
    "num_heads": 4,
    "intermediate_size": 64,
    "parity_tol": 1e-3,
}


def require_env(name: str) -> str:
    """The managed environment's interpreter; CI makes them first (make test), so absence is an error."""
    if not is_current(name):
        pytest.fail(f"environment {name} is not set up: run `python -m green_mlflow.envs setup {name}`")
    return str(env_python(name))


def cli_env(cwd: Path, uri: str) -> dict[str, str]:
    """The environment of a CLI process under test: its store, its own ONNX cache, the default experiment."""
    env = dict(
        os.environ, MLFLOW_TRACKING_URI=uri, PYTHONUNBUFFERED="1", GREEN_MLFLOW_CACHE_DIR=str(cwd / "onnx-cache")
    )
    env.pop("MLFLOW_EXPERIMENT_NAME", None)
    return env


def run_cli(args: list[str], cwd: Path, uri: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run ``python -m green_mlflow`` for real, in its own process, against ``uri``."""
    return subprocess.run(
        [sys.executable, "-m", "green_mlflow", *args],
        cwd=cwd,
        env=cli_env(cwd, uri),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_worker(env: str, spec: dict, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """``python -m green_mlflow.worker`` in environment ``env``, as the orchestrator runs it: ``spec`` holds the
    fields of a ``JobSpec`` (``measure`` those of ``MeasureSettings``); the result comes back as its JSON."""
    from green_mlflow.contract import JobSpec, MeasureSettings
    from green_mlflow.launch import worker_env

    typed = JobSpec(**{**spec, "measure": MeasureSettings(**spec["measure"])})
    (tmp_path / "spec.json").write_text(json.dumps(typed.to_dict()))
    proc = subprocess.run(
        [require_env(env), "-m", "green_mlflow.worker", str(tmp_path / "spec.json"), str(tmp_path / "result.json")],
        capture_output=True,
        text=True,
        env=worker_env(),
        timeout=600,
    )
    return proc, json.loads((tmp_path / "result.json").read_text())
