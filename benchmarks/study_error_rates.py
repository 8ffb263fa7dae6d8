"""Error rates and power of the study engine, through the adaptive sweep's own planning code.

    .venv/bin/python benchmarks/study_error_rates.py                       # 5,000 sweeps per case
    .venv/bin/python benchmarks/study_error_rates.py --sweeps 500 --workers 2
    .venv/bin/python benchmarks/study_error_rates.py --only "(b)" --sweeps 2000

A report, not a test (exit code 0). Each sweep is a whole adaptive sweep (``hydra.sweeper.adaptive=true`` with
the default ``AdaptiveSettings``: 3 to 10 repetitions, at most 4 more a round, ±5 % margin, alpha 0.05 over the
questions' family, Pocock spending): ``AdaptiveSweep.first_round`` / ``next_round`` plan every round and decide
every question with the report's own code; only MLflow is replaced, by pre-drawn synthetic runs. The driver
is ``tests/helpers/sweep_sim.py`` (the one ``tests/study/test_error_rates.py`` uses). Cases, each for the
noise laws normal, log-normal and Student t with 3 df (scaled to the CV):

- (a) four runtimes in one group, all equal, CV 3 %: six pair questions, a family of six (each at 0.83 %).
  Target: sweeps with at least one false "lower"/"higher" <= 5 %.
- (b) one pair, equal means, CV 1 % against CV 8 %. Target: "lower"/"higher" <= 5 %.
- (c) one pair exactly at the margin, b = 1.05 a, CV 3 %. Target: "equivalent" <= 5 %. Also b = 0.95 a (the
  lower margin; on the log scale ±5 % is not symmetric: 1/1.05 = 0.952 lies inside it).
- (d) three runtimes (torch = tf, mxnet = 1.05 × both), CV 3 %, and five declared hypotheses, all false at
  their boundary (``sweep_sim.FALSE_HYPOTHESES``: lower ×2, equivalent, higher by ≥ 5 %, best). Target:
  sweeps with any claim "supported" <= 5 %; also shown, the documented guarantee (any claim supported or
  contradicted: with every hypothesis at its boundary both are false).
- (e) one pair at b/a = 1.03, 1.10, 1.30, CV 5 %: power (the true direction decided) and repetitions per
  series of the adaptive sweep against a fixed 10-repetition test of the same draws (``sequential_compare``,
  one look at (10, 10), ``max_n`` None, at the same per-question level).

A target passes when the rate is at most target + 3 Monte-Carlo SEs (the SE at the target).
Results: ``benchmarks/results/study_error_rates.json`` (rewritten after each case; ``complete`` says whether
every case ran).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the simulation driver lives with the tests (tests/helpers/sweep_sim.py)
    sys.path.insert(0, str(REPO))

from tests.helpers import sweep_sim as sim  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "study_error_rates.json"
TARGET = 0.05


def cases(power_cv: float) -> list[tuple[str, sim.Case, str]]:
    """(kind, case, the rate with a target: a key of ``measure``'s rates, or "")."""
    out = []
    for noise in sim.NOISES:
        out += [
            ("a", sim.four_equal(noise), "false_difference"),
            ("b", sim.unequal_noise(noise), "false_difference"),
            ("c", sim.at_margin(noise, ratio=1.05), "equivalent"),
            ("c", sim.at_margin(noise, ratio=0.95), "equivalent"),
            ("d", sim.false_claims(noise), "any_supported"),
        ]
        out += [("e", sim.power(noise, ratio, power_cv), "") for ratio in (1.03, 1.10, 1.30)]
    return out


def _chunk(args: tuple[sim.Case, int, int, int]) -> tuple[list[sim.SweepResult], float]:
    case, count, seed, start = args
    stats = sim.simulate(case, count, seed, start)
    return stats.results, stats.seconds


def run_case(case: sim.Case, sweeps: int, seed: int, pool: ProcessPoolExecutor | None, workers: int) -> sim.CaseStats:
    """``sweeps`` sweeps of ``case``, split into contiguous chunks over the workers (the same sweeps whatever
    the number of workers: sweep i is seeded by (seed, i))."""
    if pool is None:
        results, seconds = _chunk((case, sweeps, seed, 0))
        return sim.CaseStats(case, results, seconds)
    size = -(-sweeps // (workers * 4))
    parts = [(case, min(size, sweeps - s), seed, s) for s in range(0, sweeps, size)]
    results, seconds = [], 0.0
    for chunk, secs in pool.map(_chunk, parts):
        results += chunk
        seconds += secs
    return sim.CaseStats(case, results, seconds)


def measure(kind: str, stats: sim.CaseStats, target_rate: str) -> dict:
    """A case's rates (each [fraction, Monte-Carlo SE]), repetitions and target."""
    rates = {
        "false_difference": stats.any_verdict("false_difference"),
        "wrong_direction": stats.any_verdict("wrong_direction"),
        "false_equivalence": stats.any_verdict("false_equivalence"),
        "equivalent": stats.any_verdict_word(["equivalent"]),
        "different": stats.any_verdict_word(["lower", "higher"]),
        "all_decided": stats.fraction(lambda r: all(v.verdict != "open" for v in r.verdicts)),
    }
    if kind == "c":  # asked with b the truly lower series: b/a = 1/ratio, on the other side of 1
        rates["equivalent_asked_reversed"] = stats.fraction(
            lambda r: any(v.verdict == "equivalent" and v.true_ratio < 1 for v in r.verdicts)
        )
    if kind == "d":
        rates["any_supported"] = stats.any_claim("supported")
        rates["any_contradicted"] = stats.any_claim("contradicted")
        rates["any_false_claim"] = stats.fraction(
            lambda r: any(s in ("supported", "contradicted") for s in r.claims.values())
        )
        ids = sorted({k for r in stats.results for k in r.claims})
        rates.update({f"supported_{k}": stats.fraction(lambda r, k=k: r.claims.get(k) == "supported") for k in ids})
    if kind == "e":
        rates["power_adaptive"] = stats.any_verdict("correct_difference")
        rates["power_fixed"] = stats.any_verdict("correct_difference", fixed=True)
        rates["equivalent_fixed"] = stats.any_verdict_word(["equivalent"], fixed=True)
        rates["wrong_direction_fixed"] = stats.any_verdict("wrong_direction", fixed=True)
    reps = stats.reps()
    out = {
        "kind": kind,
        "case": stats.case.name,
        "noise": stats.case.noise,
        "series": [{"label": s.label, "mean": s.mean, "cv": s.cv} for s in stats.case.specs],
        "hypotheses": stats.case.hypotheses,
        "sweeps": stats.sweeps,
        "seconds": round(stats.seconds, 2),
        "ms_per_sweep": round(1000 * stats.per_sweep_s(), 2),
        "family_size": Counter(r.family_size for r in stats.results).most_common(1)[0][0],
        "level_per_question": stats.results[0].level,
        "rates": {k: [round(p, 6), round(se, 6)] for k, (p, se) in rates.items()},
        "reps_per_series": {
            "median": float(statistics.median(reps)),
            "mean": round(float(reps.mean()), 3),
            "p90": float(sorted(reps)[int(0.9 * (len(reps) - 1))]),
        },
        "fixed_reps_per_series": stats.case.fixed_n,
        "rounds_median": float(statistics.median(r.rounds for r in stats.results)),
        "stopped": dict(Counter(r.stopped for r in stats.results)),
        "sweeps_with_a_value_at_or_below_0": sum(1 for r in stats.results if r.nonpositive),
    }
    if target_rate:
        p, se = rates[target_rate]
        limit = sim.bound(TARGET, stats.sweeps)
        out["target"] = {"rate": target_rate, "max": TARGET, "allowed_with_3_se": round(limit, 6), "pass": p <= limit}
    return out


def _fmt(rate: list[float]) -> str:
    return f"{100 * rate[0]:6.2f} ± {100 * rate[1]:4.2f} %"


def table(rows: list[dict]) -> str:
    lines = [f"{'case':<44} {'rate':<26} {'value (± MC SE)':<19} {'target':<14} {'reps med/mean':<14} ms/sweep"]
    for row in rows:
        shown = {
            "a": ["false_difference"],
            "b": ["false_difference"],
            "c": ["equivalent", "equivalent_asked_reversed", "different"],
            "d": ["any_supported", "any_false_claim"],
            "e": ["power_adaptive", "power_fixed", "equivalent", "equivalent_fixed"],
        }[row["kind"]]
        for i, key in enumerate(shown):
            target = row.get("target", {})
            verdict = ""
            if target.get("rate") == key:
                verdict = f"{'PASS' if target['pass'] else 'FAIL'} ≤{100 * target['allowed_with_3_se']:.2f}"
            reps = row["reps_per_series"]
            if i == 0:
                fixed = f" (fixed {row['fixed_reps_per_series']})" if row["fixed_reps_per_series"] else ""
                head = f"{row['case']:<44}"
                tail = f"{reps['median']:>4g} / {reps['mean']:<5.2f}{fixed:<11} {row['ms_per_sweep']:.1f}"
            else:
                head, tail = " " * 44, ""
            lines.append(f"{head} {key:<26} {_fmt(row['rates'][key]):<19} {verdict:<14} {tail}")
    return "\n".join(lines)


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() + (" (uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweeps", type=int, default=5000, help="sweeps per case (default 5000)")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1; sweeps are split among them)")
    parser.add_argument("--power-cv", type=float, default=0.05, help="noise CV of the power cases (e)")
    parser.add_argument("--only", default="", help="run only the cases whose name contains this text")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    chosen = [c for c in cases(args.power_cv) if args.only in c[1].name]
    pool = ProcessPoolExecutor(args.workers) if args.workers > 1 else None
    rows, began = [], time.perf_counter()

    def document(done: bool) -> dict:
        cpu = sum(r["seconds"] for r in rows)
        return {
            "benchmark": "study_error_rates",
            "complete": done,  # False while cases are still running (the file is rewritten after each case)
            "sweeps_per_case": args.sweeps,
            "seed": args.seed,
            "workers": args.workers,
            "wall_s": round(time.perf_counter() - began, 1),
            "cpu_s": round(cpu, 1),
            "ms_cpu_per_sweep": round(1000 * cpu / max(sum(r["sweeps"] for r in rows), 1), 2),
            "commit": _commit(),
            "host": {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()},
            "settings": "AdaptiveSettings() defaults: min 3, max 10, max_per_round 4, margin 0.05, alpha 0.05, pocock",
            "target_rule": "rate <= 0.05 + 3 * sqrt(0.05 * 0.95 / sweeps)",
            "cases": rows,
        }

    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        for kind, case, target in chosen:
            stats = run_case(case, args.sweeps, args.seed, pool, args.workers)
            rows.append(measure(kind, stats, target))
            args.out.write_text(json.dumps(document(False), indent=1) + "\n")
            print(
                f"[{time.perf_counter() - began:7.0f} s] {case.name}: {rows[-1]['ms_per_sweep']} ms/sweep", flush=True
            )
    finally:
        if pool is not None:
            pool.shutdown()
    final = document(True)
    args.out.write_text(json.dumps(final, indent=1) + "\n")
    print()
    print(table(rows))
    total = sum(r["sweeps"] for r in rows)
    print(
        f"\n{total} sweeps in {final['wall_s']:.0f} s wall ({args.workers} worker(s)); {final['ms_cpu_per_sweep']} ms CPU per sweep"
    )
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
