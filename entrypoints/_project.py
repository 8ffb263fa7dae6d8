"""Run ``python -m <module>`` from the project folder, whether or not the package is installed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def exec_module(module: str, args: list[str]) -> None:
    """Replace this process with ``python -m module args`` (its exit code is ours)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    os.chdir(ROOT)
    os.execvpe(sys.executable, [sys.executable, "-m", module, *args], env)
