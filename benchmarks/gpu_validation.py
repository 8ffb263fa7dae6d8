"""Validate the measurement path on an NVIDIA GPU host that has only PyTorch and NVML bindings.

    PYTHONPATH=. python benchmarks/gpu_validation.py --out "$OUT"             # full: ~6 min on an H100
    PYTHONPATH=. python benchmarks/gpu_validation.py --out "$OUT" --quick     # ~3 min

What it does (docs/design.md decision 2: no MLflow, no Hydra): an idle baseline, then for torch resnet50,
mobilenet_v2 and bert_base at batch 1 and 64, in eager and cuda_graph modes, the product's standalone
worker (``python -m green_mlflow.worker``, a fresh process per job) with the sampler polling GPU power
every 50 ms. Per window it cross-checks the NVML energy counter against the integral of the polled
power (docs/method.md rules 1-2): they must agree within 2%. Writes ``gpu_validation.json`` and
``gpu_validation.md`` (a table to paste into docs/validation.md) into ``--out``.

``--provider cpu`` runs the same code on a CPU host (eager only; no counter to cross-check), which is
how the test suite keeps this script working between GPU sessions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from green_mlflow import launch  # noqa: E402
from green_mlflow.contract import (  # noqa: E402
    Document,
    IdleResult,
    IdleSpec,
    JobSpec,
    MeasureSettings,
    Outcome,
    WorkerResult,
)
from green_mlflow.meters.base import MeterError, Trace  # noqa: E402
from green_mlflow.meters.nvml import NvmlPolledMeter  # noqa: E402
from green_mlflow.worker.sampler import read_trace  # noqa: E402


def study_model(name: str) -> dict:
    """The study model's sizes as the product composes them (``conf/model/<name>.yaml``), so the validation
    measures what a sweep measures; ``parity_tol`` concerns conversion only."""
    import yaml  # PyYAML: in the project's environment and on the stock GPU image

    config = yaml.safe_load((REPO / "conf" / "model" / f"{name}.yaml").read_text())
    config.pop("parity_tol", None)
    return config


MODELS = {name: study_model(name) for name in ("resnet50", "mobilenet_v2", "bert_base")}
TINY_MODELS = {  # --tiny: CPU smoke runs
    "mobilenet_v2": {"name": "mobilenet_v2", "kind": "image", "image_size": 32},
    "bert_base": {
        "name": "bert_base",
        "kind": "text",
        "seq_len": 16,
        "vocab_size": 100,
        "hidden_size": 32,
        "num_layers": 2,
        "num_heads": 2,
        "intermediate_size": 64,
    },
}
AGREEMENT = 0.02  # counter vs polled, per window
POLL_S = 0.05


def measure_settings(quick: bool, tiny: bool) -> MeasureSettings:
    if tiny:
        windows, window_s, warmup_s = 2, 0.3, 0.2
    elif quick:
        windows, window_s, warmup_s = 2, 5.0, 2.0
    else:
        windows, window_s, warmup_s = 3, 5.0, 5.0
    return MeasureSettings(
        name="gpu_validation",
        warmup_min_iterations=20 if not tiny else 2,
        warmup_min_s=warmup_s,
        windows=windows,
        window_min_iterations=30 if not tiny else 3,
        window_min_s=window_s,
        sample_interval_s=POLL_S,
        timeout_s=600.0,
        cooldown_max_s=0.0,
    )


def run_module(module: str, spec: Document, workdir: Path, result_type: type[Outcome], timeout_s: float) -> Outcome:
    """The product's own process boundary (fresh process, pinned malloc, timeout kills the tree)."""
    return launch.run_module(sys.executable, module, spec, workdir, timeout_s + 120, result_type, lambda line: None)


def cross_check(result: WorkerResult) -> list[dict]:
    """Per window: NVML counter energy vs the integral of power polled every 50 ms by the sampler."""
    gpu = result.energy.get("gpu")
    if gpu is None or gpu.method != "counter":
        return []
    trace = Trace(read_trace(Path(result.traces.utilisation)))
    polled = NvmlPolledMeter(0, "cross-check")  # the product's own integration of the sampler's power trace
    rows = []
    for window, counter_j in zip(result.windows, gpu.window_energy_j):
        polls = len(trace.between("gpu_power_w", window.start_s, window.end_s)[0])
        try:
            polled_j = polled.energy_j(window.start_s, window.end_s, trace) if counter_j is not None else None
        except MeterError:  # too few polls in the window to integrate
            polled_j = None
        ratio = polled_j / counter_j if polled_j is not None else None
        rows.append({"counter_j": counter_j, "polled_j": polled_j, "ratio": ratio, "polls": polls})
    return rows


def summarise(result: WorkerResult, idle: IdleResult | None, checks: list[dict]) -> dict:
    gpu = result.energy.get("gpu")
    row = {
        "latency_p50_ms": result.latency.p50_ms,
        "throughput_samples_per_s": result.throughput_samples_per_s,
        "gpu_method": gpu.method if gpu else None,
        "gpu_j_per_sample_gross": gpu.per_sample_j if gpu else None,
        "gpu_util_percent": result.utilisation.get("gpu_util_percent"),
        "contention": result.to_dict()["contention"],
        "temperatures": result.temperatures,
        "cooldown": result.to_dict()["cooldown"],
        "energy": {domain: {"method": e.method, "detail": e.detail} for domain, e in result.energy.items()},
        "checks": checks,
    }
    idle_gpu = idle.domains.get("gpu") if idle is not None and idle.ok else None
    if gpu and gpu.per_sample_j is not None and idle_gpu and idle_gpu.method == gpu.method and idle_gpu.power_w:
        net_j = gpu.energy_j - idle_gpu.power_w * gpu.duration_s
        row["gpu_j_per_sample_net"] = net_j / gpu.samples
    ratios = [c["ratio"] for c in checks if c["ratio"] is not None]
    row["agreement"] = (
        "no counter to check"
        if not checks
        else "PASS"
        if ratios and all(abs(r - 1) <= AGREEMENT for r in ratios)
        else "FAIL"
    )
    return row


def fmt(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def markdown(report: dict) -> str:
    lines = [
        f"Card: {report['gpu'].get('gpu_name', 'no GPU')} · driver {report['gpu'].get('gpu_driver', '—')} · "
        f"power limit {report['gpu'].get('gpu_power_limit_w', '—')} W · torch {report['torch']} · {report['date']}",
        f"Idle: {report['idle_summary']}",
        "",
        "| model | batch | mode | p50 ms | samples/s | GPU J/sample gross | net | GPU util % | counter vs 50 ms polling | contention |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for job in report["jobs"]:
        if job.get("status") != "ok":
            lines.append(
                f"| {job['model']} | {job['batch_size']} | {job['mode']} | failed: {job['error'][:80]} |||||||"
            )
            continue
        ratios = ", ".join(fmt(c["ratio"], ".4f") for c in job["checks"]) or "—"
        contention = job["contention"] or {}
        busy = contention.get("windows_with_other_processes") if contention.get("checked") else "not checked"
        lines.append(
            f"| {job['model']} | {job['batch_size']} | {job['mode']} | {fmt(job['latency_p50_ms'], '.3f')} | "
            f"{fmt(job['throughput_samples_per_s'], '.1f')} | {fmt(job['gpu_j_per_sample_gross'], '.5f')} | "
            f"{fmt(job.get('gpu_j_per_sample_net'), '.5f')} | {fmt(job['gpu_util_percent'], '.0f')} | "
            f"{job['agreement']} ({ratios}) | {busy} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--quick", action="store_true", help="2 windows and a 20 s idle: about half the time")
    parser.add_argument("--tiny", action="store_true", help="tiny models and windows: a CPU smoke test only")
    parser.add_argument("--provider", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--device", type=int, default=0)
    parser.add_argument("--models", default="resnet50,mobilenet_v2,bert_base")
    parser.add_argument("--batch-sizes", default="1,64")
    parser.add_argument("--modes", default="eager,cuda_graph")
    parser.add_argument("--idle-s", type=float, default=None, help="idle baseline length (default 60, quick 20)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    import torch

    from green_mlflow.meters.nvml import gpu_facts

    models = TINY_MODELS if args.tiny else MODELS
    modes = [m for m in args.modes.split(",") if args.provider == "cuda" or m != "cuda_graph"]
    idle_s = args.idle_s if args.idle_s is not None else (1.0 if args.tiny else 20.0 if args.quick else 60.0)
    began = time.monotonic()
    print(f"idle baseline: {idle_s:g} s", flush=True)
    idle_spec = IdleSpec(
        duration_s=idle_s, device_id=args.device, sample_interval_s=POLL_S, output_dir=str(args.out / "idle")
    )
    idle = run_module("green_mlflow.worker.idle", idle_spec, args.out / "idle", IdleResult, idle_s)
    jobs = []
    for model in args.models.split(","):
        for batch_size in map(int, args.batch_sizes.split(",")):
            for mode in modes:
                label = f"{model} bs={batch_size} {mode}"
                print(f"{label} …", flush=True)
                workdir = args.out / label.replace(" ", "_").replace("=", "")
                spec = JobSpec(
                    runtime="torch",
                    provider=args.provider,
                    device_id=args.device,
                    mode=mode,
                    batch_size=batch_size,
                    seed=0,
                    model=models[model],
                    measure=measure_settings(args.quick, args.tiny),
                    output_dir=str(workdir / "out"),
                )
                result = run_module("green_mlflow.worker", spec, workdir, WorkerResult, spec.measure.timeout_s)
                job = {"model": model, "batch_size": batch_size, "mode": mode, "status": result.status}
                if result.ok:
                    job.update(summarise(result, idle, cross_check(result)))
                else:
                    job["error"] = (result.error or "") + " " + (result.stderr_tail or "")[-500:]
                print(f"  {json.dumps({k: v for k, v in job.items() if k != 'checks'}, default=str)[:400]}", flush=True)
                jobs.append(job)
    idle_summary = (
        ", ".join(f"{d} {e.power_w:.2f} W ({e.method})" for d, e in idle.domains.items() if e.power_w is not None)
        if idle.ok
        else f"failed: {idle.error}"
    ) or "no domain readable"
    report = {
        "gpu": gpu_facts(args.device) if args.provider == "cuda" else {},
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "idle": idle.to_dict(),
        "idle_summary": idle_summary,
        "jobs": jobs,
        "wall_s": time.monotonic() - began,
    }
    (args.out / "gpu_validation.json").write_text(json.dumps(report, indent=2, default=str))
    (args.out / "gpu_validation.md").write_text(markdown(report))
    print(markdown(report))
    print(f"done in {report['wall_s']:.0f} s; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
