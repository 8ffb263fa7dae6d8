# The two set-up commands of the README. Both are idempotent: a second call only checks.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SWEEP ?= -m runtime=torch,tf,mxnet,onnx model=mobilenet_v2

.PHONY: setup envs run test lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(PY) pyproject.toml
	$(PY) -m pip install --disable-pip-version-check -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed envs

envs: $(VENV)/.installed
	$(PY) -m green_mlflow.envs setup

run: setup
	$(PY) -m green_mlflow $(SWEEP)

test: setup
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(PY) -m ruff check green_mlflow tests benchmarks entrypoints

clean:
	rm -rf $(VENV) .envs outputs multirun
