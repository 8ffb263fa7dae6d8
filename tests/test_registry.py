"""One registry of runtimes, kept consistent with conf/, the environment specs and the session modules."""

from __future__ import annotations

import ast
import importlib.util

import pytest
import yaml

from green_mlflow.envs import SPECS_DIR
from green_mlflow.registry import ONNX_SOURCES, PROVIDERS, RUNTIMES, environments, runtime
from tests.helpers.project import ROOT

CONF = ROOT / "conf"


def _options(group: str) -> set[str]:
    return {p.stem for p in (CONF / group).glob("*.yaml")}


def test_every_runtime_has_a_config_option_and_every_option_a_runtime():
    assert _options("runtime") == set(RUNTIMES)
    for name in RUNTIMES:
        assert yaml.safe_load((CONF / "runtime" / f"{name}.yaml").read_text())["name"] == name


def test_every_mode_and_provider_of_the_registry_is_a_config_option_and_no_option_is_orphaned():
    modes = {m for r in RUNTIMES.values() for m in r.modes}
    assert _options("mode") == modes | {"default"}
    assert _options("provider") == set(PROVIDERS) == {p for r in RUNTIMES.values() for p in r.providers}
    for group in ("mode", "provider"):
        for option in _options(group):
            assert yaml.safe_load((CONF / group / f"{option}.yaml").read_text())["name"] == option


def test_every_environment_named_has_a_spec_and_every_spec_is_named():
    assert {p.stem for p in SPECS_DIR.glob("*.txt")} == set(environments())
    assert environments(gpu=False) == ("torch", "tf", "mxnet", "onnx")


def test_session_and_converter_modules_exist_and_onnx_can_run_every_source():
    for entry in RUNTIMES.values():
        assert importlib.util.find_spec(entry.session) is not None, entry.session
        if entry.converter:
            assert importlib.util.find_spec(entry.converter) is not None, entry.converter
        assert entry.default_mode == entry.modes[0] and entry.distributions
    assert ONNX_SOURCES == ("torch", "tf", "mxnet")


def test_the_onnx_session_maps_exactly_the_registry_modes():
    """Its modes table maps names to ONNX Runtime levels; read from the source (onnxruntime is not installed here)."""
    tree = ast.parse((ROOT / "green_mlflow" / "runtimes" / "onnx_runtime.py").read_text())
    table = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "MODES" for t in node.targets)
    )
    assert tuple(k.value for k in table.keys) == RUNTIMES["onnx"].modes


def test_a_runtime_refuses_what_it_does_not_offer_saying_what_is_allowed():
    torch = runtime("torch")
    torch.check("cuda", "cuda_graph")
    with pytest.raises(
        ValueError, match="provider=cpu is not available with runtime=torch mode=cuda_graph; allowed: cuda"
    ):
        torch.check("cpu", "cuda_graph")
    with pytest.raises(ValueError, match="provider=tensorrt is not available with runtime=torch; allowed: cpu, cuda"):
        torch.check("tensorrt", "eager")
    with pytest.raises(ValueError, match="mode=ort_all is not available with runtime=torch; allowed: eager, compile"):
        torch.check("cpu", "ort_all")
    with pytest.raises(ValueError, match="runtime=jax is not available; allowed: torch, tf, mxnet, onnx"):
        runtime("jax")


def test_the_doctor_entry_point_knows_the_registry_runtimes_and_providers():
    """entrypoints/doctor.py keeps its own copy (it runs before the project is importable): the same names."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("doctor_entry", ROOT / "entrypoints" / "doctor.py")
    source = (ROOT / "entrypoints" / "doctor.py").read_text()
    namespace: dict = {}
    exec(
        compile(
            "\n".join(line for line in source.splitlines() if line.startswith(("RUNTIMES", "PROVIDERS"))),
            str(spec.origin),
            "exec",
        ),
        namespace,
    )
    assert namespace["RUNTIMES"] == tuple(RUNTIMES) and namespace["PROVIDERS"] == PROVIDERS
