"""Per-runtime Python environments (docs/design.md decision 1).

Each runtime's worker runs in its own virtual environment, made from a requirements file in
``specs/``. ``python -m green_mlflow.envs setup`` creates or updates them, idempotently: an
environment whose marker matches its spec (and Python) is left alone. Environments live in
``$GREEN_MLFLOW_ENV_DIR`` (default: ``.envs`` beside the package). A runtime can instead use an
interpreter of your own: ``runtime.python=/path/to/python`` or ``GREEN_MLFLOW_PYTHON_<RUNTIME>``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from green_mlflow.envs.resolve import spec_indexes
from green_mlflow.registry import environments

SPECS_DIR = Path(__file__).parent / "specs"
DEFAULT_ENVS = environments(gpu=False)  # what `setup` makes without names: the CPU set
MARKER = ".green_mlflow_spec"


class EnvironmentError_(RuntimeError):
    """An environment cannot be found or made; the message says what to do."""


def envs_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / ".envs"
    return Path(os.environ.get("GREEN_MLFLOW_ENV_DIR", default)).resolve()


def available() -> list[str]:
    return sorted(p.stem for p in SPECS_DIR.glob("*.txt"))


def spec_path(name: str) -> Path:
    path = SPECS_DIR / f"{name}.txt"
    if not path.exists():
        raise EnvironmentError_(f"no environment spec named {name!r}; allowed: {', '.join(available())}")
    return path


def _fingerprint(name: str, python: str) -> str:
    digest = hashlib.sha256(spec_path(name).read_bytes())
    digest.update(python.encode())
    return digest.hexdigest()


def env_python(name: str) -> Path:
    return envs_dir() / name / "bin" / "python"


def chosen_interpreter(runtime: str, override: str | None = None) -> str | None:
    """The user's own interpreter for ``runtime``: ``runtime.python``, else ``$GREEN_MLFLOW_PYTHON_<RUNTIME>``."""
    return override or os.environ.get(f"GREEN_MLFLOW_PYTHON_{runtime.upper()}")


def software(env_name: str, override: str | None, runtime: str) -> str:
    """What identifies the software a job of ``runtime`` runs with, for resume: the environment's spec and
    base interpreter (its fingerprint), or the user's own interpreter's path."""
    chosen = chosen_interpreter(runtime, override)
    text = f"interpreter {chosen}" if chosen else f"environment {env_name} {_fingerprint(env_name, sys.executable)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_current(name: str, base_python: str = sys.executable) -> bool:
    marker = envs_dir() / name / MARKER
    return env_python(name).exists() and marker.exists() and marker.read_text() == _fingerprint(name, base_python)


def setup(
    name: str,
    progress: Callable[[str], None] = print,
    base_python: str = sys.executable,
    extra_index_urls: list[str] | None = None,
) -> Path:
    """Create or update environment ``name``; return its interpreter. Safe to call from many processes.

    ``extra_index_urls`` replace the indexes the spec declares (``# index: URL`` lines), e.g. with a mirror.
    """
    root = envs_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_current(name, base_python):
            progress(f"environment {name}: up to date ({root / name})")
            return env_python(name)
        target = root / name
        if not env_python(name).exists():
            progress(f"environment {name}: creating {target}")
            subprocess.run([base_python, "-m", "venv", str(target)], check=True)
        progress(f"environment {name}: installing {spec_path(name).name} (first time: minutes; torch is several GB)")
        indexes = extra_index_urls if extra_index_urls is not None else spec_indexes(spec_path(name))
        if indexes:
            progress(f"environment {name}: also from {', '.join(indexes)}")
        pip = [str(env_python(name)), "-m", "pip", "install", "--disable-pip-version-check", "-r", str(spec_path(name))]
        pip += [arg for url in indexes for arg in ("--extra-index-url", url)]
        proc = subprocess.run(pip)
        if proc.returncode != 0:
            raise EnvironmentError_(
                f"environment {name}: pip failed (exit {proc.returncode}); see its output above. "
                f"Fix the cause and run `python -m green_mlflow.envs setup {name}` again"
            )
        (target / MARKER).write_text(_fingerprint(name, base_python))
        progress(f"environment {name}: ready")
        return env_python(name)


def interpreter_for(env_name: str, runtime: str, override: str | None, progress: Callable[[str], None] = print) -> str:
    """The interpreter a worker for ``runtime`` runs with: the user's, else the managed environment (made on first use)."""
    chosen = chosen_interpreter(runtime, override)
    if chosen:
        if not Path(chosen).exists():
            raise EnvironmentError_(f"the interpreter given for runtime={runtime} does not exist: {chosen}")
        return chosen
    if not is_current(env_name):
        setup(env_name, progress)
    return str(env_python(env_name))
