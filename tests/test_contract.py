"""The typed contract across the process boundary: round trips, versions, failures through the one CLI shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from green_mlflow.contract import (
    SCHEMA_VERSION,
    ContractError,
    ConversionReport,
    CoolDown,
    DomainEnergy,
    IdleResult,
    JobSpec,
    MeasureSettings,
    WindowSummary,
    WorkerResult,
    serve,
)
from green_mlflow.launch import run_module, worker_env
from tests.helpers.project import ROOT


def _result() -> WorkerResult:
    return WorkerResult(
        info={"framework": "torch", "framework_version": "2.14.1"},
        cooldown=CoolDown(1.5, 40.0, 38.0, 39.0, "reached"),
        windows=[WindowSummary(3, 3, 0.3, 10.0, 10.3, 1.2, 4.0)],
        energy={
            "cpu": DomainEnergy("estimated", "TDP", window_energy_j=[1.0, None], errors=["window1: gone"]),
            "gpu": DomainEnergy("unavailable", "no NVML"),
        },
    )


def test_a_result_survives_json_with_its_nested_types():
    result = _result()
    back = WorkerResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert back == result
    assert isinstance(back.cooldown, CoolDown) and isinstance(back.windows[0], WindowSummary)
    assert isinstance(back.energy["cpu"], DomainEnergy) and back.energy["cpu"].window_energy_j == [1.0, None]
    assert back.energy["gpu"].energy_j is None, "an unavailable domain has no number, not 0"


def test_a_spec_carries_typed_measure_settings_and_its_schema_version():
    spec = JobSpec(runtime="onnx", model={"name": "m", "kind": "image"}, measure=MeasureSettings(windows=7))
    data = spec.to_dict()
    assert data["schema_version"] == SCHEMA_VERSION and data["measure"]["windows"] == 7
    back = JobSpec.from_dict(data)
    assert isinstance(back.measure, MeasureSettings) and back.measure.windows == 7 and back == spec


def test_a_document_of_another_schema_version_is_refused_with_the_reason():
    data = JobSpec(runtime="torch").to_dict()
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(ContractError, match=f"schema version {SCHEMA_VERSION + 1} cannot be read"):
        JobSpec.from_dict(data)
    with pytest.raises(ContractError, match="schema version None"):
        IdleResult.from_dict({"status": "ok"})


def test_unknown_and_missing_fields_are_refused_by_name():
    data = _result().to_dict()
    data["energy"]["cpu"]["joules"] = 3
    with pytest.raises(ContractError, match=r"WorkerResult.energy.cpu has fields this version does not know: joules"):
        WorkerResult.from_dict(data)
    data = _result().to_dict()
    del data["windows"][0]["samples"]
    with pytest.raises(ContractError, match="samples"):
        WorkerResult.from_dict(data)


def test_serve_turns_an_exception_into_a_failed_result_with_its_traceback(tmp_path: Path):
    (tmp_path / "spec.json").write_text(json.dumps(JobSpec(runtime="torch").to_dict()))

    def explode(spec: JobSpec) -> WorkerResult:
        raise RuntimeError(f"cannot run {spec.runtime}")

    code = serve(explode, JobSpec, WorkerResult, [str(tmp_path / "spec.json"), str(tmp_path / "result.json")])
    result = WorkerResult.read(tmp_path / "result.json")
    assert code == 1 and not result.ok and result.error == "RuntimeError: cannot run torch"
    assert "Traceback" in result.traceback and result.latency is None


def test_serve_refuses_a_spec_of_another_version_as_a_failed_result(tmp_path: Path):
    (tmp_path / "spec.json").write_text(json.dumps({"runtime": "torch"}))
    code = serve(
        lambda spec: ConversionReport(),
        JobSpec,
        ConversionReport,
        [str(tmp_path / "spec.json"), str(tmp_path / "r.json")],
    )
    result = ConversionReport.read(tmp_path / "r.json")
    assert code == 1 and result.status == "failed" and "ContractError" in result.error


def test_the_orchestrator_reads_a_real_workers_failure_typed(tmp_path: Path):
    """Through a real child process: the idle worker given a spec it cannot use fails, typed, with stderr."""
    from green_mlflow.contract import IdleSpec

    spec = IdleSpec(duration_s=0.1, output_dir="/proc/cannot-create-here")
    result = run_module(sys.executable, "green_mlflow.worker.idle", spec, tmp_path, 60, IdleResult, lambda _: None)
    assert isinstance(result, IdleResult) and result.status == "failed"
    assert "cannot-create-here" in result.error and "Traceback" in result.traceback


def test_a_wrong_command_line_exits_2_with_usage(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "green_mlflow.worker", "only-one-arg"], capture_output=True, text=True, env=worker_env()
    )
    assert proc.returncode == 2 and "usage: python -m MODULE SPEC.json RESULT.json" in proc.stderr


def test_the_contract_imports_nothing_beyond_the_standard_library():
    code = (
        "import sys; before = set(sys.modules); import green_mlflow.contract, green_mlflow.registry; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "print(sorted(new - set(sys.stdlib_module_names) - {'green_mlflow'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout
