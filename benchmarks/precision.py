"""Wall time and achieved CI of precision targeting against the preset's fixed windows, measured by the product.

    .venv/bin/python benchmarks/precision.py [--runtimes torch onnx] [--models mobilenet_v2 resnet50] \
        [--batch-sizes 1] [--measure default] [--target 0.02] [--min-windows 3] [--max-windows 20] \
        [--order alternate|arms] [--extra KEY=VALUE ...]

Two arms, each a sweep of the product (``python -m green_mlflow -m …``) into a throw-away SQLite store of its own:

- ``default``: ``measure=default``, its fixed windows (5 windows of ≥ 30 iterations and ≥ 5 s, warm-up ≥ 5 s);
- ``target``: the same preset with ``measure.windows=3 measure.target_ci_rel=0.02 measure.max_windows=20``: after
  3 windows, more windows until the 95 % CI half-width of the run's primary quantity (``precision.quantity``:
  energy per sample from an energy counter where every window read one, else each window's latency p50) is
  within 2 % of its mean, or 20 windows.

Both arms run with ``measure.cooldown_s=0`` and ``measure.idle_s=10``. The idle baseline is measured once per
sweep (on the parent run, before any job), not per job, so it is not part of a job's wall time; it is the same
10 s in both arms all the same, so neither arm's sweep is cheaper for it. By default (``--order alternate``) each
configuration (runtime, model, batch) gets one sweep per arm, back to back, and the order of the two arms
swaps from one configuration to the next (default-target, target-default, …), so that slow changes in the
host's load fall on both arms alike; ``--order arms`` runs one sweep per arm over the whole matrix instead
(the default arm first). ``--extra`` appends Hydra overrides to both arms (smoke tests:
``--extra measure.warmup_min_s=0.2 measure.window_min_s=0.2 measure.window_min_iterations=3 measure.idle_s=0.5``).

It prints a Markdown table per runtime, model and batch, with the host it ran on, and writes it to
``benchmarks/results/precision.md``: per arm the windows measured, the job's wall time (the MLflow child run's
``end_time - start_time``: model load, ONNX conversion, warm-up, windows and logging), the CI achieved
(``precision_ci_rel``), the outcome (``precision.outcome``), the quantity, and the ratio of the wall times
target / default. A run that did not finish shows its status; a missing value shows "–", never 0. Ratios are
within one run of this script on one host (docs/method.md rule 16); on a shared, noisy host the target arm
may run to its cap.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARMS = ("default", "target")


def arm_overrides(arm: str, args: argparse.Namespace) -> list[str]:
    """The Hydra overrides of one arm (both: the preset, no cool-down, the same idle baseline); an ``--extra``
    override replaces one of these with the same key, the others come last."""
    overrides = [f"measure={args.measure}", "measure.idle_s=10", "measure.cooldown_s=0"]
    if arm == "target":
        overrides += [
            f"measure.windows={args.min_windows}",
            f"measure.target_ci_rel={args.target:g}",
            f"measure.max_windows={args.max_windows}",
        ]
    merged = {o.split("=", 1)[0]: o for o in overrides}
    merged.update({o.split("=", 1)[0]: o for o in args.extra})
    return list(merged.values())


def sweep(uri: str, cwd: str, arm: str, runtimes: list[str], models: list[str], batches: list[str], args) -> str:
    """Run one sweep; returns a line for the log (what ran, how long, its exit status)."""
    command = [
        sys.executable,
        "-m",
        "green_mlflow",
        "-m",
        f"runtime={','.join(runtimes)}",
        f"model={','.join(models)}",
        f"batch_size={','.join(batches)}",
        *arm_overrides(arm, args),
        "report=false",
        f"tracking.uri={uri}",
    ]
    began = datetime.datetime.now()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = (datetime.datetime.now() - began).total_seconds()
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
    what = f"{arm}: {','.join(runtimes)} {','.join(models)} bs {','.join(batches)}"
    return f"{what} ({seconds:.0f} s, exit {done.returncode})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtimes", nargs="+", default=["torch", "onnx"])
    parser.add_argument("--models", nargs="+", default=["mobilenet_v2", "resnet50"])
    parser.add_argument("--batch-sizes", nargs="+", default=["1"])
    parser.add_argument("--measure", default="default")
    parser.add_argument("--target", type=float, default=0.02, help="measure.target_ci_rel of the target arm")
    parser.add_argument("--min-windows", type=int, default=3, help="measure.windows of the target arm")
    parser.add_argument("--max-windows", type=int, default=20, help="measure.max_windows of the target arm")
    parser.add_argument("--order", choices=("alternate", "arms"), default="alternate")
    parser.add_argument("--extra", nargs="*", default=[], help="Hydra overrides appended to both arms")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "precision.md")
    args = parser.parse_args(argv)
    log: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        uris = {arm: f"sqlite:///{tmp}/{arm}.db" for arm in ARMS}
        if args.order == "arms":
            for arm in ARMS:
                log.append(sweep(uris[arm], tmp, arm, args.runtimes, args.models, args.batch_sizes, args))
        else:
            configs = [(r, m, b) for r in args.runtimes for m in args.models for b in args.batch_sizes]
            for index, (runtime, model, batch) in enumerate(configs):
                for arm in ARMS if index % 2 == 0 else ARMS[::-1]:
                    log.append(sweep(uris[arm], tmp, arm, [runtime], [model], [batch], args))
        table = summarise(uris, args, log)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    print(table)
    return 0


def job_runs(uri: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("green_mlflow")
    if experiment is None:  # no sweep got as far as its parent run
        return []
    runs = client.search_runs([experiment.experiment_id], "tags.`green.kind` = 'job'", max_results=1000)
    return [(client, run) for run in runs]


def cell(client, run) -> dict[str, str | float | None]:
    """One arm's values for one configuration; ``wall`` is None (and ``status`` says why) unless FINISHED."""
    m, t = run.data.metrics, run.data.tags
    if run.info.status != "FINISHED":
        return {"status": run.info.status, "wall": None}
    # the scalar ``windows``, checked against the per-window history (``window_throughput_samples_per_s`` is logged
    # in every scenario; ``window_latency_p50_ms`` is not in the throughput scenario)
    logged = m.get("windows")
    steps = len(client.get_metric_history(run.info.run_id, "window_throughput_samples_per_s"))
    if logged is None:
        windows = str(steps) if steps else "–"
    else:
        windows = f"{logged:.0f}" + (f" ({steps} in history)" if steps != logged else "")
    ci = m.get("precision_ci_rel")
    wall = (run.info.end_time - run.info.start_time) / 1000 if run.info.end_time else None
    return {
        "status": "FINISHED",
        "windows": windows,
        "wall": wall,
        "ci": f"±{ci:.1%}" if ci is not None else "–",
        "outcome": t.get("precision.outcome", "–"),
        "quantity": t.get("precision.quantity", "–"),
    }


def summarise(uris: dict[str, str], args: argparse.Namespace, log: list[str]) -> str:
    cells: dict[tuple[str, str, str], dict[str, dict]] = {}
    cpu = node = ""
    for arm, uri in uris.items():
        for client, run in job_runs(uri):
            p, t = run.data.params, run.data.tags
            cpu = t.get("host.cpu_model", cpu)
            node = t.get("host.hostname", node)
            key = (p["runtime"], p["model"], p["batch_size"])
            cells.setdefault(key, {})[arm] = cell(client, run)
    order = (
        "one sweep per arm and configuration, the arms' order swapped each configuration"
        if args.order == "alternate"
        else "one sweep per arm over the whole matrix, default first"
    )
    lines = [
        f"Host: {cpu or platform.processor()} ({node or platform.node()}), "
        f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}. "
        f"Arm default: {' '.join(arm_overrides('default', args))}. "
        f"Arm target: {' '.join(arm_overrides('target', args))}. "
        f"Idle baseline once per sweep, before and outside the jobs. Order: {order}.",
        "",
        "Per arm: windows measured · wall s (the job's MLflow run, end − start: load, conversion, warm-up, windows, "
        "logging) · 95 % CI half-width of the quantity achieved (precision_ci_rel) · precision.outcome.",
        "",
        "| runtime | model | batch | quantity | default: windows | default: wall s | default: CI | default: outcome "
        "| target: windows | target: wall s | target: CI | target: outcome | wall target/default |",
        "|---|---|---|---|---:|---:|---:|---|---:|---:|---:|---|---:|",
    ]
    for key in sorted(cells, key=lambda k: (k[0], k[1], int(k[2]))):
        row = [*key]
        arms = cells[key]
        quantities = sorted({str(c["quantity"]) for c in arms.values() if c.get("quantity")})
        row.append(" / ".join(quantities) or "–")
        for arm in ARMS:
            c = arms.get(arm)
            if c is None or c["status"] != "FINISHED":
                row += ["no run" if c is None else str(c["status"]), "–", "–", "–"]
            else:
                wall = f"{c['wall']:.1f}" if c["wall"] is not None else "–"
                row += [str(c["windows"]), wall, str(c["ci"]), str(c["outcome"])]
        walls = [arms.get(arm, {}).get("wall") for arm in ARMS]
        row.append(f"{walls[1] / walls[0]:.2f}" if None not in walls and walls[0] else "–")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Sweeps, in the order run:", *(f"{i}. {line}" for i, line in enumerate(log, 1))]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
