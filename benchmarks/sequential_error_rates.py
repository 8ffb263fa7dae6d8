"""Error rates of the adaptive sweep's sequential comparison (report/sequential.py) against the naive repeated test.

    .venv/bin/python benchmarks/sequential_error_rates.py                      # 5,000 sweeps per case, ~4 min
    .venv/bin/python benchmarks/sequential_error_rates.py --designs 30:4:0.10  # max_n 30, CV 10 %: ~5 min
    .venv/bin/python benchmarks/sequential_error_rates.py --sweeps 2000 --designs 10:4:0.03

A report, not a test (exit code 0). Each case simulates sweeps of two series, b against a, with a true mean
ratio and noise of a given coefficient of variation (normal, or log-normal: right-skewed), as the sweep runs
them: ``start`` = 3 repetitions each, then after every round ``sequential_compare`` looks at all the values
so far and ``next_repetitions`` adds at most ``cap`` per round, until the question "different, or equivalent
within ±5 %?" is decided or both series have ``max_n``. The driver is ``tests/helpers/sequential_sim.py``,
the one the tests use. For every case the same data (same seed) also go through:

- **naive**: the same adaptive sweep, but each look is a fixed-sample Welch interval (95 %: different; 90 %:
  TOST equivalent), as if that look were the only one;
- **fixed schedule**: "p < 0.05 at each look, stop at the first" over a planned schedule, with no stop for
  equivalence and steps of ``cap`` whatever the data (3, 7, 10 with cap 4; 3, 4, …, 10 with cap 1), for the
  naive rule and for the repeated intervals: the classical picture of the inflation, where only the
  statistics differ.

Targets (PASS/FAIL): no true difference → "different" ≤ 5 % (+ 3 Monte-Carlo SE); a ratio exactly at the
margin → "equivalent" ≤ 5 % (+ 3 SE); a true difference of 3 noise SDs → decided "higher" ≥ 95 %.
Results are merged into ``benchmarks/results/sequential_error_rates.json`` under design and case.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the simulation driver lives with the tests (tests/helpers/sequential_sim.py)
    sys.path.insert(0, str(REPO))

from green_mlflow.study.sequential import sequential_compare  # noqa: E402
from tests.helpers.sequential_sim import difference_only, naive_compare, simulate  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "sequential_error_rates.json"
MARGIN = 0.05


def cases(cv: float) -> list[tuple[str, float, str]]:
    """(name, true ratio b/a, which rate has a target) for one noise level."""
    return [
        ("no difference (b = a)", 1.0, "different"),
        ("inside the margin (b = 1.02 a)", 1.02, ""),
        ("at the margin (b = 1.05 a)", 1 + MARGIN, "equivalent"),
        (f"3 SD (b = {1 + 3 * cv:.2f} a)", 1 + 3 * cv, "higher"),
    ]


def verdict(target: str, rate: float, sweeps: int) -> str:
    if not target:
        return ""
    if target == "higher":
        return "PASS" if rate >= 0.95 else "FAIL"
    return "PASS" if rate <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / sweeps) else "FAIL"


def run_design(max_n: int, cap: int, cv: float, sweeps: int, seed: int, spending: str = "obf") -> list[dict]:
    rows = []
    rule = partial(sequential_compare, spending=spending)
    for i, (name, ratio, target) in enumerate(cases(cv)):
        for noise in ("normal", "lognormal"):
            common = {"cv": cv, "sweeps": sweeps, "max_n": max_n, "seed": seed + 10 * i, "cap": cap, "margin": MARGIN}
            began = time.perf_counter()
            rci = simulate(ratio, noise, compare=rule, **common)
            naive = simulate(ratio, noise, compare=naive_compare, **common)
            fixed = simulate(ratio, noise, compare=difference_only(naive_compare), **common)
            rci_fixed = simulate(ratio, noise, compare=difference_only(rule), **common)
            rate = {"different": rci.different, "equivalent": rci.equivalent, "higher": rci.higher}.get(target, 0.0)
            rows.append(
                {
                    "case": name,
                    "noise": noise,
                    "different": rci.different,
                    "equivalent": rci.equivalent,
                    "decided": rci.decided,
                    "median_n": rci.median_reps,
                    "mean_n": rci.mean_reps,
                    "naive_different": naive.different,
                    "naive_equivalent": naive.equivalent,
                    "naive_fixed_different": fixed.different,
                    "rci_fixed_different": rci_fixed.different,
                    "target": verdict(target, rate, sweeps),
                    "seconds": round(time.perf_counter() - began, 1),
                }
            )
            print(f"  {name}, {noise}: {rows[-1]['seconds']} s", file=sys.stderr)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| case | noise | different | equivalent | decided | median n | mean n | naive: different | naive: equivalent "
        "| fixed schedule: naive different | fixed schedule: RCI different | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        pct = {k: f"{r[k]:.1%}" for k in r if isinstance(r[k], float) and k not in ("median_n", "mean_n", "seconds")}
        lines.append(
            f"| {r['case']} | {r['noise']} | {pct['different']} | {pct['equivalent']} | {pct['decided']} "
            f"| {r['median_n']:g} | {r['mean_n']:.2f} | {pct['naive_different']} | {pct['naive_equivalent']} "
            f"| {pct['naive_fixed_different']} | {pct['rci_fixed_different']} | {r['target']} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweeps", type=int, default=5000, help="simulated sweeps per case and rule")
    parser.add_argument(
        "--designs",
        nargs="+",
        default=["10:4:0.03", "10:1:0.03"],
        help="max_n:cap:cv for each design (cv: noise coefficient of variation)",
    )
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--spending", default="obf", choices=("obf", "pocock"), help="alpha-spending function")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for design in args.designs:
        max_n, cap, cv = design.split(":")
        began = time.perf_counter()
        rows = run_design(int(max_n), int(cap), float(cv), args.sweeps, args.seed, args.spending)
        print(
            f"\n#### {args.spending} spending, max_n = {max_n}, start 3, at most {cap} more per round, noise CV {float(cv):.0%}, "
            f"margin ±{MARGIN:.0%}, alpha 0.05, {args.sweeps:,} sweeps per case and rule "
            f"({time.perf_counter() - began:.0f} s)\n"
        )
        print(table(rows))
        when = time.strftime("%F")
        for r in rows:
            results[f"{args.spending} {design} {r['case']} {r['noise']}"] = {
                **r,
                "sweeps": args.sweeps,
                "host": platform.node(),
                "when": when,
            }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
