"""Wall time, jobs, repetitions and energy of the adaptive sweep against a fixed-repetition sweep, and whether
they reach the same verdicts, measured by the product on one host.

    .venv/bin/python benchmarks/adaptive.py [--out benchmarks/results/adaptive] [--pairs 1] \
        [--runtimes torch tf mxnet onnx] [--models mobilenet_v2 resnet50] [--max-repetitions 10] [--tiny]

Two arms, each a sweep through the real command line (``python -m green_mlflow -m …`` in a subprocess, its
working folder a fresh one under ``--out``), each into a SQLite store of its own
(``MLFLOW_TRACKING_URI=sqlite:///<out>/<arm>_<pair>.db``):

- ``fixed``: ``runtime=torch,tf,mxnet,onnx model=mobilenet_v2,resnet50 batch_size=1 measure=quick
  measure.repetitions=10``;
- ``adaptive``: the same without ``measure.repetitions``, plus ``hydra.sweeper.adaptive=true
  hydra.sweeper.max_repetitions=10`` (``min_repetitions`` 3, ``max_per_round`` 4, ``margin`` 0.05: the
  sweeper's defaults).

The arms are interleaved: fixed, adaptive, then (``--pairs 2``) fixed, adaptive again, so that slow changes in
the host's load fall on both. Both share one ONNX cache (``GREEN_MLFLOW_CACHE_DIR=<out>/onnx-cache``): the
first sweep that needs a conversion pays it (the fixed arm of pair 1), later ones find it cached; the table
counts the conversions each sweep ran.

Per arm: the wall time of the whole command (model loads, conversions, idle baseline, every job, the report),
the FINISHED jobs, the repetitions per series (FINISHED child runs per ``green.config_hash``), and the energy
of the measured windows (``energy_per_sample_gross[_estimated]_j`` × ``measured_samples`` summed over the
jobs) and of the jobs (windows + warm-up + model load, the ``{domain}_*energy*_j`` metrics of docs/metrics.md).
Where the names carry ``_estimated`` the figure is an estimate (TDP × utilisation), not a meter reading.

Agreement: each question of the adaptive arm (``report/findings.json`` → ``comparisons``) against the fixed
arm's verdict for the same pair (its ``comparisons``: the same engine at one look), both put into one
vocabulary: different-lower, different-higher, equivalent, undecided.

``--tiny``: torch and onnx, mobilenet_v2 at 32 px, shrunk windows (``TINY_MEASURE``, as the tests use), 4
repetitions in the fixed arm and at most 4 in the adaptive one, one pair: about 2 minutes on a 2-core VM.

Writes ``<out>/adaptive_benchmark.json`` (everything) and ``<out>/adaptive_benchmark.md`` (tables for
benchmarks/README.md, with the host and the date), and prints the summary. Always exits 0; a sweep that
failed shows its exit status.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARMS = ("fixed", "adaptive")
sys.path.insert(0, str(ROOT))
from tests.helpers.project import TINY_MEASURE  # noqa: E402  (the shrunk windows the tests use)

DOMAIN_ENERGY = re.compile(r"^(gpu|cpu|dram)_(energy_gross|warmup_energy|load_energy)(_estimated)?_j$")
WINDOW_ENERGY = re.compile(r"^(gpu|cpu|dram)_energy_gross(_estimated)?_j$")


def arm_overrides(arm: str, args: argparse.Namespace) -> list[str]:
    """The command-line overrides of one arm."""
    if args.tiny:
        base = ["-m", "runtime=torch,onnx", "model=mobilenet_v2", "model.image_size=32", "batch_size=1"]
        base += TINY_MEASURE
    else:
        base = ["-m", f"runtime={','.join(args.runtimes)}", f"model={','.join(args.models)}", "batch_size=1"]
        base += ["measure=quick"]
    if arm == "fixed":
        return [*base, f"measure.repetitions={args.max_repetitions}", *args.extra]
    return [*base, "hydra.sweeper.adaptive=true", f"hydra.sweeper.max_repetitions={args.max_repetitions}", *args.extra]


def run_arm(arm: str, pair: int, args: argparse.Namespace) -> dict:
    """One sweep of one arm into a store of its own; what it cost and what it found."""
    name = f"{arm}_{pair}"
    db, work = args.out / f"{name}.db", args.out / name
    db.unlink(missing_ok=True)  # a store left by an earlier run would be resumed, not measured again
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    uri = f"sqlite:///{db}"
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, PYTHONUNBUFFERED="1", GREEN_MLFLOW_CACHE_DIR=str(args.cache))
    env.pop("MLFLOW_EXPERIMENT_NAME", None)
    command = [sys.executable, "-m", "green_mlflow", *arm_overrides(arm, args)]
    print(f"[{time.strftime('%H:%M:%S')}] {name}: {' '.join(command[1:])}", flush=True)
    began = time.monotonic()
    try:
        done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=args.timeout)
        code, log = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as err:
        code, log = "timeout", f"{err.stdout or ''}{err.stderr or ''}"
        log = log.decode(errors="replace") if isinstance(log, bytes) else log
    wall = time.monotonic() - began
    (work / "sweep.log").write_text(log)
    if code != 0:
        print(log[-3000:], file=sys.stderr)
    print(f"[{time.strftime('%H:%M:%S')}] {name}: exit {code}, {wall:.0f} s", flush=True)
    result = {"arm": arm, "pair": pair, "uri": uri, "command": command[1:], "exit": code, "wall_s": wall}
    return result | read_store(uri, work, adaptive=arm == "adaptive")


def run_energy(m: dict[str, float]) -> tuple[float | None, float | None, bool]:
    """A job's energy over its measured windows and over the whole job (+ warm-up and load); estimated or not."""
    names: list[str] = []
    windows = None
    for metric in ("energy_per_sample_gross_estimated_j", "energy_per_sample_gross_j"):
        if metric in m and "measured_samples" in m:
            windows, names = m[metric] * m["measured_samples"], [metric]
            break
    domain = [k for k in m if WINDOW_ENERGY.match(k)]
    if windows is None and domain:
        windows, names = sum(m[k] for k in domain), domain
    phases = [k for k in m if DOMAIN_ENERGY.match(k)]
    job = sum(m[k] for k in phases) if phases else None
    return windows, job, any("_estimated" in k for k in names + phases)


def read_store(uri: str, work: Path, adaptive: bool) -> dict:
    """Jobs, repetitions per series, energy and the parent run's findings (and design) of one store."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("green_mlflow")
    runs = client.search_runs([experiment.experiment_id], max_results=5000) if experiment else []
    parents = sorted((r for r in runs if r.data.tags.get("green.kind") == "sweep"), key=lambda r: r.info.start_time)
    out: dict = {"parent_run_id": parents[-1].info.run_id if parents else None, "findings": None, "design": None}
    jobs = [r for r in runs if r.data.tags.get("green.kind") == "job"]
    finished = [r for r in jobs if r.info.status == "FINISHED"]
    series: dict[str, dict] = {}
    windows_j = job_j = 0.0
    estimated = False
    for run in sorted(finished, key=lambda r: r.info.start_time):
        key = run.data.tags.get("green.config_hash", "?")
        label = re.sub(r"[-_ ]?(r|rep|repetition)=?\d+$", "", run.info.run_name or key)
        series.setdefault(key, {"label": label, "repetitions": 0})["repetitions"] += 1
        w, j, est = run_energy(run.data.metrics)
        windows_j, job_j, estimated = windows_j + (w or 0.0), job_j + (j or 0.0), estimated or est
    out |= {
        "jobs_finished": len(finished),
        "jobs_other": len(jobs) - len(finished),
        "series": series,
        "conversions_run": sum(1 for r in finished if r.data.tags.get("onnx.cached") == "false"),
        "energy_windows_j": windows_j,
        "energy_jobs_j": job_j,
        "energy_label": "estimated (TDP × utilisation; no RAPL here)" if estimated else "measured",
    }
    if parents:
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            wanted = [("findings", "report/findings.json")] + [("design", "adaptive/design.json")] * adaptive
            for key, path in wanted:
                try:
                    out[key] = json.loads(Path(client.download_artifacts(out["parent_run_id"], path, tmp)).read_text())
                except Exception as err:  # noqa: BLE001 - a fixed sweep has no design; a failed report, no findings
                    out[key] = None
                    out[f"{key}_missing"] = f"{type(err).__name__}: {err}"[:300]
    return out


def _flip(verdict: str) -> str:
    return {"different-lower": "different-higher", "different-higher": "different-lower"}.get(verdict, verdict)


def adaptive_verdict(verdict: str) -> str:
    return {"lower": "different-lower", "higher": "different-higher", "equivalent": "equivalent"}.get(
        verdict, "undecided"
    )


def fixed_verdict(question: dict, findings: dict | None) -> tuple[str, str, str]:
    """The fixed arm's verdict on the adaptive question's pair (its ``comparisons``: the same engine, one look):
    (one vocabulary, as written, where it was found)."""
    if not findings:
        return "undecided", "no findings.json", "–"
    key = (str(question["model"]), str(question["batch_size"]), question["metric"])
    sides = (
        (question["reference"], question.get("reference_provider")),
        (question["other"], question.get("other_provider")),
    )
    for row in findings.get("comparisons", []):
        if (str(row["model"]), str(row["batch_size"]), row["metric"]) != key:
            continue
        mapped = adaptive_verdict(row["verdict"])
        pair = ((row["reference"], row["reference_provider"]), (row["other"], row["other_provider"]))
        if pair == sides:
            return mapped, row["verdict"], "comparisons"
        if pair == sides[::-1]:
            return _flip(mapped), row["verdict"], "comparisons"
    return "undecided", "not among the fixed arm's comparisons", "–"


def agreement(fixed: dict, adaptive: dict) -> list[dict]:
    """One entry per question of the adaptive arm: both verdicts, and whether they agree."""
    questions = (adaptive.get("findings") or {}).get("comparisons", [])
    entries = []
    for q in questions:
        f_mapped, f_raw, table = fixed_verdict(q, fixed.get("findings"))
        a_mapped = adaptive_verdict(q["verdict"])
        entries.append(
            {
                "pair": adaptive["pair"],
                "question": q["question"],
                "kinds": q.get("kinds", []),
                "metric": q["metric"],
                "adaptive": a_mapped,
                "adaptive_raw": q["verdict"],
                "adaptive_delta_rel": q.get("delta_rel"),
                "adaptive_ci_rel": [q.get("ci_low_rel"), q.get("ci_high_rel")],
                "adaptive_n": [q.get("n_reference"), q.get("n_other")],
                "adaptive_looks": q.get("looks"),
                "adaptive_reason": q.get("reason"),
                "fixed": f_mapped,
                "fixed_raw": f_raw,
                "fixed_table": table,
                "same": a_mapped == f_mapped,
            }
        )
    return entries


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "–" if value is None else format(value, spec)


def host_line() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if ln.startswith("Model name")), "?")
    except OSError:
        model = "?"
    try:
        cores = subprocess.run(["nproc"], capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        cores = str(os.cpu_count())
    return f"Host: {model}, {cores} cores (nproc), {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}."


def tables(results: list[dict], agree: list[dict], args: argparse.Namespace) -> str:
    lines = [
        host_line(),
        "",
        *(f"Arm {arm}: `{' '.join(arm_overrides(arm, args))}`." for arm in ARMS),
        f"ONNX conversions cached in one folder shared by both arms ({args.cache}): the first sweep that needs "
        "a conversion pays it, later sweeps find it cached (column “conv.”: conversions the sweep ran).",
        "",
        "| arm | pair | exit | wall s | jobs | series | reps/series min / median / max | conv. "
        "| energy, windows J | energy, jobs J | energy is |",
        "|---|---:|---|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for r in results:
        reps = [s["repetitions"] for s in r["series"].values()] or [0]
        jobs = f"{r['jobs_finished']}" + (f" (+{r['jobs_other']} not finished)" if r["jobs_other"] else "")
        lines.append(
            f"| {r['arm']} | {r['pair']} | {r['exit']} | {r['wall_s']:.0f} | {jobs} "
            f"| {len(r['series'])} | {min(reps)} / {statistics.median(reps):g} / {max(reps)} | {r['conversions_run']} "
            f"| {r['energy_windows_j']:.1f} | {r['energy_jobs_j']:.1f} | {r['energy_label']} |"
        )
    lines += ["", "Repetitions per series (FINISHED child runs per green.config_hash):"]
    for r in results:
        per = "; ".join(
            f"{s['label']}: {s['repetitions']}" for s in sorted(r["series"].values(), key=lambda s: s["label"])
        )
        lines.append(f"- {r['arm']} {r['pair']}: {per or 'none'}")
    walls = {arm: sum(r["wall_s"] for r in results if r["arm"] == arm) for arm in ARMS}
    ratios = [
        a["wall_s"] / f["wall_s"]
        for f in results
        for a in results
        if f["arm"] == "fixed" and a["arm"] == "adaptive" and a["pair"] == f["pair"] and f["wall_s"]
    ]
    total = walls["adaptive"] / walls["fixed"] if walls["fixed"] else None
    lines += [
        "",
        f"Wall time adaptive / fixed: {_fmt(total, '.2f')} over all pairs"
        + (f" (per pair: {', '.join(f'{x:.2f}' for x in ratios)})." if ratios else "."),
        "",
        "| pair | question | metric | adaptive | fixed | fixed's table (as written) | same |",
        "|---:|---|---|---|---|---|---|",
    ]
    for e in agree:
        lines.append(
            f"| {e['pair']} | {e['question']} | {e['metric']} | {e['adaptive']} ({e['adaptive_raw']}, "
            f"n = {e['adaptive_n'][0]} vs {e['adaptive_n'][1]}) | {e['fixed']} | {e['fixed_table']}: "
            f"{e['fixed_raw']} | {'yes' if e['same'] else 'no'} |"
        )
    same = sum(e["same"] for e in agree)
    left_open = sum(e["adaptive"] == "undecided" for e in agree)
    lines += [
        "",
        f"Same verdict in {same} of {len(agree)} questions; {left_open} questions the adaptive sweep left open.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "adaptive")
    parser.add_argument("--pairs", type=int, default=1, help="fixed then adaptive, this many times")
    parser.add_argument("--runtimes", nargs="+", default=["torch", "tf", "mxnet", "onnx"])
    parser.add_argument("--models", nargs="+", default=["mobilenet_v2", "resnet50"])
    parser.add_argument("--max-repetitions", type=int, default=None, help="fixed: repetitions; adaptive: the cap")
    parser.add_argument("--tiny", action="store_true", help="torch, onnx; mobilenet_v2 at 32 px; short windows")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per sweep (default: none)")
    parser.add_argument("--extra", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for both arms")
    args = parser.parse_args(argv)
    if args.max_repetitions is None:
        args.max_repetitions = 4 if args.tiny else 10
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    args.cache = args.out / "onnx-cache"
    print(f"ONNX cache shared by both arms: GREEN_MLFLOW_CACHE_DIR={args.cache}", flush=True)
    results = [run_arm(arm, pair, args) for pair in range(1, args.pairs + 1) for arm in ARMS]
    agree = []
    for pair in range(1, args.pairs + 1):
        fixed, adaptive = (next(r for r in results if (r["arm"], r["pair"]) == (arm, pair)) for arm in ARMS)
        agree += agreement(fixed, adaptive)
    text = tables(results, agree, args)
    summary = {
        "host": host_line(),
        "tiny": args.tiny,
        "pairs": args.pairs,
        "onnx_cache": str(args.cache),
        "arms": {arm: arm_overrides(arm, args) for arm in ARMS},
        "results": results,
        "agreement": agree,
        "same": sum(e["same"] for e in agree),
        "questions": len(agree),
        "left_open_by_adaptive": sum(e["adaptive"] == "undecided" for e in agree),
    }
    (args.out / "adaptive_benchmark.json").write_text(json.dumps(summary, indent=2, default=str))
    (args.out / "adaptive_benchmark.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
