"""What every MLproject entry point shares: the project on the import path, the run's environment, errors.

``mlflow run`` starts an entry point with ``MLFLOW_RUN_ID``, ``MLFLOW_EXPERIMENT_ID`` and
``MLFLOW_TRACKING_URI`` set: that run is ours (the sweep's parent run, the idle baseline's run).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What green_mlflow cannot start without (import names): `mlflow run --env-manager local` runs the `python` on
# PATH, which lacks them when .venv is not activated, even if `mlflow` itself was .venv/bin/mlflow
NEEDED = ("hydra", "omegaconf", "mlflow")


def project_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for the project's own processes, with the package importable without installing it.

    Under ``mlflow run`` the experiment is the run's (``MLFLOW_EXPERIMENT_ID``): a stray
    ``MLFLOW_EXPERIMENT_NAME`` would otherwise send the child runs to another experiment than their parent's
    (``mlflow run --experiment-name A`` beats ``$MLFLOW_EXPERIMENT_NAME=B`` for the run it creates).
    """
    env = dict(os.environ if environ is None else environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    if env.get("MLFLOW_RUN_ID") and env.get("MLFLOW_EXPERIMENT_ID"):
        env.pop("MLFLOW_EXPERIMENT_NAME", None)
    return env


def require_environment() -> None:
    """Stop with one line saying what to do when this interpreter is not green_mlflow's environment."""
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if not missing:
        return
    activate = ". .venv/bin/activate" if (ROOT / ".venv").is_dir() else "make setup, then . .venv/bin/activate"
    names = ", ".join(missing[:-1]) + (" and " if len(missing) > 1 else "") + missing[-1]
    fail(
        f"this entry point needs green_mlflow's environment, but {names} {'is' if len(missing) == 1 else 'are'} "
        f"not importable by {sys.executable} (the `python` on PATH): activate it first ({activate}), "
        "or let MLflow build one from conda.yaml (mlflow run . --env-manager conda, virtualenv or uv)"
    )


def use_project() -> None:
    """Make this process import the project's package (for entry points that run code of their own)."""
    require_environment()
    env = project_env()
    for key in set(os.environ) - set(env):
        del os.environ[key]
    os.environ.update(env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def fail(message: str) -> None:
    """A user's mistake: one line on stderr and exit status 2, as argparse does; never a traceback."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def exec_module(module: str, args: list[str]) -> None:
    """Replace this process with ``python -m module args`` in the project folder (its exit code is ours)."""
    require_environment()
    os.chdir(ROOT)
    os.execvpe(sys.executable, [sys.executable, "-m", module, *args], project_env())
