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
   ``latency_ms.csv`` it writes. Like the tool, the bare arm builds its model (or ONNX Runtime
   session) afresh every round, freeing the old one first (``--reuse-bare`` keeps one), so that
   both arms have a similar heap history. Target: p50(tool) / p50(bare) <= 1.02.

2. **sampler on vs off.** One session from ``load_session``, ``run_protocol`` with no meters, with
   a ``SamplerProcess`` running beside it or not. Target: p50(on) / p50(off) <= 1.01.

Minor page faults per iteration are counted for every arm. With glibc's default malloc, torch CPU
inference can give its activation memory back to the kernel and fault it in again on every
iteration (thousands of faults, 20-40 % of mobilenet_v2's latency), or not, depending on the
process's history; when the two arms of a comparison differ in this, the script warns that the
ratio measures the allocator, not the tool. ``--malloc fixed`` reruns the script with glibc's
thresholds pinned so that neither arm pays it.

The **ratio** judged against a target is the median over rounds of p50(arm) / p50(reference) within
the round (paired, so slow drifts of the host's load cancel); a bootstrap 95 % interval over rounds
says whether the host was quiet enough to resolve the target ("resolved") or not ("within noise").
The pooled p50s (median of all per-iteration latencies of an arm over all rounds) and their ratio are
reported too.
Results are merged into ``benchmarks/results/latency_overhead.json`` under the key
``<runtime>/<model>/bs<batch>[/threads<N>][/malloc-fixed]``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import resource
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
MIN_ROUNDS_TO_RESOLVE = 6  # a bootstrap over fewer rounds says nothing
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
            raise SystemExit(f"no model config for {name!r} (looked for {path})") from None
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
    def __init__(self, model_cfg: dict, batch_size: int, seed: int, reuse: bool = True):
        self.cfg, self.batch_size, self.seed, self.reuse = model_cfg, batch_size, seed, reuse
        self._build()

    def _build(self) -> None:
        model_cfg, batch_size, seed = self.cfg, self.batch_size, self.seed
        import torch

        # free the previous model first, as the tool's previous session is gone before it loads the next:
        # the heap the new model and its activations land in must have the same history in both arms
        self.model = self.args = self.kwargs = None

        from green_mlflow.models.torch_models import build_model

        self.torch = torch
        self.model = build_model(model_cfg, seed)
        arrays = make_inputs(model_cfg, batch_size, seed)
        tensors = {k: torch.from_numpy(v) for k, v in arrays.items()}
        self.args = tuple(tensors.values()) if model_cfg["kind"] == "image" else ()
        self.kwargs = {} if self.args else tensors

    def measure(self, measure: dict) -> tuple[list[int], int]:
        """Latencies of the windows, and all iterations run (warm-up included)."""
        if not self.reuse:
            self._build()  # outside the timed loops, as measure_job's load_session is
        model, args, kwargs = self.model, self.args, self.kwargs
        out: list[int] = []
        with self.torch.inference_mode():
            n = len(
                _stopping_loop(
                    lambda: model(*args, **kwargs), measure["warmup_min_iterations"], measure["warmup_min_s"]
                )
            )
            for _ in range(measure["windows"]):
                out += _stopping_loop(
                    lambda: model(*args, **kwargs), measure["window_min_iterations"], measure["window_min_s"]
                )
        return out, n + len(out)


class BareOnnx:
    def __init__(self, onnx_path: str, model_cfg: dict, batch_size: int, seed: int, reuse: bool = True):
        self.path, self.cfg, self.batch_size, self.seed, self.reuse = onnx_path, model_cfg, batch_size, seed, reuse
        self._build()

    def _build(self) -> None:
        import onnxruntime as ort

        onnx_path, model_cfg, batch_size, seed = self.path, self.cfg, self.batch_size, self.seed
        self.session = self.feeds = None  # the previous session goes first, as in the tool
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL  # mode ort_all
        self.session = ort.InferenceSession(onnx_path, sess_options=options, providers=["CPUExecutionProvider"])
        wanted = {i.name for i in self.session.get_inputs()}
        self.feeds = {k: v for k, v in make_inputs(model_cfg, batch_size, seed).items() if k in wanted}

    def measure(self, measure: dict) -> tuple[list[int], int]:
        if not self.reuse:
            self._build()
        run, feeds = self.session.run, self.feeds
        n = len(_stopping_loop(lambda: run(None, feeds), measure["warmup_min_iterations"], measure["warmup_min_s"]))
        out: list[int] = []
        for _ in range(measure["windows"]):
            out += _stopping_loop(lambda: run(None, feeds), measure["window_min_iterations"], measure["window_min_s"])
        return out, n + len(out)


def export_onnx(model_cfg: dict, batch_size: int, seed: int, path: Path) -> float:
    from green_mlflow.convert.torch_to_onnx import export
    from green_mlflow.models.torch_models import build_model

    try:
        from green_mlflow.models.inputs import OUTPUT_NAMES
    except ImportError:  # older layout
        from green_mlflow.models.torch_models import OUTPUT_NAMES

    began = time.monotonic()
    module = build_model(model_cfg, seed)
    export(module, make_inputs(model_cfg, batch_size, seed), path, OPSET, OUTPUT_NAMES[model_cfg["kind"]])
    return time.monotonic() - began


# ---------------------------------------------------------------- tool arm


def read_latency_csv(path: Path) -> list[int]:
    with path.open() as fh:
        return [int(round(float(row["latency_ms"]) * 1e6)) for row in csv.DictReader(fh)]


def tool_measure(spec: dict, round_dir: Path) -> tuple[list[int], int, dict]:
    spec = dict(spec, output_dir=str(round_dir))
    result = measure_job(spec, progress=lambda _: None)
    latencies = read_latency_csv(Path(result["traces"]["latency"]))
    iterations = result["warmup"]["iterations"] + sum(w["iterations"] for w in result["windows"])
    facts = {
        "load_s": result["load_s"],
        "sampler_samples": result["sampler"]["samples"],
        "reported_p50_ms": result["latency"]["p50_ms"],
        "cpu_util_process_percent": result["utilisation"].get("cpu_util_process_percent"),
        "cpu_util_system_percent": result["utilisation"].get("cpu_util_system_percent"),
        "intra_op_threads": result["info"].get("intra_op_threads"),
    }
    return latencies, iterations, facts


# Page faults per iteration that tell two arms apart: glibc's malloc either reuses freed activation memory
# (~0 faults per iteration) or gives it back and faults it in again every iteration (mobilenet_v2 bs1:
# ~2,600-3,500, ~10-14 MB), depending on the process's heap history; that costs ~20-40 % of latency here.
FAULT_REGIME_GAP = 100


def regime_mismatch(a: list[float], b: list[float]) -> bool:
    return abs(statistics.median(a) - statistics.median(b)) > FAULT_REGIME_GAP


def minor_faults() -> int:
    """Minor page faults of this process so far (all its threads; not the sampler, a child process)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


# ---------------------------------------------------------------- statistics


def p50_ms(latencies_ns: list[int]) -> float:
    return float(np.median(np.asarray(latencies_ns, dtype=np.float64))) / 1e6


def pct_ms(latencies_ns: list[int], q: float) -> float:
    return float(np.percentile(np.asarray(latencies_ns, dtype=np.float64), q)) / 1e6


def bootstrap_median_ci(values: list[float], n: int = 4000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the median of ``values`` (resampling rounds)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2:
        return float(v[0]), float(v[0])
    idx = np.random.default_rng(seed).integers(0, v.size, (n, v.size))
    meds = np.median(v[idx], axis=1)
    lo, hi = np.percentile(meds, [2.5, 97.5])
    return float(lo), float(hi)


def compare(name_a: str, rounds_a: list[list[int]], name_b: str, rounds_b: list[list[int]], target: float) -> dict:
    """b/a: the median of per-round p50 ratios (paired by round, the judged number) and the pooled p50s."""
    pooled_a = [x for r in rounds_a for x in r]
    pooled_b = [x for r in rounds_b for x in r]
    per_round = [p50_ms(b) / p50_ms(a) for a, b in zip(rounds_a, rounds_b)]
    a_p50s = [p50_ms(r) for r in rounds_a]
    ratio = statistics.median(per_round)
    ci = bootstrap_median_ci(per_round)
    return {
        "ratio": ratio,
        "ratio_ci95": list(ci),
        "target": target,
        "passed": ratio <= target,
        # the interval lies wholly on one side of the target: this host was quiet enough to decide
        "resolved": len(per_round) >= MIN_ROUNDS_TO_RESOLVE and (ci[1] <= target or ci[0] > target),
        f"{name_a}_p50_ms": p50_ms(pooled_a),
        f"{name_b}_p50_ms": p50_ms(pooled_b),
        f"{name_a}_p10_ms": pct_ms(pooled_a, 10),
        f"{name_b}_p10_ms": pct_ms(pooled_b, 10),
        f"{name_a}_p90_ms": pct_ms(pooled_a, 90),
        f"{name_b}_p90_ms": pct_ms(pooled_b, 90),
        f"{name_a}_iterations": len(pooled_a),
        f"{name_b}_iterations": len(pooled_b),
        "ratio_pooled_p50": p50_ms(pooled_b) / p50_ms(pooled_a),
        "ratio_pooled_p10": pct_ms(pooled_b, 10) / pct_ms(pooled_a, 10),
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
    p.add_argument("--rounds", type=int, default=14, help="interleaved rounds per comparison (default 14)")
    p.add_argument("--warmup-iterations", type=int, default=10)
    p.add_argument("--warmup-s", type=float, default=0.5)
    p.add_argument("--windows", type=int, default=2)
    p.add_argument("--window-iterations", type=int, default=10)
    p.add_argument("--window-s", type=float, default=0.75)
    p.add_argument("--sample-interval-s", type=float, default=0.1)
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads for this whole process (torch runtime only; diagnosis, both arms alike)",
    )
    p.add_argument(
        "--malloc",
        choices=("default", "fixed"),
        default="default",
        help="fixed: rerun this script with glibc's mmap/trim thresholds pinned (MALLOC_MMAP_THRESHOLD_, "
        "MALLOC_TRIM_THRESHOLD_), so that no arm pays per-iteration page faults (diagnosis)",
    )
    p.add_argument(
        "--reuse-bare", action="store_true", help="one bare model for all rounds (default: fresh each round)"
    )
    p.add_argument("--skip-tool", action="store_true", help="only the sampler on/off comparison")
    p.add_argument("--skip-sampler", action="store_true", help="only the tool vs bare comparison")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


FIXED_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(4 * 2**30)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.malloc == "fixed" and any(os.environ.get(k) != v for k, v in FIXED_MALLOC_ENV.items()):
        # glibc reads these once, at start-up: the process has to begin with them
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **FIXED_MALLOC_ENV})
    say = (lambda *_: None) if args.quiet else (lambda msg: print(f"[bench] {msg}", file=sys.stderr, flush=True))
    began = time.monotonic()
    load_before = os.getloadavg()
    model_cfg = model_config(args.model)

    if args.threads is not None:
        if args.runtime != "torch":
            raise SystemExit(
                "--threads applies to --runtime torch only (the ONNX session's threads come from the package)"
            )
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
            bare = BareOnnx(str(onnx_path), model_cfg, args.batch_size, args.seed, reuse=args.reuse_bare)
        else:
            bare = BareTorch(model_cfg, args.batch_size, args.seed, reuse=args.reuse_bare)

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
            "settings": {
                "rounds": args.rounds,
                "threads": args.threads,
                "reuse_bare": args.reuse_bare,
                "malloc": args.malloc,
                "malloc_env": {k: os.environ[k] for k in sorted(os.environ) if k.startswith("MALLOC_")},
                "measure": measure,
                "export_s": export_s,
            },
        }

        # ---- 1. tool vs bare
        if not args.skip_tool:
            bare_rounds, tool_rounds, tool_facts = [], [], []
            faults = {"bare": [], "tool": []}
            for r in range(args.rounds):
                order = ("bare", "tool") if r % 2 == 0 else ("tool", "bare")
                for arm in order:
                    f0 = minor_faults()
                    if arm == "bare":
                        lat, n = bare.measure(measure)
                        bare_rounds.append(lat)
                    else:
                        lat, n, facts = tool_measure(spec, tmp / f"tool_round{r}")
                        tool_rounds.append(lat)
                        tool_facts.append(facts)
                    faults[arm].append((minor_faults() - f0) / n)
                say(
                    f"tool vs bare round {r + 1}/{args.rounds}: bare p50 {p50_ms(bare_rounds[-1]):.2f} ms, "
                    f"tool p50 {p50_ms(tool_rounds[-1]):.2f} ms"
                )
            cmp_tool = compare("bare", bare_rounds, "tool", tool_rounds, TOOL_TARGET)
            cmp_tool["minor_faults_per_iteration"] = faults
            cmp_tool["fault_regime_mismatch"] = regime_mismatch(faults["bare"], faults["tool"])
            cmp_tool["tool_rounds"] = tool_facts
            report["tool_vs_bare"] = cmp_tool

        # ---- 2. sampler on vs off (one warm session, run_protocol without meters)
        if not args.skip_sampler:
            session = load_session(spec)
            run_protocol(session, [], dict(measure, windows=1))  # first-touch warm-up, discarded
            off_rounds, on_rounds, sampler_cpu = [], [], []
            faults = {"off": [], "on": []}
            for r in range(args.rounds):
                order = ("off", "on") if r % 2 == 0 else ("on", "off")
                for arm in order:
                    f0 = minor_faults()
                    if arm == "off":
                        warm, windows = run_protocol(session, [], measure)
                        off_rounds.append([ns for w in windows for ns in w.latencies_ns])
                        faults["off"].append(
                            (minor_faults() - f0) / (warm.iterations + sum(w.iterations for w in windows))
                        )
                        continue
                    sampler = SamplerProcess(args.sample_interval_s, tmp / f"sampler_round{r}.csv", None)
                    child = psutil.Process(sampler.proc.pid)
                    cpu0, t0 = sum(child.cpu_times()[:2]), time.monotonic()
                    try:
                        warm, windows = run_protocol(session, [], measure)
                        cpu1, t1 = sum(child.cpu_times()[:2]), time.monotonic()
                    finally:
                        sampler.stop()
                    on_rounds.append([ns for w in windows for ns in w.latencies_ns])
                    faults["on"].append((minor_faults() - f0) / (warm.iterations + sum(w.iterations for w in windows)))
                    sampler_cpu.append(100.0 * (cpu1 - cpu0) / (t1 - t0))
                say(
                    f"sampler round {r + 1}/{args.rounds}: off p50 {p50_ms(off_rounds[-1]):.2f} ms, "
                    f"on p50 {p50_ms(on_rounds[-1]):.2f} ms"
                )
            del session
            cmp_sampler = compare("off", off_rounds, "on", on_rounds, SAMPLER_TARGET)
            cmp_sampler["minor_faults_per_iteration"] = faults
            cmp_sampler["fault_regime_mismatch"] = regime_mismatch(faults["off"], faults["on"])
            cmp_sampler["sampler_cpu_percent_of_one_core"] = statistics.mean(sampler_cpu)
            report["sampler_on_vs_off"] = cmp_sampler

    report["host"]["loadavg_before"] = load_before
    report["host"]["loadavg_after"] = os.getloadavg()
    report["wall_s"] = time.monotonic() - began

    key = f"{args.runtime}/{args.model}/bs{args.batch_size}"
    key += (f"/threads{args.threads}" if args.threads else "") + ("/malloc-fixed" if args.malloc == "fixed" else "")
    print_table(key, report)
    write_json(args.out, key, report)
    print(f"\nwrote {args.out} [{key}] in {report['wall_s']:.0f} s")
    return 0


def print_table(key: str, report: dict) -> None:
    host = report["host"]
    print(
        f"\nlatency overhead — {key} (load avg before/after: "
        f"{host['loadavg_before'][0]:.2f}/{host['loadavg_after'][0]:.2f}; torch threads {host['torch_threads']})"
    )
    print(
        f"{'comparison':<18}{'ref p50 ms':>11}{'arm p50 ms':>11}{'pooled':>8}{'ratio':>8}  {'95% CI':<16}"
        f"{'target':<8}verdict"
    )
    rows = []
    if "tool_vs_bare" in report:
        c = report["tool_vs_bare"]
        rows.append(("tool / bare", c["bare_p50_ms"], c["tool_p50_ms"], c))
    if "sampler_on_vs_off" in report:
        c = report["sampler_on_vs_off"]
        rows.append(("sampler on / off", c["off_p50_ms"], c["on_p50_ms"], c))
    for name, ref, arm, c in rows:
        ci = f"[{c['ratio_ci95'][0]:.3f}, {c['ratio_ci95'][1]:.3f}]"
        verdict = ("PASS" if c["passed"] else "FAIL") + (" (resolved)" if c["resolved"] else " (within noise)")
        print(
            f"{name:<18}{ref:>11.2f}{arm:>11.2f}{c['ratio_pooled_p50']:>8.3f}{c['ratio']:>8.3f}  {ci:<16}"
            f"{'≤ ' + format(c['target'], '.2f'):<8}{verdict}"
        )
    print("  ratio = median over rounds of the per-round p50 ratio (paired); pooled = ratio of pooled p50s")
    if "tool_vs_bare" in report:
        c = report["tool_vs_bare"]
        print(
            f"  tool/bare: per-round ratios [{c['ratio_per_round_min']:.3f} .. {c['ratio_per_round_max']:.3f}], "
            f"pooled p10 ratio {c['ratio_pooled_p10']:.3f}, bare round-p50 CV {100 * c['bare_round_p50_cv']:.1f}%"
        )
        print(
            f"  minor page faults per iteration, median over rounds: bare {_med(c, 'bare'):.0f}, tool {_med(c, 'tool'):.0f}"
        )
        if c["fault_regime_mismatch"]:
            print(_MISMATCH)
    if "sampler_on_vs_off" in report:
        c = report["sampler_on_vs_off"]
        print(
            f"  sampler on/off: per-round ratios [{c['ratio_per_round_min']:.3f} .. {c['ratio_per_round_max']:.3f}], "
            f"pooled p10 ratio {c['ratio_pooled_p10']:.3f}, off round-p50 CV {100 * c['off_round_p50_cv']:.1f}%, "
            f"sampler process CPU {c['sampler_cpu_percent_of_one_core']:.2f}% of one core"
        )
        print(
            f"  minor page faults per iteration, median over rounds: off {_med(c, 'off'):.0f}, on {_med(c, 'on'):.0f}"
        )
        if c["fault_regime_mismatch"]:
            print(_MISMATCH)


_MISMATCH = (
    "  WARNING: the arms ran in different malloc regimes (page faults per iteration differ), so this ratio\n"
    "  measures glibc's page-fault churn, not the tool; rerun with --malloc fixed to compare like with like"
)


def _med(c: dict, arm: str) -> float:
    return statistics.median(c["minor_faults_per_iteration"][arm])


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
    for name in (
        ("torch", "torchvision", "onnxruntime", "numpy") if runtime == "onnx" else ("torch", "torchvision", "numpy")
    ):
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
