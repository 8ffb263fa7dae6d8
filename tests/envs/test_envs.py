"""Runtime environments: made once, checked after, remade when the spec changes; a user's interpreter wins."""

from __future__ import annotations

import sys

import pytest

import green_mlflow.envs as envs


@pytest.fixture
def tiny_specs(tmp_path, monkeypatch):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "tiny.txt").write_text("# no requirements: only the venv itself\n")
    monkeypatch.setattr(envs, "SPECS_DIR", specs)
    monkeypatch.setenv("GREEN_MLFLOW_ENV_DIR", str(tmp_path / "envs"))
    return specs


def test_setup_is_idempotent_and_follows_the_spec(tiny_specs, tmp_path):
    said: list[str] = []
    python = envs.setup("tiny", said.append)
    assert python == tmp_path / "envs" / "tiny" / "bin" / "python" and python.exists()
    assert envs.is_current("tiny") and any("ready" in line for line in said)
    said.clear()
    envs.setup("tiny", said.append)
    assert said == [f"environment tiny: up to date ({tmp_path / 'envs' / 'tiny'})"]
    (tiny_specs / "tiny.txt").write_text("# changed\n")
    assert not envs.is_current("tiny"), "a changed spec makes the environment outdated"
    envs.setup("tiny", said.append)
    assert envs.is_current("tiny")


def test_unknown_environment_lists_the_known_ones(tiny_specs):
    with pytest.raises(envs.EnvironmentError_) as err:
        envs.spec_path("jax")
    assert "no environment spec named 'jax'; allowed: tiny" in str(err.value)


def test_a_users_interpreter_is_used_instead_of_the_managed_environment(tiny_specs, monkeypatch):
    assert envs.interpreter_for("tiny", "torch", sys.executable) == sys.executable
    monkeypatch.setenv("GREEN_MLFLOW_PYTHON_TORCH", sys.executable)
    assert envs.interpreter_for("tiny", "torch", None) == sys.executable
    with pytest.raises(envs.EnvironmentError_, match="does not exist: /nowhere/python"):
        envs.interpreter_for("tiny", "torch", "/nowhere/python")
    assert not envs.env_python("tiny").exists(), "nothing was installed"
