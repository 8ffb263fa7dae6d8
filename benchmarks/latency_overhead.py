"""How much latency does the measurement tool itself add?  A report, not a test (exit code is always 0).

Run in a runtime environment that has torch (and onnxruntime for ``--runtime onnx``), from the repo root::

    PYTHONPATH=. .envs/torch/bin/python benchmarks/latency_overhead.py [--runtime torch|onnx]
        [--model mobilenet_v2] [--rounds N]

Two comparisons, each interleaved in rounds (the order inside a round alternates, A-B then B-A) so
that the background load of a noisy host falls on both arms alike:

1. **tool vs bare loop.** (a) a bare ``for`` loop over the same model and inputs
   (``build_model`` + ``make_inputs``; ``torch.inference_mode`` around the loop, or
   ``InferenceSession.run`` for ONNX), ``time.perf_counter_ns`` around each call, with the same
   warm-up/window stopping rule as the protocol; (b) ``green_mlflow.worker.__main__.measure_job``
   called in this process, exactly as the worker runs it (fresh session, its own sampler
   subprocess, meters discovered). The tool's per-iteration latencies are read back from the
   ``latency_ms.csv`` it writes. Target: p50(tool) / p50(bare) <= 1.02.
2. **sampler on vs off.** One session from ``load_session``, ``run_protocol`` with no meters, with
   a ``SamplerProcess`` running beside it or not. Target: p50(on) / p50(off) <= 1.01.

"p50" is the median of all per-iteration latencies of an arm, pooled over rounds; the median of the
per-round ratios and their range are reported too, as a sense of the noise.
Results are merged into ``benchmarks/results/latency_overhead.json`` under the key
``<runtime>/<model>/bs<batch>``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # runnable without PYTHONPATH too
    sys.path.insert(0, str(REPO))

from green_mlflow.models.inputs import make_inputs  # noqa: E402
from green_mlflow.runtimes import load_session  # noqa: E402
from green_mlflow.worker.__main__ import measure_job  # noqa: E402
from green_mlflow.worker.protocol import run_protocol  # noqa: E402
from green_mlflow.worker.sampler import SamplerProcess  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "latency_overhead.json"
TOOL_TARGET = 1.02
SAMPLER_TARGET = 1.01
OPSET = 17  # green_mlflow.config.schema default

# used when conf/model/<name>.yaml cannot be read (no PyYAML in the environment)
FALLBACK_MODELS = {
    "mobilenet_v2": {"name": "mobilenet_v2", "kind": "image", "image_size": 224, "parity_tol": 1e-4},
    "resnet50": {"name": "resnet50", "kind": "image", "image_size": 224, "parity_tol": 1e-4},
}


def model_config(name: str) -> dict:
    path = REPO / "conf" / "model" / f"{name}.yaml"
    try:
        import yaml

        return dict(yaml.safe_load(path.read_text()))
    except Exception:  # no PyYAML, or no such file
        if name not in FALLBACK_MODELS:
            raise SystemExit(f"no model config for {name!r} (looked for {path})")
        return dict(FALLBACK_MODELS[name])


# ---------------------------------------------------------------- bare loops


def _stopping_loop(call, min_iterations: int, min_s: float) -> list[int]:
    """The protocol's stopping rule (≥ iterations and ≥ seconds), nothing else; returns latencies (ns)."""
    clock = time.perf_counter_ns
    min_ns = int(min_s * 1e9)
    latencies: list[int] = []
    began = clock()
    while len(latencies) < min_iterations or clock() - began < min_ns:
        t0 = clock()
        call()
        latencies.append(clock() - t0)
    return latencies


class BareTorch:
    def __init__(self, model_cfg: dict, batch_size: int, seed: int):
        import torch

        from green_mlflow.models.torch_models import build_model

        self.torch = torch
        self.model = build_model(model_cfg, seed)
        arrays = make_inputs(model_cfg, batch_size, seed)
        tensors = {k: torch.from_numpy(v) for k, v in arrays.items()}
        self.args = tuple(tensors.values()) if model_cfg["kind"] == "image" else ()
        self.kwargs = {} if self.args else tensors

    def measure(self, measure: dict) -> list[int]:
        model, args, kwargs = self.model, self.args, self.kwargs
        out: list[int] = []
        with self.torch.inference_mode():
            _stopping_loop(lambda: model(*args, **kwargs), measure["warmup_min_iterations"], measure["warmup_min_s"])
            for _ in range(measure["windows"]):
                out += _stopping_loop(
                    lambda: model(*args, **kwargs), measure["window_min_iterations"], measure["window_min_s"]
                )
        return out


class BareOnnx:
    def __init__(self, onnx_path: str, model_cfg: dict, batch_size: int, seed: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL  # mode ort_all
        self.session = ort.InferenceSession(onnx_path, sess_options=options, providers=["CPUExecutionProvider"])
        wanted = {i.name for i in self.session.get_inputs()}
        self.feeds = {k: v for k, v in make_inputs(model_cfg, batch_size, seed).items() if k in wanted}

    def measure(self, measure: dict) -> list[int]:
        run, feeds = self.session.run, self.feeds
        _stopping_loop(lambda: run(None, feeds), measure["warmup_min_iterations"], measure["warmup_min_s"])
        out: list[int] = []
        for _ in range(measure["windows"]):
            out += _stopping_loop(lambda: run(None, feeds), measure["window_min_iterations"], measure["window_min_s"])
        return out


def export_onnx(model_cfg: dict, batch_size: int, seed: int, path: Path) -> float:
    from green_mlflow.convert.torch_to_onnx import export
    from green_mlflow.models.torch_models import OUTPUT_NAMES, build_model

    began = time.monotonic()
    module = build_model(model_cfg, seed)
    export(module, make_inputs(model_cfg, batch_size, seed), path, OPSET, OUTPUT_NAMES[model_cfg["kind"]])
    return time.monotonic() - began


# ---------------------------------------------------------------- tool arm


def read_latency_csv(path: Path) -> list[int]:
    with path.open() as fh:
        return [int(round(float(row["latency_ms"]) * 1e6)) for row in csv.DictReader(fh)]


def tool_measure(spec: dict, round_dir: Path) -> tuple[list[int], dict]:
    spec = dict(spec, output_dir=str(round_dir))
    result = measure_job(spec, progress=lambda _: None)
    latencies = read_latency_csv(Path(result["traces"]["latency"]))
    facts = {
        "load_s": result["load_s"],
        "sampler_samples": result["sampler"]["samples"],
        "reported_p50_ms": result["latency"]["p50_ms"],
        "cpu_util_process_percent": result["utilisation"].get("cpu_util_process_percent"),
        "cpu_util_system_percent": result["utilisation"].get("cpu_util_system_percent"),
        "intra_op_threads": result["info"].get("intra_op_threads"),
    }
    return latencies, facts


# ---------------------------------------------------------------- statistics


def p50_ms(latencies_ns: list[int]) -> float:
    return float(np.median(np.asarray(latencies_ns, dtype=np.float64))) / 1e6


def pct_ms(latencies_ns: list[int], q: float) -> float:
    return float(np.percentile(np.asarray(latencies_ns, dtype=np.float64), q)) / 1e6


def compare(name_a: str, rounds_a: list[list[int]], name_b: str, rounds_b: list[list[int]]) -> dict:
    """Ratio b/a of pooled p50s, plus per-round ratios (paired by round) as a noise indication."""
    pooled_a = [x for r in rounds_a for x in r]
    pooled_b = [x for r in rounds_b for x in r]
    per_round = [p50_ms(b) / p50_ms(a) for a, b in zip(rounds_a, rounds_b)]
    a_p50s = [p50_ms(r) for r in rounds_a]
    return {
        f"{name_a}_p50_ms": p50_ms(pooled_a),
        f"{name_b}_p50_ms": p50_ms(pooled_b),
        f"{name_a}_p10_ms": pct_ms(pooled_a, 10),
        f"{name_b}_p10_ms": pct_ms(pooled_b, 10),
        f"{name_a}_p90_ms": pct_ms(pooled_a, 90),
        f"{name_b}_p90_ms": pct_ms(pooled_b, 90),
        f"{name_a}_iterations": len(pooled_a),
        f"{name_b}_iterations": len(pooled_b),
        "ratio": p50_ms(pooled_b) / p50_ms(pooled_a),
        "ratio_p10": pct_ms(pooled_b, 10) / pct_ms(pooled_a, 10),
        "ratio_per_round_median": statistics.median(per_round),
        "ratio_per_round_min": min(per_round),
        "ratio_per_round_max": max(per_round),
        "ratio_per_round": per_round,
        f"{name_a}_round_p50_ms": a_p50s,
        f"{name_b}_round_p50_ms": [p50_ms(r) for r in rounds_b],
        # spread of the reference arm's own round medians: the noise floor of one round
        f"{name_a}_round_p50_cv": statistics.pstdev(a_p50s) / statistics.mean(a_p50s) if len(a_p50s) > 1 else 0.0,
    }


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runtime", choices=("torch", "onnx"), default="torch")
    p.add_argument("--model", default="mobilenet_v2")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rounds", type=int, default=6, help="interleaved rounds per comparison (default 6)")
    p.add_argument("--warmup-iterations", type=int, default=10)
    p.add_argument("--warmup-s", type=float, default=1.0)
    p.add_argument("--windows", type=int, default=3)
    p.add_argument("--window-iterations", type=int, default=20)
    p.add_argument("--window-s", type=float, default=1.0)
    p.add_argument("--sample-interval-s", type=float, default=0.1)
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads for this whole process (torch runtime only; diagnosis, both arms alike)",
    )
    p.add_argument("--skip-tool", action="store_true", help="only the sampler on/off comparison")
    p.add_argument("--skip-sampler", action="store_true", help="only the tool vs bare comparison")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    say = (lambda *_: None) if args.quiet else (lambda msg: print(f"[bench] {msg}", file=sys.stderr, flush=True))
    began = time.monotonic()
    load_before = os.getloadavg()
    model_cfg = model_config(args.model)

    if args.threads is not None:
        if args.runtime != "torch":
            raise SystemExit("--threads applies to --runtime torch only (the ONNX session's threads come from the package)")
        import torch

        torch.set_num_threads(args.threads)

    measure = {
        "warmup_min_iterations": args.warmup_iterations,
        "warmup_min_s": args.warmup_s,
        "windows": args.windows,
        "window_min_iterations": args.window_iterations,
        "window_min_s": args.window_s,
        "window_rest_s": 0.0,
        "sample_interval_s": args.sample_interval_s,
        "cpu_tdp_w": None,
        "timeout_s": 600.0,
    }
    spec = {
        "runtime": args.runtime,
        "provider": "cpu",
        "mode": "eager" if args.runtime == "torch" else "ort_all",
        "batch_size": args.batch_size,
        "seed": args.seed,
        "device_id": 0,
        "model": model_cfg,
        "measure": measure,
    }

    with tempfile.TemporaryDirectory(prefix="green_bench_") as tmp_name:
        tmp = Path(tmp_name)
        export_s = None
        if args.runtime == "onnx":
            onnx_path = tmp / "model.onnx"
            say(f"exporting {args.model} to ONNX (opset {OPSET})")
            export_s = export_onnx(model_cfg, args.batch_size, args.seed, onnx_path)
            spec["onnx_path"] = str(onnx_path)
            bare = BareOnnx(str(onnx_path), model_cfg, args.batch_size, args.seed)
        else:
            bare = BareTorch(model_cfg, args.batch_size, args.seed)

        report: dict = {
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "host": {
                "cpu": platform.processor() or platform.machine(),
                "cpu_model": _cpu_model(),
                "logical_cores": os.cpu_count(),
                "python": sys.version.split()[0],
                "versions": _versions(args.runtime),
                "torch_threads": _torch_threads(),
            },
            "settings": {"rounds": args.rounds, "threads": args.threads, "measure": measure, "export_s": export_s},
        }

        # ---- 1. tool vs bare
        if not args.skip_tool:
            bare_rounds, tool_rounds, tool_facts = [], [], []
            for r in range(args.rounds):
                order = ("bare", "tool") if r % 2 == 0 else ("tool", "bare")
                for arm in order:
                    if arm == "bare":
                        bare_rounds.append(bare.measure(measure))
                    else:
                        lat, facts = tool_measure(spec, tmp / f"tool_round{r}")
                        tool_rounds.append(lat)
                        tool_facts.append(facts)
                say(
                    f"tool vs bare round {r + 1}/{args.rounds}: bare p50 {p50_ms(bare_rounds[-1]):.2f} ms, "
                    f"tool p50 {p50_ms(tool_rounds[-1]):.2f} ms"
                )
            cmp_tool = compare("bare", bare_rounds, "tool", tool_rounds)
            cmp_tool["target"] = TOOL_TARGET
            cmp_tool["passed"] = cmp_tool["ratio"] <= TOOL_TARGET
            cmp_tool["tool_rounds"] = tool_facts
            report["tool_vs_bare"] = cmp_tool

        # ---- 2. sampler on vs off (one warm session, run_protocol without meters)
        if not args.skip_sampler:
            session = load_session(spec)
            run_protocol(session, [], dict(measure, windows=1))  # first-touch warm-up, discarded
            off_rounds, on_rounds, sampler_cpu = [], [], []
            for r in range(args.rounds):
                order = ("off", "on") if r % 2 == 0 else ("on", "off")
                for arm in order:
                    if arm == "off":
                        _, windows = run_protocol(session, [], measure)
                        off_rounds.append([ns for w in windows for ns in w.latencies_ns])
                        continue
                    sampler = SamplerProcess(args.sample_interval_s, tmp / f"sampler_round{r}.csv", None)
                    child = psutil.Process(sampler.proc.pid)
                    cpu0, t0 = sum(child.cpu_times()[:2]), time.monotonic()
                    try:
                        _, windows = run_protocol(session, [], measure)
                        cpu1, t1 = sum(child.cpu_times()[:2]), time.monotonic()
                    finally:
                        sampler.stop()
                    on_rounds.append([ns for w in windows for ns in w.latencies_ns])
                    sampler_cpu.append(100.0 * (cpu1 - cpu0) / (t1 - t0))
                say(
                    f"sampler round {r + 1}/{args.rounds}: off p50 {p50_ms(off_rounds[-1]):.2f} ms, "
                    f"on p50 {p50_ms(on_rounds[-1]):.2f} ms"
                )
            del session
            cmp_sampler = compare("off", off_rounds, "on", on_rounds)
            cmp_sampler["target"] = SAMPLER_TARGET
            cmp_sampler["passed"] = cmp_sampler["ratio"] <= SAMPLER_TARGET
            cmp_sampler["sampler_cpu_percent_of_one_core"] = statistics.mean(sampler_cpu)
            report["sampler_on_vs_off"] = cmp_sampler

    report["host"]["loadavg_before"] = load_before
    report["host"]["loadavg_after"] = os.getloadavg()
    report["wall_s"] = time.monotonic() - began

    key = f"{args.runtime}/{args.model}/bs{args.batch_size}" + (f"/threads{args.threads}" if args.threads else "")
    print_table(key, report)
    write_json(args.out, key, report)
    print(f"\nwrote {args.out} [{key}] in {report['wall_s']:.0f} s")
    return 0


def print_table(key: str, report: dict) -> None:
    print(f"\nlatency overhead — {key} (load avg before/after: "
          f"{report['host']['loadavg_before'][0]:.2f}/{report['host']['loadavg_after'][0]:.2f})")
    print(f"{'comparison':<22}{'ref p50 ms':>11}{'arm p50 ms':>11}{'ratio':>8}{'target':>8}  "
          f"{'per-round ratio med [min, max]':<32}verdict")
    rows = []
    if "tool_vs_bare" in report:
        c = report["tool_vs_bare"]
        rows.append(("tool / bare", c["bare_p50_ms"], c["tool_p50_ms"], c))
    if "sampler_on_vs_off" in report:
        c = report["sampler_on_vs_off"]
        rows.append(("sampler on / off", c["off_p50_ms"], c["on_p50_ms"], c))
    for name, ref, arm, c in rows:
        spread = f"{c['ratio_per_round_median']:.3f} [{c['ratio_per_round_min']:.3f}, {c['ratio_per_round_max']:.3f}]"
        verdict = "PASS" if c["passed"] else "FAIL"
        print(f"{name:<22}{ref:>11.2f}{arm:>11.2f}{c['ratio']:>8.3f}{'≤' + format(c['target'], '.2f'):>8}  "
              f"{spread:<32}{verdict}")
    if "tool_vs_bare" in report:
        c = report["tool_vs_bare"]
        print(f"  tool/bare p10 ratio {c['ratio_p10']:.3f}; bare round-p50 CV {100 * c['bare_round_p50_cv']:.1f}%")
    if "sampler_on_vs_off" in report:
        c = report["sampler_on_vs_off"]
        print(f"  sampler on/off p10 ratio {c['ratio_p10']:.3f}; off round-p50 CV {100 * c['off_round_p50_cv']:.1f}%; "
              f"sampler process CPU {c['sampler_cpu_percent_of_one_core']:.1f}% of one core")


def write_json(path: Path, key: str, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {}
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
    data[key] = report
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _versions(runtime: str) -> dict:
    out = {}
    for name in ("torch", "torchvision", "onnxruntime", "numpy") if runtime == "onnx" else ("torch", "torchvision", "numpy"):
        try:
            out[name] = __import__(name).__version__
        except Exception:
            pass
    return out


def _torch_threads() -> int | None:
    try:
        import torch

        return torch.get_num_threads()
    except Exception:
        return None


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except BaseException as err:  # a report, not a test: say what went wrong, exit 0
        import traceback

        traceback.print_exc()
        print(f"latency_overhead: did not complete ({type(err).__name__}: {err})")
        sys.exit(0)
