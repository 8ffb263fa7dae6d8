"""The process boundary: every way a worker can end becomes a result the orchestrator can record."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from green_mlflow.launch import run_module

CHILD = textwrap.dedent(
    """
    import json, os, signal, sys, time
    spec = json.load(open(sys.argv[1]))
    print("child started", file=sys.stderr, flush=True)
    how = spec["how"]
    if how == "ok":
        json.dump({"status": "ok", "value": 42}, open(sys.argv[2], "w"))
    elif how == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif how == "exit":
        print("something went wrong inside", file=sys.stderr)
        sys.exit(3)
    elif how == "hang":
        time.sleep(60)
    elif how == "garbage":
        open(sys.argv[2], "w").write("{not json")
    """
)


@pytest.fixture
def child_module(tmp_path: Path, monkeypatch) -> str:
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "fake_worker.py").write_text(CHILD)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "mods"))
    return "fake_worker"


def _run(module: str, how: str, tmp_path: Path, timeout_s: float = 30) -> dict:
    lines: list[str] = []
    result = run_module(sys.executable, module, {"how": how}, tmp_path / how, timeout_s, lines.append)
    assert "child started" in lines, "progress lines are forwarded"
    return result


def test_a_result_written_by_the_child_is_returned(child_module, tmp_path):
    assert _run(child_module, "ok", tmp_path)["value"] == 42


def test_a_crash_by_signal_becomes_a_failed_result(child_module, tmp_path):
    result = _run(child_module, "segfault", tmp_path)
    assert result["status"] == "failed"
    assert "SIGSEGV" in result["error"]


def test_a_non_zero_exit_carries_the_stderr_tail(child_module, tmp_path):
    result = _run(child_module, "exit", tmp_path)
    assert result["status"] == "failed"
    assert "exited with code 3" in result["error"]
    assert "something went wrong inside" in result["stderr_tail"]


def test_a_hung_child_is_killed_at_the_timeout(child_module, tmp_path):
    result = _run(child_module, "hang", tmp_path, timeout_s=2)
    assert result["status"] == "failed"
    assert "timed out after 2 s" in result["error"]


def test_an_unreadable_result_is_a_failure(child_module, tmp_path):
    result = _run(child_module, "garbage", tmp_path)
    assert result["status"] == "failed" and "unreadable result" in result["error"]


def test_an_exception_in_the_real_worker_returns_its_traceback(tmp_path):
    spec = {
        "runtime": "jax",
        "provider": "cpu",
        "mode": "eager",
        "batch_size": 1,
        "seed": 0,
        "model": {"name": "mobilenet_v2", "kind": "image", "image_size": 8},
        "measure": {"sample_interval_s": 0.1, "cpu_tdp_w": None},
        "output_dir": str(tmp_path / "out"),
    }
    result = run_module(sys.executable, "green_mlflow.worker", spec, tmp_path / "w", 60, lambda _: None)
    assert result["status"] == "failed"
    assert "unknown runtime 'jax'; allowed: mxnet, onnx, tf, torch" in result["error"]
    assert "Traceback" in result["traceback"] and "load_session" in result["traceback"]
