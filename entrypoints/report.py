"""MLproject entry ``report``: the comparison view of a sweep or an experiment (``python -m green_mlflow.report``).

The HTML and its figures are logged to the sweep's parent run under ``report/`` and written to
``outputs/reports/`` in the project folder unless ``-P out=…`` names another file.
"""

from __future__ import annotations

import argparse
import re

from _project import exec_module, fail


def report_args(argv: list[str] | None = None) -> list[str]:
    """The arguments of ``python -m green_mlflow.report`` for these entry-point arguments (exits 2 on a mistake)."""
    parser = argparse.ArgumentParser(prog="entrypoints/report.py", description=__doc__)
    parser.add_argument("target", help="experiment name or id, or the run id of a sweep's parent run")
    parser.add_argument("--out", default="", help="HTML file to write")
    args = parser.parse_args(argv)
    target = args.target.strip()
    if not target:
        fail("parameter target is empty: give an experiment name or id, or a sweep's parent run id")
    out = args.out or f"outputs/reports/green_report_{re.sub(r'[^A-Za-z0-9_.-]+', '_', target)}.html"
    return [target, "--out", out]


if __name__ == "__main__":
    exec_module("green_mlflow.report", report_args())
