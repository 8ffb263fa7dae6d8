"""``python -m green_mlflow.envs.probe RUNTIME``: inside a runtime's environment, print as JSON whether its
framework imports, its version, and what it can run on (its session module's ``devices()``).

Run by ``python -m green_mlflow.envs doctor``; every failure is part of the answer, never a traceback.
"""

from __future__ import annotations

import importlib
import json
import sys

from green_mlflow.registry import runtime


def probe(name: str) -> dict:
    try:
        module = importlib.import_module(runtime(name).session)
    except BaseException as err:  # noqa: BLE001 — a broken environment is an answer
        return {"importable": False, "error": f"{type(err).__name__}: {err}"[:2000]}
    try:
        return {"importable": True, **module.devices()}
    except BaseException as err:  # noqa: BLE001
        return {"importable": True, "error": f"asking for devices failed: {type(err).__name__}: {err}"[:2000]}


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1])))
