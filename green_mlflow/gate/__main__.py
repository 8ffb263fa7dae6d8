"""``python -m green_mlflow.gate BASELINE CANDIDATE``: did the candidate make inference costlier?

Each side is a sweep (its parent run id) or an experiment (name or id). Exit 0 when nothing regressed, 1 when
something did, 2 when nothing could be judged (no matching series, too few runs) or the input is wrong.
The verdict is logged to the candidate's sweep parent run (``gate/``, tag ``green.gate``) unless ``--no-log``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from mlflow.tracking import MlflowClient

from green_mlflow.gate.judge import METRICS, GateResult, judge
from green_mlflow.gate.render import FORMATS, as_json, markdown
from green_mlflow.report.cli import TRACKING_URI_HELP, fraction, store_client
from green_mlflow.report.data import RUN_ID, ReportError, load


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m green_mlflow.gate",
        description="Compare a candidate sweep (or experiment) with a baseline, series by series, and fail "
        "(exit 1) if inference got costlier by more than the margin. Exit 2: nothing could be judged.",
    )
    parser.add_argument("baseline", help="the baseline: a sweep's parent run id, or an experiment name or id")
    parser.add_argument("candidate", help="the candidate: a sweep's parent run id, or an experiment name or id")
    parser.add_argument(
        "--max-regression",
        type=fraction("the margin is a fraction of the baseline's mean, e.g. 0.05 for 5 %"),
        default=0.05,
        help="how much costlier the candidate may be before it counts as a regression (default 0.05)",
    )
    parser.add_argument("--metric", choices=("energy", "latency", "both"), default="both")
    parser.add_argument("--alpha", type=fraction("alpha is a significance level, e.g. 0.05"), default=0.05)
    parser.add_argument("--format", choices=tuple(FORMATS), default="text")
    parser.add_argument("--min-runs", type=int, default=3, help="runs a series needs on each side (default 3)")
    parser.add_argument(
        "--across-hardware", action="store_true", help="also match series measured on different CPUs or GPUs"
    )
    parser.add_argument("--tracking-uri", help=TRACKING_URI_HELP)
    parser.add_argument("--no-log", action="store_true", help="log nothing to the candidate's sweep")
    args = parser.parse_args(argv)
    if args.min_runs < 2:
        parser.error(f"--min-runs {args.min_runs}: a test needs at least 2 runs on each side")
    return args


def log_verdict(client: MlflowClient, run_id: str, result: GateResult) -> None:
    """The verdict on the candidate's sweep parent run: ``gate/verdict.{md,json}`` and ``green.gate``."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, body in (("verdict.md", markdown(result)), ("verdict.json", as_json(result))):
            (Path(tmp) / name).write_text(body)
            client.log_artifact(run_id, str(Path(tmp) / name), "gate")
    client.set_tag(run_id, "green.gate", result.outcome)
    client.set_tag(run_id, "green.gate.baseline", result.baseline)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        client = store_client(args.tracking_uri)
        sides = [load(client, target) for target in (args.baseline, args.candidate)]
    except ReportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    metrics = METRICS if args.metric == "both" else (args.metric,)
    result = judge(
        sides[0].runs,
        sides[1].runs,
        baseline=sides[0].title,
        candidate=sides[1].title,
        margin=args.max_regression,
        alpha=args.alpha,
        metrics=metrics,
        min_runs=args.min_runs,
        across_hardware=args.across_hardware,
    )
    print(FORMATS[args.format](result))
    if not args.no_log:
        candidate_sweep = args.candidate.strip()
        if RUN_ID.match(candidate_sweep) and len(sides[1].sweeps) == 1:
            log_verdict(client, candidate_sweep, result)
            print(f"verdict logged to the candidate's sweep run {candidate_sweep} (gate/)", file=sys.stderr)
        own = os.environ.get("MLFLOW_RUN_ID")  # under `mlflow run -e gate`: the run MLflow made for it
        if own and own != candidate_sweep:
            log_verdict(client, own, result)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
