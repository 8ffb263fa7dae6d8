"""Bad input at the command line: every malformed override ends in a short error and a non-zero exit
before anything is measured, never in a bare traceback, and the tracking store is left as it was.

The property test drives ``green_mlflow.__main__.run()`` inside this process, because a process per
case costs about 3 s of imports; ``test_in_process_run_matches_a_real_process`` checks that shortcut
against ``python -m green_mlflow`` for representative cases. Measurement can never start here: its
entry points are replaced by a tripwire. Inputs the product does not refuse cleanly yet are the
``xfail(strict=True)`` tests at the end, each naming the fix it waits for; once a fix lands, drop the
mark and add that test's cases to ``bad_input()``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import MISSING, dataclass, fields, is_dataclass
from pathlib import Path

import pytest
from hydra._internal.utils import get_args_parser
from hydra.conf import HydraConf
from hydra.core.global_hydra import GlobalHydra
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

import green_mlflow.__main__ as cli
from green_mlflow.config.schema import GreenConfig
from green_mlflow.runtimes.modes import MODES
from green_mlflow.tracking import runs
from green_mlflow.tracking.callback import STATE
from green_mlflow.tracking.store import open_store

HYDRA_FLAGS = [f for f in get_args_parser()._option_string_actions if f.startswith("--")]
ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
GROUPS = ("runtime", "model", "provider", "mode", "measure", "tracking")  # the README's config groups
OPTIONS = {group: sorted(p.stem for p in (CONF / group).glob("*.yaml")) for group in GROUPS}
# Where a job would begin to measure: the tripwire replaces each of them for the in-process runs
MEASUREMENT_ENTRY_POINTS = (
    "green_mlflow.app.idle_baseline",
    "green_mlflow.app.run_job",
    "green_mlflow.baseline.idle_baseline",
    "green_mlflow.job.run_module",
)
WORKER_ENTRY_POINTS = ("green_mlflow.app.run_job", "green_mlflow.baseline.run_module", "green_mlflow.job.run_module")
PORT = "<closed-port>"  # replaced by a loopback port that refuses connections (fixture ``closed_port``)
SECRET = "s3cret-pw"  # a password inside tracking URIs: it must never be printed
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


@dataclass(frozen=True)
class Bad:
    """One defect in a command line: the overrides that make it and what the error must say about it."""

    overrides: tuple[str, ...]
    expect: tuple[str, ...]  # each must appear in the output
    kind: str

    @property
    def keys(self) -> set[str]:
        return {override.lstrip("+~").split("=", 1)[0] for override in self.overrides}


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]  # the command line, defects and valid overrides shuffled
    defects: tuple[Bad, ...]  # the error must name at least one of them


# -- strategies ---------------------------------------------------------------------------------------

NAMES = st.sampled_from(
    ["jax", "tpu", "alexnet", "turbo", "huge", "remote", "TORCH", "torch2", "resnet_50"]
) | st.from_regex(r"[a-z][a-z0-9_]{1,11}", fullmatch=True).filter(
    lambda s: s not in ("nan", "inf", "true", "false", "null")
)


@st.composite
def unknown_option(draw) -> Bad:
    group = draw(st.sampled_from(sorted(OPTIONS)))
    value = draw(NAMES.filter(lambda v: v not in OPTIONS[group]))
    expect = (f"Could not find '{group}/{value}'", f"Available options in '{group}'", OPTIONS[group][0])
    return Bad((f"{group}={value}",), expect, "unknown option")


def field_names(schema: type) -> set[str]:
    """Every key of a structured config, nested ones included."""
    names = set()
    for f in fields(schema):
        names.add(f.name)
        if f.default_factory is not MISSING and is_dataclass(f.default_factory):
            names |= field_names(f.default_factory)
    return names


KNOWN_KEYS = field_names(GreenConfig) | field_names(HydraConf)


@st.composite
def unknown_key(draw) -> Bad:
    section = draw(st.sampled_from(["", "runtime.", "model.", "provider.", "mode.", "measure.", "tracking.", "hydra."]))
    name = draw(
        st.sampled_from(["foo", "optimizer", "windowz", "batchsize", "Batch_size", "gpu", "password", "lr"])
        | NAMES.filter(lambda n: n not in KNOWN_KEYS)
    )
    key = section + name
    value = draw(st.sampled_from(["bar", "1", "true", "1.5", "null"]))
    return Bad((f"{key}={value}",), (f"Could not override '{key}'",), "unknown key")


@st.composite
def unknown_flag(draw) -> Bad:
    # argparse takes a prefix of a known flag (--he for --help) for that flag
    flag = "--" + draw(NAMES.filter(lambda n: not any(f.startswith("--" + n) for f in HYDRA_FLAGS)))
    return Bad((flag,), (f"unrecognized arguments: {flag}",), "unknown flag")


INT_KEYS = (
    "batch_size",
    "seed",
    "repetition",
    "runtime.opset",
    "model.image_size",
    "provider.device_id",
    "measure.windows",
    "measure.warmup_min_iterations",
    "measure.window_min_iterations",
    "measure.repetitions",
)
FLOAT_KEYS = ("measure.warmup_min_s", "measure.window_min_s", "measure.sample_interval_s", "measure.timeout_s")


@st.composite
def wrong_type(draw) -> Bad:
    if draw(st.booleans()):
        key = draw(st.sampled_from(INT_KEYS))
        value = draw(st.sampled_from(["big", "1.5", "2.0", "1e3", "12abc", "true", "[1,2]", "{a:1}", "", "null"]))
    else:
        key = draw(st.sampled_from(FLOAT_KEYS))
        value = draw(st.sampled_from(["fast", "true", "[1]", "{s:1}", "", "null", "5s"]))
    return Bad((f"{key}={value}",), (f"Error merging override {key}=",), "wrong type")


@st.composite
def malformed(draw) -> Bad:
    key = draw(st.sampled_from(("batch_size", "seed", "measure.windows", "runtime", "model")))
    override = draw(st.sampled_from([f"{key}==1", f"{key}='1", f"{key}=1,2", f"{key}=(1", f"{key}=[1"]))
    # Hydra quotes the unparsable text, not always the key (an unclosed bracket: "no viable alternative at '[1'")
    return Bad((override,), (override.split("=", 1)[1],), "malformed override")


def _ints(low: int | None, high: int | None) -> st.SearchStrategy[str]:
    """Integers outside [low, high], as Hydra reads them from a command line."""
    outside = []
    if low is not None:
        outside.append(st.integers(max_value=low - 1, min_value=-(10**30)))
    if high is not None:
        outside.append(st.integers(min_value=high + 1, max_value=10**30))
    return st.one_of(outside).map(str)


def _floats(low: float | None, high: float | None, low_open: bool = False) -> st.SearchStrategy[str]:
    """Finite floats outside the range (``low_open``: ``low`` itself is outside too)."""
    outside = []
    if low is not None:
        outside.append(st.floats(max_value=low, exclude_max=not low_open, min_value=-1e12, allow_nan=False))
    if high is not None:
        outside.append(st.floats(min_value=high, exclude_min=True, max_value=1e30, allow_nan=False))
    return st.one_of(outside).map(repr)


# key -> (values outside what the plan allows, what its message says about them)
OUT_OF_RANGE = {
    "batch_size": (_ints(1, 4096), "allowed: 1 to 4096"),
    "measure.repetitions": (_ints(1, 1000), "allowed: 1 to 1000"),
    "repetition": (_ints(0, None) | _ints(None, 999), "(the sweeper sets it; raise measure.repetitions for more)"),
    "seed": (_ints(0, None), "must be zero or positive"),
    "provider.device_id": (_ints(0, None), "must be zero or positive"),
    "measure.windows": (_ints(1, None), "must be at least 1"),
    "measure.warmup_min_iterations": (_ints(1, None), "must be at least 1"),
    "measure.window_min_iterations": (_ints(1, None), "must be at least 1"),
    "measure.warmup_min_s": (_floats(0, None), "must be zero or positive"),
    "measure.window_min_s": (_floats(0, None), "must be zero or positive"),
    "measure.window_rest_s": (_floats(0, None), "must be zero or positive"),
    "measure.sample_interval_s": (_floats(0.01, 10), "allowed: 0.01 to 10"),
    "measure.idle_s": (_floats(0, 86400), "allowed: 0 to 86400 seconds"),
    "measure.cooldown_s": (_floats(0, 86400), "allowed: 0 to 86400 seconds"),
    "measure.cooldown_max_s": (_floats(0, 86400), "allowed: 0 to 86400 seconds"),
    "measure.timeout_s": (_floats(0, None, low_open=True), "must be positive"),
    "measure.cpu_tdp_w": (_floats(0, None, low_open=True), "must be positive, or null"),
    "measure.cooldown_within_c": (_floats(0, 50, low_open=True), "allowed: above 0 up to 50 °C"),
}


@st.composite
def out_of_range(draw) -> Bad:
    key = draw(st.sampled_from(sorted(OUT_OF_RANGE)))
    values, says = OUT_OF_RANGE[key]
    return Bad((f"{key}={draw(values)}",), (f"error: {key}=", says), "out of range")


@st.composite
def invalid_combination(draw) -> Bad:
    runtime = draw(st.sampled_from(sorted(MODES)))
    others = [r for r in MODES if r != "onnx"]
    choice = draw(st.sampled_from(range(7)))
    if choice == 0:
        runtime = draw(st.sampled_from(others))
        return Bad(
            (f"runtime={runtime}", "provider=tensorrt"),
            (f"provider=tensorrt is not available with runtime={runtime}; allowed: cpu, cuda",),
            "invalid combination",
        )
    if choice == 1:
        mode = draw(st.sampled_from(sorted({m for ms in MODES.values() for m in ms} - set(MODES[runtime]))))
        return Bad(
            (f"runtime={runtime}", f"mode={mode}"),
            (f"mode={mode} is not available with runtime={runtime}; allowed: {', '.join(MODES[runtime])}",),
            "invalid combination",
        )
    if choice == 2:
        overrides = ("runtime=torch", "mode=cuda_graph") + draw(st.sampled_from([(), ("provider=cpu",)]))
        expect = ("provider=cpu is not available with runtime=torch mode=cuda_graph; allowed: cuda",)
        return Bad(overrides, expect, "invalid combination")
    if choice == 3:
        runtime = draw(st.sampled_from(others))
        source = draw(st.sampled_from([*MODES, "jax"]))
        expect = ("runtime.source is only for runtime=onnx", f"not runtime={runtime}")
        return Bad((f"runtime={runtime}", f"runtime.source={source}"), expect, "invalid combination")
    if choice == 4:
        source = draw(st.sampled_from(["onnx", "jax", "paddle", "null"]))
        shown = "None" if source == "null" else source
        expect = (f"runtime.source={shown} is not available for runtime=onnx; allowed: torch, tf, mxnet",)
        return Bad(("runtime=onnx", f"runtime.source={source}"), expect, "invalid combination")
    if choice == 5:
        kind = draw(NAMES.filter(lambda k: k not in ("image", "text")))
        expect = (f"model.kind={kind} is not available for model=", "allowed: image, text")
        return Bad((f"model.kind={kind}",), expect, "invalid combination")
    window = draw(st.floats(0, 1, exclude_max=True))
    return Bad(("provider=cuda", f"measure.window_min_s={window!r}"), ("too short for GPU energy",), "GPU window")


@st.composite
def unusable_store(draw) -> Bad:
    """Tracking stores that cannot be used: refused within seconds, naming the URI without its password."""
    choice = draw(st.sampled_from(range(5)))
    if choice == 0:
        folder = draw(st.sampled_from(["/proc", "/dev/null", "/proc/self/nope"]) | NAMES.map(lambda n: f"/proc/{n}"))
        uri = f"sqlite:///{folder}/mlflow.db"
        return Bad((f"tracking.uri={uri}",), (f"the SQLite store {uri} cannot be written",), "unwritable store")
    if choice == 1:
        uri = draw(st.sampled_from(["sqlite:////etc/hostname", "ftp://host/x", "file:///proc/nope/mlruns"]))
        return Bad((f"tracking.uri={uri}",), (f"{uri} ", "store"), "unusable store")
    if choice == 2:
        uri = f"http://{draw(NAMES)}.invalid:5000"
        return Bad((f"tracking.uri={uri}",), (f"the tracking server {uri} cannot be reached",), "unknown host")
    scheme = draw(st.sampled_from(["http", "https"]))
    user = draw(st.sampled_from(["", f"alice:{SECRET}@", f"{SECRET}@"]))
    path = draw(st.sampled_from(["", "/", "/mlflow"]))
    uri = f"{scheme}://{user}127.0.0.1:{PORT}{path}"
    shown = f"{scheme}://***@127.0.0.1:{PORT}{path}" if user else uri
    return Bad((f"tracking.uri={uri}",), (f"the tracking server {shown} cannot be reached",), "unreachable server")


KINDS = (
    invalid_combination,
    unusable_store,
    out_of_range,
    wrong_type,
    unknown_key,
    unknown_option,
    malformed,
    unknown_flag,
)


def bad_input() -> st.SearchStrategy[Bad]:
    """One defect of any kind."""
    return st.sampled_from(KINDS).flatmap(lambda kind: kind())


# valid overrides mixed in: alone they would start a measurement, so every case also has a defect
VALID = {
    "runtime": st.sampled_from(OPTIONS["runtime"]),
    "model": st.sampled_from(OPTIONS["model"]),
    "measure": st.sampled_from(OPTIONS["measure"]),
    "provider": st.just("cpu"),
    "mode": st.just("default"),
    "batch_size": st.integers(1, 4096).map(str),
    "seed": st.integers(0, 2**31).map(str),
    "runtime.opset": st.integers(13, 17).map(str),
    "measure.windows": st.integers(1, 20).map(str),
    "measure.idle_s": st.integers(0, 86400).map(str),
    "tracking.experiment_name": st.text("abcdefghijklmnopqrstuvwxyz_-", min_size=1, max_size=16),
}


@st.composite
def cases(draw) -> Case:
    defects = draw(
        st.lists(bad_input(), min_size=1, max_size=2).filter(lambda ds: len(ds) == 1 or not (ds[0].keys & ds[1].keys))
    )
    taken = set().union(*(d.keys for d in defects))
    keys = draw(st.sets(st.sampled_from(sorted(set(VALID) - taken)), max_size=5))
    valid = [f"{key}={draw(VALID[key])}" for key in sorted(keys)]
    args = draw(st.permutations([o for d in defects for o in d.overrides] + valid))
    for defect in defects:
        event(defect.kind)
    return Case(tuple(args), tuple(defects))


def case(*overrides: str, expect: tuple[str, ...], valid: tuple[str, ...] = ()) -> Case:
    return Case((*overrides, *valid), (Bad(overrides, expect, "example"),))


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
    with pytest.MonkeyPatch.context() as mp:
        for target in tripwires:
            mp.setattr(target, _tripwire(target))
        mp.setattr(sys, "argv", ["green_mlflow", *args])
        # Hydra re-raises instead of reporting while a tracer runs (hypothesis' explain phase, coverage)
        mp.setattr("hydra._internal.utils.is_under_debugger", lambda: False)
        mp.chdir(workdir)
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("GREEN_MLFLOW_CACHE_DIR", str(workdir / "onnx-cache"))
        for name in UNSET:
            mp.delenv(name, raising=False)
        STATE.clear()
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
            STATE.clear()
            GlobalHydra.instance().clear()
            signal.signal(signal.SIGTERM, sigterm)
            for handler in root.handlers[:]:  # Hydra's job logging, bound to this run's streams and folder
                if handler not in handlers:
                    root.removeHandler(handler)
                    handler.close()
            root.setLevel(level)
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


# -- cases that once passed through (each names the fix that made it a short error) ----------------------------------------------------------------------

SCHEMA = "plan.py: refuse keys that are not in the schema (`+key=value` gets past Hydra's struct check)"
GROUP_VALUE = "__main__.py: refuse a config group given null, a number or a bool before Hydra sees it"
NOT_FINITE = "plan.py: refuse measure settings that are not finite (every comparison with nan is false)"
UNRESOLVED = "plan.py: turn omegaconf's missing-value and interpolation errors into PlanError"
# name -> (the defect, the fix that refuses it)
AWAITING_FIX = {
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
    [pytest.param(name, id=name) for name in AWAITING_FIX],
)
def test_input_awaiting_a_fix_ends_in_a_short_error(name: str, own_store: Path, tmp_path: Path, capfd):
    bad, _ = AWAITING_FIX[name]
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
