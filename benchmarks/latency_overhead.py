"""How much latency does the measurement tool itself add?  A report, not a test (exit code is always 0).

Run from the repo root in the runtime's own environment (``benchmarks/run_all.sh`` runs all four)::

    PYTHONPATH=. .envs/torch/bin/python benchmarks/latency_overhead.py --runtime torch
    PYTHONPATH=. .envs/tf/bin/python    benchmarks/latency_overhead.py --runtime tf
    PYTHONPATH=. .envs/mxnet/bin/python benchmarks/latency_overhead.py --runtime mxnet
    PYTHONPATH=. .envs/torch/bin/python benchmarks/latency_overhead.py --export-onnx /tmp/m.onnx
    PYTHONPATH=. .envs/onnx/bin/python  benchmarks/latency_overhead.py --runtime onnx --onnx-path /tmp/m.onnx

(``--runtime onnx`` without ``--onnx-path`` exports in this process instead, which needs torch.)

Two comparisons, each interleaved in rounds (the order inside a round alternates, A-B then B-A) so
that the background load of a noisy host falls on both arms alike:

1. **tool vs bare loop.** (a) the runtime's own loop over the same model and inputs in the same mode
   (``overhead/bare.py``: torch ``model(x)`` under ``inference_mode``; tf a ``tf.function``; mxnet the
   hybridized net and ``mx.nd.waitall()``; onnx ``InferenceSession.run``), ``time.perf_counter_ns``
   around each call, with the protocol's warm-up/window stopping rule; (b)
   ``green_mlflow.worker.__main__.measure_job`` called in this process, exactly as the worker runs it
   (fresh session, its own sampler subprocess, meters discovered), its per-iteration latencies read
   back from the ``latency_ms.csv`` it writes. Like the tool, the bare arm builds its model (or
   session) afresh every round, freeing the old one first (``--reuse-bare`` keeps one).
   Target: p50(tool) / p50(bare) <= 1.02.
2. **sampler on vs off.** One session from ``load_session``, ``run_protocol`` with no meters, with
   a ``SamplerProcess`` running beside it or not. Target: p50(on) / p50(off) <= 1.01.

**malloc.** The product starts every worker with glibc's mmap/trim thresholds pinned
(``green_mlflow.launch.MALLOC_ENV``; a user's own ``MALLOC_*`` settings win), so by default
(``--malloc product``) this script re-executes itself with the same environment. ``--malloc glibc``
re-executes it without those variables (glibc's adaptive thresholds), for diagnosis: torch CPU
inference can then fault its activation memory in again on every iteration, or not, depending on
the process's history, and the script warns when the two arms of a comparison differ in this.

The **ratio** judged against a target is the median over rounds of p50(arm) / p50(reference) within
the round (paired, so slow drifts of the host's load cancel); a bootstrap 95 % interval over rounds
says whether the host was quiet enough to resolve the target ("resolved") or not ("within noise").
Results are merged into ``benchmarks/results/latency_overhead.json`` under the key
``<runtime>/<model>/bs<batch>[/<mode>][/threads<N>][/malloc-glibc]`` (the mode only when not the
runtime's default). ``--summary KEY...`` prints the table of stored results as markdown.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "benchmarks"):  # runnable without PYTHONPATH too
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from green_mlflow.launch import MALLOC_ENV  # noqa: E402  (stdlib only)
from green_mlflow.registry import RUNTIMES  # noqa: E402

MODES = {name: r.modes for name, r in RUNTIMES.items()}
DEFAULT_MODE = {name: r.default_mode for name, r in RUNTIMES.items()}

RESULTS = REPO / "benchmarks" / "results" / "latency_overhead.json"
OPSET = 17  # green_mlflow.config.schema default
# tf builds a Keras model and traces its tf.function in every arm of every round (~3 s each on the VM)
DEFAULT_ROUNDS = {"torch": 16, "tf": 10, "mxnet": 16, "onnx": 18}
ENVIRONMENTS = {"torch": ".envs/torch", "tf": ".envs/tf", "mxnet": ".envs/mxnet", "onnx": ".envs/onnx (or .envs/torch)"}


def model_config(name: str) -> dict:
    """conf/model/<name>.yaml; read as flat ``key: value`` lines where PyYAML is not installed."""
    path = REPO / "conf" / "model" / f"{name}.yaml"
    if not path.exists():
        raise SystemExit(f"no model config for {name!r} (looked for {path})")
    try:
        import yaml
    except ImportError:
        return parse_flat_yaml(path.read_text())
    return dict(yaml.safe_load(path.read_text()))


def parse_flat_yaml(text: str) -> dict:
    out: dict = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        key, _, value = line.partition(":")
        value = value.strip()
        for cast in (int, float):
            try:
                value = cast(value)
                break
            except ValueError:
                pass
        out[key.strip()] = value
    return out


def malloc_environment(choice: str) -> dict[str, str]:
    """The environment this process must have started with for ``choice``."""
    if choice == "product":
        return {**MALLOC_ENV, **os.environ}  # as green_mlflow.launch.worker_env(): a user's settings win
    return {k: v for k, v in os.environ.items() if k not in MALLOC_ENV}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runtime", choices=tuple(MODES), default="torch")
    p.add_argument("--mode", default=None, help=f"default: the tool's default for the runtime ({DEFAULT_MODE})")
    p.add_argument("--model", default="mobilenet_v2")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--rounds",
        type=int,
        default=None,
        help=f"interleaved rounds per comparison (default per runtime, ~3 min in all on a 2-core VM: {DEFAULT_ROUNDS})",
    )
    p.add_argument("--warmup-iterations", type=int, default=10)
    p.add_argument("--warmup-s", type=float, default=0.5)
    p.add_argument("--windows", type=int, default=2)
    p.add_argument("--window-iterations", type=int, default=10)
    p.add_argument("--window-s", type=float, default=0.75)
    p.add_argument("--sample-interval-s", type=float, default=0.1)
    p.add_argument(
        "--threads", type=int, default=None, help="torch only: torch.set_num_threads for this whole process (diagnosis)"
    )
    p.add_argument(
        "--malloc",
        choices=("product", "glibc"),
        default="product",
        help="product (default): glibc's thresholds pinned as the product's workers have them "
        "(green_mlflow.launch.MALLOC_ENV); glibc: without them, glibc's adaptive defaults (diagnosis)",
    )
    p.add_argument("--onnx-path", type=Path, default=None, help="onnx: a pre-exported model (else: export here)")
    p.add_argument("--export-onnx", type=Path, default=None, metavar="FILE", help="only export the model and exit")
    p.add_argument("--reuse-bare", action="store_true", help="one bare model for all rounds (default: fresh each)")
    p.add_argument("--skip-tool", action="store_true", help="only the sampler on/off comparison")
    p.add_argument("--skip-sampler", action="store_true", help="only the tool vs bare comparison")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--summary", nargs="+", metavar="KEY", help="print stored results for these keys and exit")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.summary:
        return args
    args.mode = args.mode or DEFAULT_MODE[args.runtime]
    args.rounds = args.rounds or DEFAULT_ROUNDS[args.runtime]
    if args.mode not in MODES[args.runtime]:
        p.error(f"--runtime {args.runtime} has modes {', '.join(MODES[args.runtime])}, not {args.mode!r}")
    if args.threads is not None and args.runtime != "torch":
        p.error("--threads applies to --runtime torch only (other runtimes' threads come from the package)")
    if args.onnx_path is not None and args.runtime != "onnx":
        p.error("--onnx-path applies to --runtime onnx only")
    return args


def result_key(args: argparse.Namespace) -> str:
    key = f"{args.runtime}/{args.model}/bs{args.batch_size}"
    key += f"/{args.mode}" if args.mode != DEFAULT_MODE[args.runtime] else ""
    key += f"/threads{args.threads}" if args.threads else ""
    return key + ("/malloc-glibc" if args.malloc == "glibc" else "")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.summary:
        from overhead.report import summary_table

        print(summary_table(args.out, args.summary))
        return 0
    env = malloc_environment(args.malloc)
    if env != dict(os.environ):
        # glibc reads these once, at start-up: the process has to begin with them
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    model_cfg = model_config(args.model)
    if args.export_onnx is not None:
        from overhead.bare import export_onnx

        seconds = export_onnx(model_cfg, args.batch_size, args.seed, args.export_onnx, OPSET)
        print(f"exported {args.model} bs{args.batch_size} to {args.export_onnx} (opset {OPSET}) in {seconds:.1f} s")
        return 0
    run(args, model_cfg)
    return 0


def run(args: argparse.Namespace, model_cfg: dict) -> None:
    from overhead import arms, report
    from overhead.bare import export_onnx, make_bare

    say = (lambda *_: None) if args.quiet else (lambda msg: print(f"[bench] {msg}", file=sys.stderr, flush=True))
    began = time.monotonic()
    load_before = os.getloadavg()
    if args.threads is not None:
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
        "mode": args.mode,
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
            onnx_path = args.onnx_path
            if onnx_path is None:
                onnx_path = tmp / "model.onnx"
                say(f"exporting {args.model} to ONNX (opset {OPSET})")
                export_s = export_onnx(model_cfg, args.batch_size, args.seed, onnx_path, OPSET)
            spec["onnx_path"] = str(onnx_path)
        say(f"{args.runtime} {args.model} bs{args.batch_size} mode {args.mode}, malloc {args.malloc}")
        result: dict = {
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "host": report.host_facts(),
            "settings": {
                "runtime": args.runtime,
                "mode": args.mode,
                "rounds": args.rounds,
                "threads": args.threads,
                "reuse_bare": args.reuse_bare,
                "malloc": args.malloc,
                "malloc_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("MALLOC_")},
                "glibc_tunables": os.environ.get("GLIBC_TUNABLES"),
                "measure": measure,
                "onnx_path": spec.get("onnx_path"),
                "export_s": export_s,
            },
        }
        if not args.skip_tool:
            bare = make_bare(
                args.runtime, model_cfg, args.batch_size, args.seed, args.mode, args.reuse_bare, spec.get("onnx_path")
            )
            result["tool_vs_bare"] = arms.tool_vs_bare(bare, spec, measure, args.rounds, tmp, say)
            del bare
        if not args.skip_sampler:
            result["sampler_on_vs_off"] = arms.sampler_on_vs_off(
                spec, measure, args.rounds, args.sample_interval_s, tmp, say
            )
    result["host"]["threads"] = report.threads_in_use()
    result["host"]["loadavg_before"] = load_before
    result["host"]["loadavg_after"] = os.getloadavg()
    result["wall_s"] = time.monotonic() - began
    key = result_key(args)
    report.print_table(key, result)
    report.write_json(args.out, key, result)
    print(f"\nwrote {args.out} [{key}] in {result['wall_s']:.0f} s")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except BaseException as err:  # a report, not a test: say what went wrong, exit 0
        import traceback

        traceback.print_exc()
        hint = ""
        if isinstance(err, ImportError):
            hint = f" — run each runtime in its environment: {ENVIRONMENTS}"
        print(f"latency_overhead: did not complete ({type(err).__name__}: {err}){hint}")
        sys.exit(0)
