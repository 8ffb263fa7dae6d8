"""Run ``python -m green_mlflow`` inside the test process (a process per case costs ~3 s of imports),
with every measurement entry point replaced by a tripwire, and check that a run was refused cleanly."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

import green_mlflow.__main__ as cli
from green_mlflow.sweep import outcome as sweep_outcome
from tests.helpers.bad_input_cases import SECRET, Bad

# Where a job would begin to measure: the tripwire replaces each of them for the in-process runs
MEASUREMENT_ENTRY_POINTS = (
    "green_mlflow.app.idle_baseline",
    "green_mlflow.app.run_job",
    "green_mlflow.sweep.idle.idle_baseline",
    "green_mlflow.sweep.job.run_module",
)
WORKER_ENTRY_POINTS = (
    "green_mlflow.app.run_job",
    "green_mlflow.sweep.idle.run_module",
    "green_mlflow.sweep.job.run_module",
)
# Short: at most 15 lines of prose, plus the tab-indented lists Hydra adds (the options of a group, its
# search path), 25 lines in all: one screen. The longest refusal, an unknown mode, lists 12 modes in 21 lines.
MAX_PROSE_LINES = 15
MAX_LINES = 25
MAX_CHARS = 2500
MAX_SECONDS = 10.0  # MLflow alone would retry an unreachable store for minutes
# a user's defaults that would change what these command lines do
UNSET = (
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_RUN_ID",
    "MLFLOW_ALLOW_FILE_STORE",
    "HYDRA_FULL_ERROR",
)
TRACEBACK = "Traceback (most recent call last)"
PROGRESS = re.compile(r"^  \[.+\] |measuring idle", re.MULTILINE)  # a job's progress lines (job.say), the idle step


# -- running the command line in this process ---------------------------------------------------------


class MeasurementStarted(BaseException):
    """Raised by the tripwire; a BaseException, so that neither Hydra nor the app turns it into an error."""


@dataclass(frozen=True)
class Outcome:
    code: object
    out: str
    err: str
    seconds: float
    started: str | None  # the measurement entry point that was reached, if any

    @property
    def text(self) -> str:
        return self.out + self.err


def _tripwire(name: str):
    def refuse(*args, **kwargs):
        raise MeasurementStarted(name)

    return refuse


def run_in_process(
    args: list[str], workdir: Path, uri: str, capfd, tripwires: tuple[str, ...] = MEASUREMENT_ENTRY_POINTS
) -> Outcome:
    """``python -m green_mlflow args`` in this process, with measurement replaced by a tripwire."""
    capfd.readouterr()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    sigterm = signal.getsignal(signal.SIGTERM)
    started = None
    environ = dict(os.environ)
    with pytest.MonkeyPatch.context() as mp:
        for target in tripwires:
            mp.setattr(target, _tripwire(target))
        mp.setattr(sys, "argv", ["green_mlflow", *args])
        # the command wraps stdout/stderr in its redaction and may move credentials into os.environ
        mp.setattr(sys, "stdout", sys.stdout)
        mp.setattr(sys, "stderr", sys.stderr)
        # Hydra re-raises instead of reporting while a tracer runs (hypothesis' explain phase, coverage)
        mp.setattr("hydra._internal.utils.is_under_debugger", lambda: False)
        mp.chdir(workdir)
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("GREEN_MLFLOW_CACHE_DIR", str(workdir / "onnx-cache"))
        for name in UNSET:
            mp.delenv(name, raising=False)
        sweep_outcome.begin()
        GlobalHydra.instance().clear()
        start = time.monotonic()
        try:
            code = cli.run()
        except SystemExit as exit_:
            code = exit_.code
        except MeasurementStarted as tripped:
            code, started = None, str(tripped)
        finally:
            seconds = time.monotonic() - start
            sweep_outcome.begin()
            GlobalHydra.instance().clear()
            signal.signal(signal.SIGTERM, sigterm)
            for handler in root.handlers[:]:  # Hydra's job logging, bound to this run's streams and folder
                if handler not in handlers:
                    root.removeHandler(handler)
                    handler.close()
            root.setLevel(level)
    os.environ.clear()
    os.environ.update(environ)
    captured = capfd.readouterr()
    return Outcome(code, captured.out, captured.err, seconds, started)


def snapshot(db: Path) -> tuple:
    """Everything a bad input must leave alone: the experiments, the runs and the database file's bytes."""
    client = MlflowClient(f"sqlite:///{db}")
    experiments = client.search_experiments(view_type=ViewType.ALL)
    found = client.search_runs([e.experiment_id for e in experiments], run_view_type=ViewType.ALL)
    return (
        sorted((e.experiment_id, e.name, e.lifecycle_stage) for e in experiments),
        sorted((r.info.run_id, r.info.status, r.info.end_time, sorted(r.data.tags.items())) for r in found),
        hashlib.sha256(db.read_bytes()).hexdigest(),
    )


def assert_refused_cleanly(outcome: Outcome, defects: tuple[Bad, ...], before: tuple, after: tuple) -> None:
    text = outcome.text
    shown = f"\n--- output ({outcome.code!r}, {outcome.seconds:.1f} s) ---\n{text}"
    assert outcome.started is None, f"a measurement started ({outcome.started}) instead of an error{shown}"
    assert isinstance(outcome.code, int) and outcome.code != 0, f"exit code {outcome.code!r}{shown}"
    assert TRACEBACK not in text, f"a bare traceback{shown}"
    lines = text.strip().splitlines()
    prose = [line for line in lines if not line.startswith("\t")]
    assert len(prose) <= MAX_PROSE_LINES and len(lines) <= MAX_LINES and len(text) <= MAX_CHARS, f"not short{shown}"
    assert any(all(e in text for e in d.expect) for d in defects), (
        f"the error names none of {[d.overrides for d in defects]}: expected {[d.expect for d in defects]}{shown}"
    )
    assert SECRET not in text, f"a password was printed{shown}"
    assert not PROGRESS.search(text), f"measurement began{shown}"
    assert outcome.seconds < MAX_SECONDS, f"took {outcome.seconds:.1f} s{shown}"
    assert after[:2] == before[:2], f"the store's experiments or runs changed{shown}"
    assert after[2] == before[2], f"the store's database file changed{shown}"
