"""The report: host facts, the printed table, and the JSON merged by key."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from importlib import metadata
from pathlib import Path

from green_mlflow.worker.host import cpu_model

from .stats import verdict

# distributions whose versions are recorded, where installed (metadata only: nothing is imported)
DISTRIBUTIONS = ("torch", "torchvision", "tensorflow-cpu", "tensorflow", "keras", "mxnet", "onnx", "onnxruntime")


def host_facts() -> dict:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "versions": _versions(),
    }


def _versions() -> dict:
    out = {}
    for name in (*DISTRIBUTIONS, "numpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def threads_in_use() -> dict:
    """Intra-op threads of the frameworks loaded in this process (only those already imported)."""
    out = {}
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].get_num_threads()
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        out["tf_intra_op"] = tf.config.threading.get_intra_op_parallelism_threads()  # 0: TF's own choice
    for var in ("OMP_NUM_THREADS", "MXNET_CPU_WORKER_NTHREADS"):
        if var in os.environ:
            out[var] = os.environ[var]
    return out


_MISMATCH = {
    "glibc": "  WARNING: the arms ran in different malloc regimes (page faults per iteration differ), so this ratio\n"
    "  measures glibc's page-fault churn, not the tool; the default (--malloc product) pins the thresholds",
    "product": "  WARNING: the arms' page faults per iteration differ although glibc's thresholds are pinned; the\n"
    "  ratio may measure the allocator, not the tool (see benchmarks/README.md)",
}


def _med(c: dict, arm: str) -> float:
    return statistics.median(c["minor_faults_per_iteration"][arm])


def print_table(key: str, report: dict) -> None:
    host = report["host"]
    print(
        f"\nlatency overhead — {key} (mode {report['settings']['mode']}, malloc {report['settings']['malloc']}; "
        f"load avg before/after: {host['loadavg_before'][0]:.2f}/{host['loadavg_after'][0]:.2f}; "
        f"threads {host['threads']})"
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
        print(
            f"{name:<18}{ref:>11.2f}{arm:>11.2f}{c['ratio_pooled_p50']:>8.3f}{c['ratio']:>8.3f}  {ci:<16}"
            f"{'≤ ' + format(c['target'], '.2f'):<8}{verdict(c)}"
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
            print(_MISMATCH[report["settings"]["malloc"]])
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
            print(_MISMATCH[report["settings"]["malloc"]])


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


def summary_table(path: Path, keys: list[str]) -> str:
    """One markdown row per key of the JSON: tool/bare and sampler on/off with their intervals and verdicts."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return f"no results in {path}: {err}"
    lines = [
        "| run | mode | bare p50 ms | tool p50 ms | tool/bare (95% CI), target ≤ 1.02 | "
        "sampler on/off (95% CI), target ≤ 1.01 | faults/iter bare · tool | rounds | wall s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key in keys:
        report = data.get(key)
        if report is None:
            lines.append(f"| {key} | did not complete (see its log) | | | | | | | |")
            continue
        settings = report["settings"]
        tool, sampler = report.get("tool_vs_bare"), report.get("sampler_on_vs_off")
        cells = [key, settings["mode"]]
        if tool:
            faults = f"{_med(tool, 'bare'):.0f} · {_med(tool, 'tool'):.0f}"
            cells += [f"{tool['bare_p50_ms']:.2f}", f"{tool['tool_p50_ms']:.2f}", _ratio_cell(tool)]
        else:
            faults = "–"
            cells += ["–", "–", "–"]
        cells += [_ratio_cell(sampler) if sampler else "–", faults, str(settings["rounds"]), f"{report['wall_s']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ratio_cell(c: dict) -> str:
    lo, hi = c["ratio_ci95"]
    mismatch = ", *malloc regimes differ*" if c.get("fault_regime_mismatch") else ""
    return f"**{c['ratio']:.3f}** ({lo:.3f}–{hi:.3f}) {verdict(c)}{mismatch}"
