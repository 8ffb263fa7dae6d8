"""The process boundary: every way a worker can end becomes a result the orchestrator can record."""

from __future__ import annotations

import json
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from green_mlflow.contract import (
    SCHEMA_VERSION,
    Document,
    DomainEnergy,
    JobSpec,
    LatencySummary,
    MeasureSettings,
    WorkerResult,
)
from green_mlflow.launch import run_module

CHILD = textwrap.dedent(
    """
    import json, os, signal, sys, time
    spec = json.load(open(sys.argv[1]))
    print("child started", file=sys.stderr, flush=True)
    how = spec["how"]
    if how == "ok":
        result = {
            "schema_version": 1,
            "status": "ok",
            "throughput_samples_per_s": 42.0,
            "latency": {
                "count": 3, "mean_ms": 2.0, "std_ms": 0.5, "min_ms": 1.5,
                "p50_ms": 2.0, "p90_ms": 2.4, "p99_ms": 2.5, "max_ms": 2.5,
            },
            "energy": {"gpu": {"method": "counter", "detail": "board", "window_energy_j": [1.5], "energy_j": 1.5}},
        }
        json.dump(result, open(sys.argv[2], "w"))
    elif how == "other_version":
        json.dump({"schema_version": 2, "status": "ok"}, open(sys.argv[2], "w"))
    elif how == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif how == "exit":
        print("something went wrong inside", file=sys.stderr)
        sys.exit(3)
    elif how == "hang":
        time.sleep(60)
    elif how == "garbage":
        open(sys.argv[2], "w").write("{not json")
    elif how == "not_an_object":
        open(sys.argv[2], "w").write("[]")
    elif how == "not_text":
        open(sys.argv[2], "wb").write(b"\\xff\\xfe\\x00garbage")
    """
)


@pytest.fixture
def child_module(tmp_path: Path, monkeypatch) -> str:
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "fake_worker.py").write_text(CHILD)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "mods"))
    return "fake_worker"


@dataclass
class ChildSpec(Document):
    """The fake worker's spec: which way to end."""

    how: str = ""
    schema_version: int = SCHEMA_VERSION


def _run(module: str, how: str, tmp_path: Path, timeout_s: float = 30) -> WorkerResult:
    lines: list[str] = []
    result = run_module(
        sys.executable, module, ChildSpec(how=how), tmp_path / how, timeout_s, WorkerResult, lines.append
    )
    assert "child started" in lines, "progress lines are forwarded"
    assert isinstance(result, WorkerResult)
    return result


def test_a_result_written_by_the_child_is_returned(child_module, tmp_path):
    result = _run(child_module, "ok", tmp_path)
    assert json.loads((tmp_path / "ok" / "spec.json").read_text()) == {"how": "ok", "schema_version": SCHEMA_VERSION}
    assert result.ok and result.status == "ok" and result.error is None
    assert result.throughput_samples_per_s == 42.0
    assert result.latency == LatencySummary(
        count=3, mean_ms=2.0, std_ms=0.5, min_ms=1.5, p50_ms=2.0, p90_ms=2.4, p99_ms=2.5, max_ms=2.5
    )
    assert result.energy == {"gpu": DomainEnergy(method="counter", detail="board", window_energy_j=[1.5], energy_j=1.5)}
    assert result.stderr_tail == "child started", "the launcher adds the stderr tail the child did not set"


def test_a_crash_by_signal_becomes_a_failed_result(child_module, tmp_path):
    result = _run(child_module, "segfault", tmp_path)
    assert result.status == "failed" and not result.ok
    assert "SIGSEGV" in result.error
    assert result.error.startswith("the worker process crashed with signal")


def test_a_non_zero_exit_carries_the_stderr_tail(child_module, tmp_path):
    result = _run(child_module, "exit", tmp_path)
    assert result.status == "failed"
    assert "exited with code 3" in result.error
    assert "something went wrong inside" in result.stderr_tail


def test_a_hung_child_is_killed_at_the_timeout(child_module, tmp_path):
    result = _run(child_module, "hang", tmp_path, timeout_s=2)
    assert result.status == "failed"
    assert "timed out after 2 s" in result.error


def test_an_unreadable_result_is_a_failure(child_module, tmp_path):
    result = _run(child_module, "garbage", tmp_path)
    assert result.status == "failed" and "unreadable result" in result.error


@pytest.mark.parametrize("how", ["not_an_object", "not_text"])
def test_json_that_is_no_object_or_no_text_is_an_unreadable_failure_not_a_crash(child_module, tmp_path, how):
    result = _run(child_module, how, tmp_path)
    assert result.status == "failed" and "unreadable result" in result.error, result.error


def test_a_result_of_another_schema_version_is_an_unreadable_failure(child_module, tmp_path):
    result = _run(child_module, "other_version", tmp_path)
    assert result.status == "failed" and not result.ok
    assert "unreadable result" in result.error and "schema version" in result.error
    assert "schema version 2" in result.error and f"(schema version {SCHEMA_VERSION})" in result.error
    assert result.throughput_samples_per_s is None and result.energy == {}
    assert "child started" in result.stderr_tail


def test_an_exception_in_the_real_worker_returns_its_traceback(tmp_path):
    spec = JobSpec(
        runtime="jax",
        provider="cpu",
        mode="eager",
        batch_size=1,
        seed=0,
        model={"name": "mobilenet_v2", "kind": "image", "image_size": 8},
        measure=MeasureSettings(sample_interval_s=0.1, cpu_tdp_w=None),
        output_dir=str(tmp_path / "out"),
    )
    result = run_module(sys.executable, "green_mlflow.worker", spec, tmp_path / "w", 60, WorkerResult, lambda _: None)
    assert isinstance(result, WorkerResult)
    assert result.status == "failed"
    assert result.error == "ValueError: runtime=jax is not available; allowed: torch, tf, mxnet, onnx"
    assert "Traceback" in result.traceback and "load_session" in result.traceback


def test_children_get_no_mlflow_credentials(tmp_path, monkeypatch):
    """A worker never talks to MLflow: its environment holds neither the password nor the URI (which may)."""
    import subprocess

    from green_mlflow.launch import MLFLOW_SECRETS, worker_env

    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret-pw")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://alice:s3cret-pw@mlflow.example.org")
    env = worker_env()
    assert not set(MLFLOW_SECRETS) & set(env) and "s3cret-pw" not in repr(env)
    code = "import os; print(sorted(k for k in os.environ if k.startswith('MLFLOW_TRACKING')))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
