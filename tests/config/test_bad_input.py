"""Bad input at the command line: every malformed override ends in a short error and a non-zero exit
before anything is measured, never in a bare traceback, and the tracking store is left as it was.

The property test drives ``green_mlflow.__main__.run()`` inside this process (``tests/cli_in_process.py``);
``test_in_process_run_matches_a_real_process`` checks that shortcut against ``python -m green_mlflow``
for representative cases. Measurement can never start here: its entry points are replaced by a
tripwire. The cases are drawn in ``tests/bad_input_cases.py``; inputs that once got through (each
named with the fix that now refuses it) are tested one by one at the end.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings

from green_mlflow.tracking import runs
from green_mlflow.tracking.store import open_store
from tests.helpers.bad_input_cases import PORT, SECRET, Bad, Case, case, cases
from tests.helpers.cli_in_process import (
    MEASUREMENT_ENTRY_POINTS,
    TRACEBACK,
    UNSET,
    WORKER_ENTRY_POINTS,
    Outcome,
    assert_refused_cleanly,
    run_in_process,
    snapshot,
)
from tests.helpers.own_models import TEXT_INPUTS, model_proto

# -- fixtures -------------------------------------------------------------------------------------------


def make_store(folder: Path) -> Path:
    """A store in use: the default experiment with a finished run, and a second experiment."""
    db = folder / "mlflow.db"
    store = open_store(f"sqlite:///{db}", "green_mlflow")
    run_id = runs.start_parent(store, "an earlier sweep", {})
    runs.finish(store, run_id, "FINISHED")
    open_store(f"sqlite:///{db}", "another study")
    return db


def copy_store(db: Path, folder: Path) -> Path:
    """A copy of the store in ``folder``: MLflow takes seconds to create the tables of a new one."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(db, folder / db.name)
    return folder / db.name


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="module")
def store_db(template_db: Path, tmp_path_factory) -> Path:
    """The store every case of the property test must leave alone."""
    return copy_store(template_db, tmp_path_factory.mktemp("store"))


@pytest.fixture
def own_store(template_db: Path, tmp_path: Path) -> Path:
    """A store for one test, which a case that is not refused yet may change."""
    return copy_store(template_db, tmp_path / "store")


@pytest.fixture(scope="module")
def closed_port():
    """A loopback port bound but not listening: it refuses connections, and nothing else can take it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield str(sock.getsockname()[1])


def filled(value, port: str):
    if isinstance(value, str):
        return value.replace(PORT, port)
    return tuple(filled(v, port) for v in value)


# -- the property -----------------------------------------------------------------------------------------


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases())
@example(case=case("runtime=jax", expect=("Could not find 'runtime/jax'", "torch")))
@example(case=case("foo=bar", expect=("Could not override 'foo'",)))
@example(case=case("batch_size=big", expect=("Error merging override batch_size=big",)))
@example(case=case("measure.windows=1.5", expect=("Error merging override measure.windows=1.5",)))
@example(case=case("batch_size=-3", expect=("batch_size=-3 is out of range; allowed: 1 to 4096",)))
@example(case=case(f"batch_size={10**9}", expect=(f"batch_size={10**9} is out of range",)))
@example(case=case("measure.repetitions=0", expect=("measure.repetitions=0 is out of range; allowed: 1 to 1000",)))
@example(case=case("measure.repetitions=100000", expect=("measure.repetitions=100000 is out of range",)))
@example(case=case("repetition=-1", expect=("repetition=-1 is out of range",)))
@example(case=case("runtime=torch", "provider=tensorrt", expect=("provider=tensorrt is not available",)))
@example(case=case("runtime=onnx", "mode=eager", expect=("mode=eager is not available with runtime=onnx",)))
@example(case=case("runtime=torch", "mode=cuda_graph", expect=("allowed: cuda",)))
@example(case=case("runtime=tf", "runtime.source=torch", expect=("runtime.source is only for runtime=onnx",)))
@example(case=case(f"tracking.uri=http://127.0.0.1:{PORT}", expect=("cannot be reached",), valid=("measure=quick",)))
@example(case=case("tracking.uri=sqlite:////proc/nope/mlflow.db", expect=("/proc/nope/mlflow.db cannot be written",)))
def test_malformed_overrides_end_in_a_short_error_before_measuring_and_leave_the_store_alone(
    case: Case, store_db: Path, closed_port: str, tmp_path_factory, capfd
):
    before = snapshot(store_db)
    workdir = tmp_path_factory.mktemp("cwd")
    outcome = run_in_process(list(filled(case.args, closed_port)), workdir, f"sqlite:///{store_db}", capfd)
    defects = tuple(Bad(filled(d.overrides, closed_port), filled(d.expect, closed_port), d.kind) for d in case.defects)
    assert_refused_cleanly(outcome, defects, before, snapshot(store_db))
    assert not {"mlflow.db", "mlruns"} & {p.name for p in workdir.iterdir()}, "a store was created in the cwd"


# -- the in-process shortcut against real processes ------------------------------------------------------

REPRESENTATIVE = {
    "unknown option": ["runtime=jax"],
    "out of range": ["model=resnet50", "measure.repetitions=0"],
    "unreachable server": [f"tracking.uri=http://alice:{SECRET}@127.0.0.1:{PORT}", "measure=quick"],
    "unwritable store": ["tracking.uri=sqlite:////proc/nope/mlflow.db"],
}


@pytest.fixture(scope="module")
def real_processes(tmp_path_factory, store_db: Path, closed_port: str) -> dict:
    """``python -m green_mlflow`` for every representative case, all started at once (imports take seconds)."""
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{store_db}", PYTHONUNBUFFERED="1")
    for name in UNSET:
        env.pop(name, None)
    before = snapshot(store_db)
    started = {}
    for name, args in REPRESENTATIVE.items():
        workdir = tmp_path_factory.mktemp("proc")
        command = [sys.executable, "-m", "green_mlflow", *filled(args, closed_port)]
        popen = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        started[name] = (popen, time.monotonic())
    finished = {}
    for name, (popen, start) in started.items():
        out, err = popen.communicate(timeout=120)
        finished[name] = Outcome(popen.returncode, out, err, time.monotonic() - start, None)
    return {"outcomes": finished, "before": before, "after": snapshot(store_db)}


@pytest.mark.parametrize("name", sorted(REPRESENTATIVE))
def test_in_process_run_matches_a_real_process(
    name: str, real_processes: dict, store_db: Path, closed_port: str, tmp_path: Path, capfd
):
    real = real_processes["outcomes"][name]
    inside = run_in_process(list(filled(REPRESENTATIVE[name], closed_port)), tmp_path, f"sqlite:///{store_db}", capfd)
    assert (inside.code, inside.out, inside.err) == (real.code, real.out, real.err)
    assert real.code != 0 and TRACEBACK not in real.text and SECRET not in real.text
    assert real_processes["after"] == real_processes["before"], "a real process changed the store"


# -- sweeps (-m) ----------------------------------------------------------------------------------------------


def test_sweep_with_an_unknown_key_exits_non_zero_and_creates_no_run(own_store: Path, tmp_path: Path, capfd):
    before = snapshot(own_store)
    outcome = run_in_process(["-m", "runtime=torch,onnx", "foo=bar"], tmp_path, f"sqlite:///{own_store}", capfd)
    bad = Bad(("foo=bar",), ("Could not override 'foo'",), "sweep")
    assert_refused_cleanly(outcome, (bad,), before, snapshot(own_store))


def test_a_valid_command_line_reaches_the_tripwire(own_store: Path, tmp_path: Path, capfd):
    """The property test's guard works: were a bad input accepted, it would see a measurement start."""
    outcome = run_in_process(["measure=quick"], tmp_path, f"sqlite:///{own_store}", capfd)
    assert outcome.started in MEASUREMENT_ENTRY_POINTS, outcome


# -- inputs that once got through, each with the fix that now refuses it ---------------------------------

SCHEMA = "plan.py: refuse keys that are not in the schema (`+key=value` gets past Hydra's struct check)"
GROUP_VALUE = "__main__.py: refuse a config group given null, a number or a bool before Hydra sees it"
NOT_FINITE = "plan.py: refuse measure settings that are not finite (every comparison with nan is false)"
UNRESOLVED = "plan.py: turn omegaconf's missing-value and interpolation errors into PlanError"
# name -> (the defect, the fix that refuses it)
FORMERLY_ACCEPTED = {
    "plus_unknown_key": (Bad(("+nonsense=1",), ("nonsense",), "unknown key"), SCHEMA),
    "plus_unknown_nested_key": (Bad(("+runtime.foo=1",), ("runtime.foo",), "unknown key"), SCHEMA),
    "group_set_to_null": (Bad(("runtime=null",), ("runtime",), "group value"), GROUP_VALUE),
    "group_set_to_a_number": (Bad(("model=1",), ("model",), "group value"), GROUP_VALUE),
    "override_without_a_key": (Bad(("=1",), ("=1",), "no key"), "__main__.py: refuse an override without a key"),
    "group_deleted": (Bad(("~runtime",), ("runtime",), "missing value"), UNRESOLVED),
    "unresolvable_interpolation": (
        Bad(("batch_size=${oops}",), ("batch_size", "oops"), "missing value"),
        "app.py: _label must not resolve ${...} in hc.overrides.task; and " + UNRESOLVED,
    ),
    "nan_window": (Bad(("measure.window_min_s=nan",), ("measure.window_min_s",), "not finite"), NOT_FINITE),
    "nan_timeout": (Bad(("measure.timeout_s=nan",), ("measure.timeout_s",), "not finite"), NOT_FINITE),
    "infinite_warmup": (Bad(("measure.warmup_min_s=inf",), ("measure.warmup_min_s",), "not finite"), NOT_FINITE),
    "unwritable_run_dir": (
        Bad(("hydra.run.dir=/proc/nope",), ("hydra.run.dir", "/proc/nope"), "unwritable path"),
        "callback.py: SweepRunCallback.on_run_start creates hydra.run.dir (Hydra prints the OSError's traceback)",
    ),
}


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, id=name) for name in FORMERLY_ACCEPTED],
)
def test_formerly_accepted_input_ends_in_a_short_error(name: str, own_store: Path, tmp_path: Path, capfd):
    bad, _ = FORMERLY_ACCEPTED[name]
    before = snapshot(own_store)
    outcome = run_in_process(list(bad.overrides), tmp_path, f"sqlite:///{own_store}", capfd)
    assert_refused_cleanly(outcome, (bad,), before, snapshot(own_store))


def test_sweep_with_an_unknown_option_exits_non_zero_and_creates_no_run(own_store: Path, tmp_path: Path, capfd):
    before = snapshot(own_store)
    outcome = run_in_process(["-m", "runtime=torch,jax"], tmp_path, f"sqlite:///{own_store}", capfd)
    bad = Bad(("runtime=jax",), ("Could not find 'runtime/jax'",), "sweep")
    assert_refused_cleanly(outcome, (bad,), before, snapshot(own_store))


def test_sweep_into_an_unwritable_folder_exits_non_zero_and_creates_no_run(own_store: Path, tmp_path: Path, capfd):
    before = snapshot(own_store)
    args = ["-m", "hydra.sweep.dir=/proc/nope", "runtime=torch,onnx", "measure=quick"]
    outcome = run_in_process(args, tmp_path, f"sqlite:///{own_store}", capfd)
    bad = Bad(("hydra.sweep.dir=/proc/nope",), ("/proc/nope",), "sweep")
    assert_refused_cleanly(outcome, (bad,), before, snapshot(own_store))


def test_sweep_with_zero_repetitions_prunes_its_jobs_with_the_reason(own_store: Path, tmp_path: Path, capfd):
    # a pruned sweep keeps its parent run (documented) and its idle step: only workers are tripwired here
    known = {run[0] for run in snapshot(own_store)[1]}
    args = ["-m", "runtime=torch,onnx", "measure.repetitions=0", "measure.idle_s=0"]
    outcome = run_in_process(args, tmp_path, f"sqlite:///{own_store}", capfd, tripwires=WORKER_ENTRY_POINTS)
    assert outcome.started is None and outcome.code not in (0, None), outcome
    assert TRACEBACK not in outcome.text, outcome.text
    assert outcome.text.count("measure.repetitions=0 is out of range; allowed: 1 to 1000") >= 2, outcome.text
    new = [run for run in snapshot(own_store)[1] if run[0] not in known]
    assert [status for _, status, _, _ in new] == ["FAILED"], (
        "only the sweep's parent run, FAILED: pruned jobs make none"
    )


# -- a user's own model (README "Measure your own model"): refused before anything is measured ---------------

OWN_MODEL = {
    "no_path": Bad(("model=onnx_file", "runtime=onnx"), ("model=onnx_file needs the file: model.path=",), "own"),
    "missing_file": Bad(
        ("model=onnx_file", "runtime=onnx", "model.path=/nonexistent/own.onnx"),
        ("model.path=/nonexistent/own.onnx does not exist",),
        "own",
    ),
    "not_onnx": Bad(("model=onnx_file", "runtime=onnx", "model.path=<text>"), ("is not an ONNX model",), "own"),
    "file_on_torch": Bad(("model=onnx_file", "model.path=<file>"), ("allowed: runtime=onnx",), "own"),
    "unsized_dim": Bad(
        ("model=onnx_file", "runtime=onnx", "model.path=<file>"), ("model.dims={sequence:<size>}",), "own"
    ),
    "unknown_arch": Bad(("model=torchvision", "model.arch=resnet_18"), ("model.arch=resnet_18 is not a",), "own"),
    "no_factory": Bad(("model=python",), ("model=python needs your function",), "own"),
    "factory_on_tf": Bad(("model=python", "model.factory=m:f", "runtime=tf"), ("allowed: runtime=torch",), "own"),
}


@pytest.mark.parametrize("name", sorted(OWN_MODEL))
def test_a_users_model_that_cannot_run_ends_in_a_short_error(name: str, own_store: Path, tmp_path: Path, capfd):
    (tmp_path / "own.onnx").write_bytes(model_proto(TEXT_INPUTS))
    (tmp_path / "notes.txt").write_text("not a model\n")
    bad = OWN_MODEL[name]
    fill = {"<file>": str(tmp_path / "own.onnx"), "<text>": str(tmp_path / "notes.txt")}
    overrides = tuple(next((o.replace(k, v) for k, v in fill.items() if k in o), o) for o in bad.overrides)
    before = snapshot(own_store)
    outcome = run_in_process(list(overrides), tmp_path, f"sqlite:///{own_store}", capfd)
    assert_refused_cleanly(outcome, (Bad(overrides, bad.expect, bad.kind),), before, snapshot(own_store))
