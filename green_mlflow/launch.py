"""The orchestrator's side of the process boundary: run a module in another interpreter.

``run_module(python, module, spec, workdir, timeout_s, result_type)`` writes ``spec.json``, runs
``python -m module spec.json result.json`` in a fresh process (its own process group, so a timeout
kills the whole tree), forwards its progress lines, and always returns a ``result_type``
(``green_mlflow.contract``): the child's own result, or a ``failed`` one with the reason — a
timeout, a crash (signal), a non-zero exit, no result or an unreadable one — and the tail of its
stderr.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from green_mlflow.allocator import DEFAULT as DEFAULT_ALLOCATOR
from green_mlflow.allocator import MALLOC_ENV, allocator_env  # noqa: F401 (MALLOC_ENV: the pins, re-exported)
from green_mlflow.contract import Document, Outcome

R = TypeVar("R", bound=Outcome)
PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the directory holding green_mlflow/
STDERR_TAIL_LINES = 60


def _forward(stream, tail: deque, progress: Callable[[str], None]) -> None:
    for line in stream:
        line = line.rstrip("\n")
        tail.append(line)
        progress(line)


# glibc's malloc adapts its mmap/trim thresholds to a process's history: a fresh torch worker on CPU
# can end up returning freed activation memory to the kernel after every inference and faulting it back
# in (~3,000 minor faults and +20-40% latency per MobileNetV2 batch here; benchmarks/README.md).
# Pinned thresholds make every worker reuse its memory, whatever its history. A user's own MALLOC_*
# settings win; the worker records what was in effect.
# (``green_mlflow.allocator``: ``allocator=glibc_pinned``, the default; other allocators are a sweep axis)


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL it when the orchestrator dies, even by SIGKILL (Linux prctl)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: a killed orchestrator may then leave the worker to its timeout
        pass


# Workers, the idle worker and converters never talk to MLflow: they do not inherit its credentials (a
# password would otherwise sit in every child's /proc/<pid>/environ) or its URI (which may hold one).
MLFLOW_SECRETS = (
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_CLIENT_CERT_PATH",
    "MLFLOW_TRACKING_SERVER_CERT_PATH",
)


def worker_env(allocator: str = DEFAULT_ALLOCATOR) -> dict[str, str]:
    """Environment for a child: the package importable without installing it in the runtime's environment,
    the allocator asked for (``green_mlflow.allocator``), and no MLflow credentials."""
    env = {k: v for k, v in allocator_env(allocator).items() if k not in MLFLOW_SECRETS}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_module(
    python: str,
    module: str,
    spec: Document,
    workdir: Path,
    timeout_s: float,
    result_type: type[R],
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    allocator: str = DEFAULT_ALLOCATOR,
) -> R:
    workdir.mkdir(parents=True, exist_ok=True)
    spec_path, result_path = workdir / "spec.json", workdir / "result.json"
    spec.write(spec_path)
    result_path.unlink(missing_ok=True)
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    proc = subprocess.Popen(
        [python, "-m", module, str(spec_path), str(result_path)],
        cwd=workdir,
        env=worker_env(allocator),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    # a progress that tells its own lines from a child's (sweep.job.JobProgress) gets the child's apart
    reader = threading.Thread(
        target=_forward, args=(proc.stderr, tail, getattr(progress, "child", progress)), daemon=True
    )
    reader.start()
    try:
        code = proc.wait(timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        code = proc.wait()
        timed_out = True
    except BaseException:  # Ctrl-C in the orchestrator: do not leave the child running
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    reader.join(timeout=5)
    stderr_tail = "\n".join(tail)

    def failed(reason: str) -> R:
        return result_type.failed(f"the worker process {reason}", stderr_tail=stderr_tail)

    if timed_out:
        return failed(f"timed out after {timeout_s:g} s (measure.timeout_s) and was killed")
    if result_path.exists():
        try:
            result = result_type.read(result_path)
        except ValueError as err:  # not JSON, not text, or not this version's contract (ContractError)
            return failed(f"wrote an unreadable result ({err})")
        if result.stderr_tail is None:
            result.stderr_tail = stderr_tail
        return result
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        return failed(f"crashed with signal {name}")
    return failed(f"exited with code {code} without writing a result")
