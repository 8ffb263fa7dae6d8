"""MLproject entry ``gate``: did the candidate make inference costlier? (``python -m green_mlflow.gate``).

``mlflow run . -e gate -P baseline=<sweep or experiment> -P candidate=<sweep or experiment>``; the verdict is
logged to the run ``mlflow run`` creates and to the candidate's sweep; the exit code is the gate's
(0 passed, 1 regressed, 2 cannot judge), so a CI step fails on a regression.
"""

from __future__ import annotations

import argparse

from _project import exec_module, fail


def gate_args(argv: list[str] | None = None) -> list[str]:
    """The arguments of ``python -m green_mlflow.gate`` for these entry-point arguments (exits 2 on a mistake)."""
    parser = argparse.ArgumentParser(prog="entrypoints/gate.py", description=__doc__)
    parser.add_argument("baseline")
    parser.add_argument("candidate")
    parser.add_argument("--max-regression", default="0.05")
    parser.add_argument("--metric", default="both")
    parser.add_argument("--alpha", default="0.05")
    parser.add_argument("--format", default="markdown")
    args = parser.parse_args(argv)
    for name in ("baseline", "candidate"):
        if not getattr(args, name).strip():
            fail(f"parameter {name} is empty: give a sweep's parent run id, or an experiment name or id")
    return [
        args.baseline.strip(),
        args.candidate.strip(),
        "--max-regression",
        args.max_regression,
        "--metric",
        args.metric,
        "--alpha",
        args.alpha,
        "--format",
        args.format,
    ]


if __name__ == "__main__":
    exec_module("green_mlflow.gate", gate_args())
