"""MLproject entry ``main``: one parameter per config group, comma lists kept as Hydra sweeps."""

from __future__ import annotations

import argparse
import shlex

from _project import exec_module

GROUPS = ("runtime", "model", "provider", "mode", "measure", "batch_size")


def overrides(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__)
    for group in GROUPS:
        parser.add_argument(f"--{group}", required=True)
    parser.add_argument("--overrides", default="", help="further Hydra overrides, space separated")
    args = parser.parse_args(argv)
    return ["-m", *(f"{g}={getattr(args, g)}" for g in GROUPS), *shlex.split(args.overrides)]


if __name__ == "__main__":
    exec_module("green_mlflow", overrides())
