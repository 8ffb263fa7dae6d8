"""``python -m green_mlflow.report <experiment name or id, or a sweep's parent run id>``.

Writes the comparison view as one self-contained HTML file and logs it, with PNG figures, to the sweep's
parent run (for an experiment: its newest sweep) under ``report/``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from green_mlflow.report.cli import TRACKING_URI_HELP, fraction, store_client
from green_mlflow.report.data import ReportError
from green_mlflow.report.figures import slug
from green_mlflow.report.offline import build_view, report_run, write
from green_mlflow.study.defaults import MARGIN_REL

_margin = fraction("give a fraction of the mean, e.g. 0.05 for ±5%")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m green_mlflow.report",
        description="Write the comparison view of a sweep or an experiment as one offline HTML file "
        "and log it (with PNG figures) to the sweep's parent run.",
    )
    parser.add_argument("target", help="experiment name or id, or the run id of a sweep's parent run")
    parser.add_argument(
        "--tracking-uri",
        help=TRACKING_URI_HELP,
    )
    parser.add_argument("--out", type=Path, help="HTML file to write (default: green_report_<target>.html)")
    parser.add_argument("--no-log", action="store_true", help="only write the file; log nothing to MLflow")
    parser.add_argument(
        "--margin",
        type=_margin,
        default=MARGIN_REL,
        help="equivalence margin, a fraction of the reference mean (default 0.05: two runtimes are 'equivalent' "
        "only if a TOST puts their difference within ±5%%)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        client = store_client(args.tracking_uri)
    except ReportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        view = build_view(client, args.target)
    except ReportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for warning in view.dataset.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    out = args.out or Path(f"green_report_{slug(args.target)}.html")
    log_to = None if args.no_log else report_run(view)
    written = write(view, out, client, log_to, args.margin)
    print(
        f"wrote {written.html} and {written.findings.name} ({len(view.groups)} groups, {len(view.dataset.runs)} job runs)"
    )
    for group in view.groups:
        print(f"  {group.title}: {group.verdict}")
    if written.logged_to:
        print(f"logged to run {written.logged_to} under report/ (HTML and {len(written.figures)} figures)")
    elif not args.no_log:
        print("not logged to MLflow: no sweep parent run in this selection, or logging failed (see warnings)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
