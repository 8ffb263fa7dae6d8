"""MLproject entry points ``main`` and ``sweep``: one parameter per config group, comma lists kept as Hydra sweeps.

``mlflow run . -P runtime=torch,onnx -P model=mobilenet_v2 -P overrides="measure.repetitions=3"`` runs
``python -m green_mlflow -m runtime=torch,onnx model=mobilenet_v2 … measure.repetitions=3``; the run that
``mlflow run`` created becomes the sweep's parent run (it is handed over as ``MLFLOW_RUN_ID``).
"""

from __future__ import annotations

import argparse
import shlex

from _project import exec_module, fail

GROUPS = ("runtime", "model", "provider", "mode", "measure", "batch_size")
# Child runs must land beside the run `mlflow run` made (MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_ID).
OWNED_BY_MLFLOW_RUN = ("tracking.uri", "tracking.experiment_name")


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def overrides(argv: list[str] | None = None) -> list[str]:
    """The command line of ``python -m green_mlflow`` for these entry-point arguments (exits 2 on a mistake)."""
    parser = argparse.ArgumentParser(prog="entrypoints/sweep.py", description=__doc__)
    for group in GROUPS:
        parser.add_argument(f"--{group}", required=True, help=f"the {group} option, or a comma list to sweep")
    parser.add_argument("--overrides", default="", help="further Hydra overrides, space separated")
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        names = [u[2:] for u in unknown if u.startswith("--")] or unknown
        fail(
            f"unknown parameter {', '.join(names)}: the sweep's parameters are {', '.join(GROUPS)} and overrides "
            "(any other Hydra override, e.g. -P overrides='measure.repetitions=3 seed=1')"
        )
    chosen = []
    for group in GROUPS:
        value = getattr(args, group).strip()
        if not value:
            fail(f"parameter {group} is empty: give an option or a comma list to sweep (e.g. -P runtime=torch,onnx)")
        chosen.append(f"{group}={value}")
    try:
        extra = shlex.split(args.overrides)
    except ValueError as err:
        fail(f"parameter overrides is not a valid list of overrides ({err}): {args.overrides!r}")
    for override in extra:
        key = _key(override)
        if key in GROUPS:
            fail(f"{key} is a parameter of its own: pass -P {key}=… instead of putting {override!r} in overrides")
        if key in OWNED_BY_MLFLOW_RUN:
            fail(
                f"{override!r}: under `mlflow run` the runs go to the store and experiment of the run it created; "
                "set MLFLOW_TRACKING_URI and pass --experiment-name to `mlflow run` instead"
            )
    return ["-m", *chosen, *extra]


if __name__ == "__main__":
    exec_module("green_mlflow", overrides())
