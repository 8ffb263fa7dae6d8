# The two set-up commands of the README. Both are idempotent: a second call only checks.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The first run: an adaptive sweep (docs/method.md rule 19) decides what 10 minutes of measuring can decide
# after the first round (every runtime 3 times), and the report lists what stays open and why.
SWEEP ?= -m runtime=torch,tf,mxnet,onnx model=mobilenet_v2 measure=quick measure.idle_s=30 \
	hydra.sweeper.adaptive=true hydra.sweeper.budget_s=600

.PHONY: allocators setup envs browser postgres slurm run test lint clean

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

# The comparison view's browser tests drive Debian's Chromium through its chromedriver (CI starts bare, as root).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium chromium-driver; \
	fi

# The tracking-server tests start a throw-away PostgreSQL from Debian's postgresql package (tests/test_server.py).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q postgresql; \
	fi

# The allocator axis (allocator=jemalloc|tcmalloc) preloads Debian's libraries into the worker (tests/worker/test_allocator.py).
allocators:
	@if ! ls /usr/lib/*/libjemalloc.so.2 /usr/lib/*/libtcmalloc_minimal.so.4 >/dev/null 2>&1; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q libjemalloc2 libtcmalloc-minimal4; \
	fi

# The SLURM tests start a private single-node cluster from Debian's packages (tests/helpers/slurm.py).
slurm:
	@if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q slurmctld slurmd slurm-client munge; \
	fi

# CI runs this (.ci/run): --durations lists the 25 slowest tests, to see where the suite's time goes
test: setup browser postgres allocators slurm lint
	$(PY) -m pytest --durations=25

# ruff, and the layering of docs/design.md ("Architecture") as import-linter contracts (pyproject.toml)
lint: $(VENV)/.installed
	$(PY) -m ruff check green_mlflow hydra_plugins tests benchmarks entrypoints
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .envs outputs multirun
