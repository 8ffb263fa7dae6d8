"""Throughput and page faults per iteration under each memory allocator, measured by the product itself.

    .venv/bin/python benchmarks/allocators.py [--runtimes torch onnx] [--models mobilenet_v2] \
        [--batch-sizes 1 64] [--allocators glibc_pinned glibc jemalloc tcmalloc] [--measure quick] \
        [--extra measure.window_min_iterations=3 ...]

Runs one sweep (``python -m green_mlflow -m … allocator=…``) into a throw-away SQLite store, then prints a
Markdown table per runtime, model and batch: throughput (samples/s) and minor page faults per iteration under
each allocator, with the host it ran on, and writes it to ``benchmarks/results/allocators.md``. Ratios are
within one run of this script on one host (docs/method.md rule 16); the host is shared and noisy, so read a
difference below ~20 % as noise.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtimes", nargs="+", default=["torch", "onnx"])
    parser.add_argument("--models", nargs="+", default=["mobilenet_v2"])
    parser.add_argument("--batch-sizes", nargs="+", default=["1", "64"])
    parser.add_argument("--allocators", nargs="+", default=["glibc_pinned", "glibc", "jemalloc", "tcmalloc"])
    parser.add_argument("--measure", default="quick")
    parser.add_argument(
        "--extra", nargs="*", default=[], metavar="KEY=VALUE", help="Hydra overrides appended to the sweep"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "allocators.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        sweep = [
            sys.executable,
            "-m",
            "green_mlflow",
            "-m",
            f"runtime={','.join(args.runtimes)}",
            f"model={','.join(args.models)}",
            f"batch_size={','.join(args.batch_sizes)}",
            f"allocator={','.join(args.allocators)}",
            f"measure={args.measure}",
            "report=false",
            f"tracking.uri={uri}",
            *args.extra,
        ]
        done = subprocess.run(sweep, cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
        table = summarise(uri, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    print(table)
    return 0


def summarise(uri: str, args: argparse.Namespace) -> str:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("green_mlflow")
    runs = client.search_runs([experiment.experiment_id], "tags.`green.kind` = 'job'", max_results=1000)
    cells: dict[tuple[str, str, str], dict[str, str]] = {}
    cpu = ""
    for run in runs:
        p, m, t = run.data.params, run.data.metrics, run.data.tags
        cpu = t.get("host.cpu_model", cpu)
        key = (p["runtime"], p["model"], p["batch_size"])
        allocator = p.get("allocator") or p.get("allocator.name", "glibc_pinned")
        if run.info.status != "FINISHED":
            cells.setdefault(key, {})[allocator] = f"{run.info.status}"
            continue
        cells.setdefault(key, {})[allocator] = (
            f"{m['throughput_samples_per_s']:.1f}/s · {m.get('minor_page_faults_per_iteration', float('nan')):,.0f} pf/it"
            + (" ⚠" if t.get("green.allocator_churn", "").startswith("detected") else "")
        )
    head = "| runtime | model | batch | " + " | ".join(args.allocators) + " |"
    lines = [
        f"Host: {cpu or platform.processor()} ({platform.node()}), measure={args.measure} {' '.join(args.extra)}; "
        "each cell: throughput · minor page faults per iteration (⚠ = green.allocator_churn detected).",
        "",
        head,
        "|" + "---|" * (3 + len(args.allocators)),
    ]
    for key in sorted(cells, key=lambda k: (k[0], k[1], int(k[2]))):
        row = cells[key]
        lines.append(f"| {' | '.join(key)} | " + " | ".join(row.get(a, "–") for a in args.allocators) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
