"""Shared fixtures: real configs composed from conf/, a real SQLite MLflow store, the real environments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from green_mlflow.config import register_schemas
from green_mlflow.envs import env_python, is_current

ROOT = Path(__file__).resolve().parents[1]
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


@pytest.fixture
def compose_config():
    """Compose the real config tree with overrides, as ``python -m green_mlflow`` would."""
    register_schemas()

    def _compose(overrides: list[str] | None = None):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose(config_name="config", overrides=overrides or [])

    yield _compose
    GlobalHydra.instance().clear()


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"


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
    """``python -m green_mlflow.worker`` from a spec file in environment ``env``, as the orchestrator runs it."""
    from green_mlflow.launch import worker_env

    (tmp_path / "spec.json").write_text(json.dumps(spec))
    proc = subprocess.run(
        [require_env(env), "-m", "green_mlflow.worker", str(tmp_path / "spec.json"), str(tmp_path / "result.json")],
        capture_output=True,
        text=True,
        env=worker_env(),
        timeout=600,
    )
    return proc, json.loads((tmp_path / "result.json").read_text())
