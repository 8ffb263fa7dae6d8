"""`mlflow run .`: the MLproject's parameters as Hydra overrides (in-process), and its entry points for real.

The mapping is checked on the exact command MLflow builds (its own MLproject loader and shell quoting); the
slow tests run `mlflow run . --env-manager local` from the repository against a real SQLite store.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from itertools import product
from pathlib import Path

import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from mlflow.projects import _project_spec
from mlflow.tracking import MlflowClient

from tests.helpers.project import ROOT, TINY_MEASURE, require_env

TINY = [m for m in TINY_MEASURE if m != "measure=quick"] + ["model.image_size=32"]


@pytest.fixture
def entry(monkeypatch):
    """Import an entry-point script (``entrypoints/<name>.py``) as its own module, as ``python entrypoints/…`` would."""
    monkeypatch.syspath_prepend(str(ROOT / "entrypoints"))

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"entrypoint_{name}", ROOT / "entrypoints" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


def mlflow_argv(entry_point: str, params: dict[str, str]) -> list[str]:
    """The command line MLflow runs for ``-e entry_point -P k=v …`` (its own substitution and quoting)."""
    project = _project_spec.load_project(str(ROOT))
    command = project.get_entry_point(entry_point).compute_command(params, None)
    return shlex.split(command)


def test_parameters_become_one_override_per_group_with_comma_lists_kept_as_sweeps(entry):
    sweep = entry("sweep")
    params = {"runtime": "torch,onnx", "batch_size": "1,64", "overrides": "model.image_size=32 measure.windows=2"}
    argv = mlflow_argv("main", params)
    assert argv[:2] == ["python", "entrypoints/sweep.py"]
    assert mlflow_argv("sweep", params) == argv, "`sweep` is the same entry point as `main`"

    overrides = sweep.overrides(argv[2:])
    assert overrides == [
        "-m",
        "runtime=torch,onnx",
        "model=mobilenet_v2",
        "provider=cpu",
        "mode=default",
        "measure=default",
        "batch_size=1,64",
        "model.image_size=32",
        "measure.windows=2",
    ]
    parsed = {o.key_or_group: o for o in OverridesParser.create().parse_overrides(overrides[1:])}
    assert list(parsed["runtime"].sweep_string_iterator()) == ["torch", "onnx"], "a comma list is Hydra's sweep"
    assert list(parsed["batch_size"].sweep_string_iterator()) == ["1", "64"]
    assert not parsed["model"].is_sweep_override() and not parsed["model.image_size"].is_sweep_override()


def test_defaults_and_an_empty_overrides_string_compose_to_valid_configs(entry, compose_config):
    overrides = entry("sweep").overrides(mlflow_argv("main", {})[2:])
    assert overrides == [
        "-m",
        "runtime=torch,onnx",
        "model=mobilenet_v2",
        "provider=cpu",
        "mode=default",
        "measure=default",
        "batch_size=1",
    ], "an empty overrides string adds nothing"
    choices = [o.split("=", 1)[1].split(",") for o in overrides[1:]]
    keys = [o.split("=", 1)[0] for o in overrides[1:]]
    for combination in product(*choices):
        cfg = compose_config([f"{k}={v}" for k, v in zip(keys, combination)])
        assert cfg.runtime.name == combination[0] and cfg.model.name == "mobilenet_v2" and cfg.batch_size == 1


def test_overrides_are_split_like_a_shell_command_line(entry):
    argv = mlflow_argv("main", {"overrides": "seed=3 'hydra.sweep.dir=/tmp/a b' +measure.extra=1"})
    assert entry("sweep").overrides(argv[2:])[-3:] == ["seed=3", "hydra.sweep.dir=/tmp/a b", "+measure.extra=1"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"foo": "bar"}, "unknown parameter foo"),
        ({"runtime": ""}, "parameter runtime is empty"),
        ({"measure": "  "}, "parameter measure is empty"),
        ({"overrides": "runtime=tf"}, "runtime is a parameter of its own"),
        ({"overrides": "seed=1 batch_size=4"}, "batch_size is a parameter of its own"),
        ({"overrides": "tracking.uri=sqlite:////tmp/other.db"}, "under `mlflow run` the runs go to the store"),
        ({"overrides": "+tracking.experiment_name=x"}, "under `mlflow run` the runs go to the store"),
        ({"overrides": "seed='1"}, "parameter overrides is not a valid list of overrides"),
    ],
)
def test_a_bad_parameter_stops_with_one_line_and_exit_status_2(entry, capsys, params, message):
    with pytest.raises(SystemExit) as stop:
        entry("sweep").overrides(mlflow_argv("main", params)[2:])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_report_envs_and_idle_parameters_map_onto_their_commands(entry):
    report = entry("report")
    argv = mlflow_argv("report", {"target": "my study"})
    assert argv[:2] == ["python", "entrypoints/report.py"]
    assert report.report_args(argv[2:]) == ["my study", "--out", "outputs/reports/green_report_my_study.html"]
    argv = mlflow_argv("report", {"target": "0123abcd", "out": "/tmp/r.html"})
    assert report.report_args(argv[2:]) == ["0123abcd", "--out", "/tmp/r.html"]

    envs = entry("envs")
    assert envs.setup_args(mlflow_argv("envs", {})[2:]) == ["setup"]
    assert envs.setup_args(mlflow_argv("envs", {"names": "torch, onnx", "gpu": "true"})[2:]) == [
        "setup",
        "torch",
        "onnx",
        "--gpu",
    ]
    with pytest.raises(SystemExit) as stop:
        envs.setup_args(mlflow_argv("envs", {"gpu": "maybe"})[2:])
    assert stop.value.code == 2

    gate = entry("gate")
    argv = mlflow_argv("gate", {"baseline": "a" * 32, "candidate": "release 2"})
    assert argv[:2] == ["python", "entrypoints/gate.py"]
    assert gate.gate_args(argv[2:]) == [
        "a" * 32,
        "release 2",
        *("--max-regression", "0.05", "--metric", "both", "--alpha", "0.05", "--format", "markdown"),
    ]

    idle = entry("idle")
    args = idle.parse(mlflow_argv("idle", {"measure": "quick", "overrides": "measure.idle_s=2"})[2:])
    assert (args.measure, args.provider, args.overrides) == ("quick", "cpu", "measure.idle_s=2")


def test_entry_points_log_to_the_experiment_of_the_run_mlflow_created(entry):
    project = entry("_project")
    under_mlflow_run = {"MLFLOW_RUN_ID": "r", "MLFLOW_EXPERIMENT_ID": "7", "MLFLOW_EXPERIMENT_NAME": "other"}
    env = project.project_env(under_mlflow_run)
    assert "MLFLOW_EXPERIMENT_NAME" not in env and env["MLFLOW_EXPERIMENT_ID"] == "7"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)
    assert project.project_env({"MLFLOW_EXPERIMENT_NAME": "mine"})["MLFLOW_EXPERIMENT_NAME"] == "mine"


def test_conda_env_is_python_311_with_the_packages_dependencies_and_slurm_extra():
    import tomllib  # Python 3.11+, the orchestrator's Python (conda.yaml)

    conda = yaml.safe_load((ROOT / "conda.yaml").read_text())
    deps = conda["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sorted(pip) == sorted(project["dependencies"] + project["optional-dependencies"]["slurm"])
    assert yaml.safe_load((ROOT / "MLproject").read_text())["conda_env"] == "conda.yaml"


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> str:
    """A Python without green_mlflow's packages: the `python` on PATH when .venv is not activated."""
    folder = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    return str(folder / "bin" / "python")


@pytest.mark.parametrize(
    ("entry_point", "params"),
    [
        ("main", {}),
        ("report", {"target": "study"}),
        ("gate", {"baseline": "a", "candidate": "b"}),
        ("idle", {}),
        ("envs", {}),
        ("doctor", {}),
    ],
)
def test_an_entry_point_run_by_a_python_without_the_environment_says_how_to_get_it(bare_python, entry_point, params):
    argv = mlflow_argv(entry_point, params)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    proc = subprocess.run([bare_python, *argv[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr
    assert line.startswith("error: this entry point needs green_mlflow's environment, but hydra, omegaconf and ")
    assert f"not importable by {bare_python} (the `python` on PATH): activate it first (" in line
    assert line.endswith(
        "or let MLflow build one from conda.yaml (mlflow run . --env-manager conda, virtualenv or uv)\n"
    )
    assert line.count("\n") == 1 and "Traceback" not in line
    assert proc.stdout == ""


# --- for real: `mlflow run . --env-manager local` -------------------------------------------------------------


def mlflow_run(args: list[str], uri: str, tmp: Path, extra_env: dict[str, str] | None = None):
    """``mlflow run . --env-manager local …`` from the repository, its ``python`` the one running the tests."""
    env = dict(
        os.environ,
        MLFLOW_TRACKING_URI=uri,
        PYTHONUNBUFFERED="1",
        GREEN_MLFLOW_CACHE_DIR=str(tmp / "onnx-cache"),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    )
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        env.pop(name, None)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "mlflow", "run", ".", "--env-manager", "local", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def run_id_of(proc: subprocess.CompletedProcess) -> str:
    """The id of the run `mlflow run` created, from its own log line."""
    found = re.search(r"in run with ID '([0-9a-f]{32})'", proc.stderr)
    assert found, proc.stderr[-3000:]
    return found.group(1)


def runs_of(client: MlflowClient, experiment: str):
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r}"
    runs = client.search_runs([found.experiment_id])
    return [r for r in runs if "mlflow.parentRunId" not in r.data.tags], [
        r for r in runs if "mlflow.parentRunId" in r.data.tags
    ]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[str, Path]:
    """One SQLite store for this module's `mlflow run`s (an experiment each), and a folder beside it."""
    tmp = tmp_path_factory.mktemp("mlflow_run")
    return f"sqlite:///{tmp / 'mlflow.db'}", tmp


@pytest.fixture(scope="module")
def project_sweep(store):
    """One real ``mlflow run .`` of a torch,onnx sweep, with a stray $MLFLOW_EXPERIMENT_NAME in the shell."""
    require_env("torch"), require_env("onnx")
    uri, tmp = store
    overrides = " ".join([*TINY, f"hydra.sweep.dir={tmp / 'sweep'}"])
    args = ["--experiment-name", "green_project", "-P", "runtime=torch,onnx", "-P", "model=mobilenet_v2"]
    args += ["-P", "measure=quick", "-P", f"overrides={overrides}"]
    proc = mlflow_run(args, uri, tmp, {"MLFLOW_EXPERIMENT_NAME": "decoy"})
    return uri, tmp, proc


@pytest.mark.slow
def test_mlflow_run_makes_its_run_the_sweeps_parent_with_one_child_per_runtime(project_sweep):
    uri, tmp, proc = project_sweep
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "2 of 2 jobs finished" in proc.stdout
    client = MlflowClient(uri)
    assert client.get_experiment_by_name("decoy") is None, "--experiment-name wins for the child runs too"
    parents, children = runs_of(client, "green_project")

    assert len(parents) == 1, "no second parent: the run `mlflow run` created is the sweep's parent"
    parent = parents[0]
    assert parent.info.run_id == run_id_of(proc) and parent.info.status == "FINISHED"
    tags = parent.data.tags
    assert tags["mlflow.source.type"] == "PROJECT" and tags["mlflow.project.entryPoint"] == "main"
    assert tags["mlflow.project.backend"] == "local" and tags["mlflow.source.name"] == ROOT.as_uri()
    commit = tags["mlflow.source.git.commit"]
    assert subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT).returncode == 0
    assert tags["green.kind"] == "sweep" and tags["green.sweep_dir"] == str(tmp / "sweep")
    assert "runtime=torch,onnx" in tags["green.overrides"]
    assert tags["idle.status"] == "ok" and "idle_cpu_power_estimated_w" in parent.data.metrics
    assert parent.data.params["runtime"] == "torch,onnx" and parent.data.metrics["jobs_finished"] == 2

    assert sorted(c.data.params["runtime"] for c in children) == ["onnx", "torch"]
    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.params["model"] == "mobilenet_v2" and child.data.params["model.image_size"] == "32"
        assert child.data.params["measure"] == "quick" and child.data.params["measure.windows"] == "2"
        assert child.data.metrics["latency_p50_ms"] > 0


@pytest.mark.slow
def test_mlflow_run_report_logs_the_comparison_to_the_sweeps_parent_run(project_sweep):
    uri, tmp, sweep = project_sweep
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    parent_id = run_id_of(sweep)
    out = tmp / "report" / "view.html"
    args = ["--experiment-name", "green_reports", "-e", "report", "-P", f"target={parent_id}", "-P", f"out={out}"]
    proc = mlflow_run(args, uri, tmp)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "mobilenet_v2" in out.read_text() and f"logged to run {parent_id}" in proc.stdout
    client = MlflowClient(uri)
    assert "report/comparison.html" in {a.path for a in client.list_artifacts(parent_id, "report")}
    (report_run,), _ = runs_of(client, "green_reports")
    assert report_run.info.status == "FINISHED" and report_run.data.tags["mlflow.project.entryPoint"] == "report"


@pytest.mark.slow
def test_mlflow_run_idle_logs_the_hosts_idle_power_on_its_run(store, tmp_path):
    uri = store[0]
    args = ["--experiment-name", "green_idle", "-e", "idle", "-P", "measure=quick"]
    args += ["-P", "overrides=measure.idle_s=0.5"]
    proc = mlflow_run(args, uri, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    client = MlflowClient(uri)
    (run,), children = runs_of(client, "green_idle")
    assert not children and run.info.run_id == run_id_of(proc) and run.info.status == "FINISHED"
    assert run.data.tags["green.kind"] == "idle" and run.data.tags["idle.status"] == "ok"
    assert run.data.tags["idle.cpu.method"] == "estimated" and run.data.tags["idle.gpu.method"] == "unavailable"
    assert run.data.metrics["idle_duration_s"] >= 0.5 and "idle_cpu_power_estimated_w" in run.data.metrics
    assert run.data.params["measure.idle_s"] == "0.5" and run.data.params["measure"] == "quick"
    assert {a.path for a in client.list_artifacts(run.info.run_id, "idle")} == {"idle/idle.json"}


@pytest.mark.slow
def test_mlflow_run_with_a_wrong_option_fails_fast_listing_the_allowed_ones(store, tmp_path):
    uri = store[0]
    args = ["--experiment-name", "green_bad", "-P", "runtime=pytorch", "-P", f"overrides=hydra.sweep.dir={tmp_path}/s"]
    proc = mlflow_run(args, uri, tmp_path)
    assert proc.returncode != 0
    assert "Could not find 'runtime/pytorch'" in proc.stderr and "Available options in 'runtime'" in proc.stderr
    assert "Traceback" not in proc.stderr
    (run,), children = runs_of(MlflowClient(uri), "green_bad")
    assert run.info.status == "FAILED" and not children and not (tmp_path / "s").exists(), "nothing was measured"


@pytest.mark.slow
def test_mlflow_run_envs_checks_an_environment_that_is_up_to_date(store, tmp_path):
    require_env("onnx")
    uri = store[0]
    proc = mlflow_run(["--experiment-name", "green_envs", "-e", "envs", "-P", "names=onnx"], uri, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "environment onnx: up to date" in proc.stdout and "[1/1]" in proc.stdout


@pytest.mark.slow
def test_idle_entry_point_run_directly_makes_a_run_of_its_own_and_refuses_no_duration(store, tmp_path):
    uri = store[0]
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, MLFLOW_EXPERIMENT_NAME="green_idle_direct", PYTHONUNBUFFERED="1")
    env.pop("MLFLOW_RUN_ID", None)
    command = [sys.executable, "entrypoints/idle.py", "--measure", "quick", "--overrides"]
    proc = subprocess.run([*command, "measure.idle_s=0.3"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (run,), _ = runs_of(MlflowClient(uri), "green_idle_direct")
    assert run.info.status == "FINISHED" and run.data.tags["green.kind"] == "idle"
    assert run.data.tags["idle.status"] == "ok" and run.data.metrics["idle_duration_s"] >= 0.3

    refused = subprocess.run([*command, "measure.idle_s=0"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and refused.stderr.startswith("error: measure.idle_s=0")
    assert "Traceback" not in refused.stderr and len(runs_of(MlflowClient(uri), "green_idle_direct")[0]) == 1


def test_doctor_parameters_map_onto_the_doctor_command(entry, capsys):
    doctor = entry("doctor")
    argv = mlflow_argv("doctor", {})
    assert argv[:2] == ["python", "entrypoints/doctor.py"] and doctor.doctor_args(argv[2:]) == ["doctor"]
    argv = mlflow_argv("doctor", {"runtime": "onnx", "provider": "cuda, tensorrt"})
    assert doctor.doctor_args(argv[2:]) == [
        "doctor",
        "--runtime",
        "onnx",
        "--provider",
        "cuda",
        "--provider",
        "tensorrt",
    ]
    with pytest.raises(SystemExit) as stop:
        doctor.doctor_args(mlflow_argv("doctor", {"provider": "rocm"})[2:])
    assert stop.value.code == 2
    assert "parameter provider='rocm' is not known; allowed: cpu, cuda, tensorrt" in capsys.readouterr().err
