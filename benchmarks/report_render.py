"""How long does the comparison view take for 1 run and for 1,000 runs?  A report, not a test (exit code 0).

    .venv/bin/python benchmarks/report_render.py                 # 1 and 1,000 synthetic runs, 3 repeats
    .venv/bin/python benchmarks/report_render.py --runs 1 100 1000 --repeats 5

Each size gets its own SQLite store filled by ``tests.helpers.synthetic`` with study-shaped job runs
(3 models × 2 batch sizes × 6 runtimes, repetitions filling up to the size; each run with a 20-sample
utilisation trace), written once and not timed. Then, per repeat, the phases a page request or a report
goes through are timed: **load** (search the runs, read the parent's ``summary/jobs.jsonl``), **analyse**
(group, statistics, Holm, verdicts, Pareto, traces of the best and worst run per group), **html** (render
the page) and **png** (the report's matplotlib figures, one per group); and the page's **repeat request**
on a sweep that has ended, whose search (``tracking/search_cache.py``) fetches only runs that changed since the first. The page served by the
``mlflow.app`` plugin pays load + analyse + html; the offline report adds png and the artifact upload.
Targets: the page for 1,000 runs in ≤ 2 s, a repeat request in ≤ 0.3 s, on the 2-core development VM
(median of the repeats). The repeat request goes through the plugin's page (``plugin.page``): its
incremental search and its cache of pages whose selection has not changed.
Results are merged into ``benchmarks/results/report_render.json`` under the run count.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the synthetic sweeps live with the tests (tests/helpers/synthetic.py)
    sys.path.insert(0, str(REPO))

from green_mlflow.report import plugin  # noqa: E402
from green_mlflow.report.analysis import analyse  # noqa: E402
from green_mlflow.report.data import load, searcher  # noqa: E402
from green_mlflow.report.figures import write_figures  # noqa: E402
from green_mlflow.report.render import render  # noqa: E402
from green_mlflow.tracking.search_cache import IncrementalSearch, PageCache  # noqa: E402
from tests.helpers.synthetic import make_sweep, study  # noqa: E402

PAGE_TARGET_S = 2.0
REPEAT_TARGET_S = 0.3
RESULTS = Path(__file__).resolve().parent / "results" / "report_render.json"


def fill(folder: Path, runs: int) -> tuple[MlflowClient, str, float]:
    """A store with one sweep of ``runs`` synthetic job runs; returns the client, parent id and seconds taken."""
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    repetitions = max(1, -(-runs // 36))  # study() makes 36 series
    began = time.perf_counter()
    parent = make_sweep(client, "bench", study(repetitions)[:runs], pruned=[("onnx tensorrt", "needs a GPU")])
    return client, parent, time.perf_counter() - began


def time_once(client: MlflowClient, parent: str, folder: Path) -> dict[str, float]:
    phases = {}
    began = time.perf_counter()
    dataset = load(client, parent)
    phases["load_s"] = time.perf_counter() - began
    # the server page's second request on a sweep that ended a while ago (the clock is moved an hour on,
    # as the synthetic runs have just been written): its search fetches only runs that changed since the first
    search = IncrementalSearch(searcher(client), clock=lambda: time.time() + 3600)
    plugin._pages = PageCache()  # a fresh server
    plugin.page(load(client, parent, search=search))
    began = time.perf_counter()
    plugin.page(load(client, parent, search=search))
    phases["page_repeat_s"] = time.perf_counter() - began
    began = time.perf_counter()
    view = analyse(dataset)
    phases["analyse_s"] = time.perf_counter() - began
    began = time.perf_counter()
    html = render(view)
    phases["html_s"] = time.perf_counter() - began
    began = time.perf_counter()
    write_figures(view, folder / "figures")
    phases["png_s"] = time.perf_counter() - began
    phases["page_s"] = phases["load_s"] + phases["analyse_s"] + phases["html_s"]
    phases["html_bytes"] = len(html.encode())
    phases["groups"] = len(view.groups)
    return phases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    rows = []
    for runs in args.runs:
        with tempfile.TemporaryDirectory() as tmp:
            client, parent, fill_s = fill(Path(tmp), runs)
            timings = [time_once(client, parent, Path(tmp)) for _ in range(args.repeats)]
        median = {k: statistics.median(t[k] for t in timings) for k in timings[0]}
        median["fill_s"] = fill_s
        results[str(runs)] = {**median, "repeats": args.repeats, "host": platform.node(), "when": time.strftime("%F")}
        rows.append((runs, median))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True))
    print(
        "| runs | groups | load | analyse | html | page (load+analyse+html) | page, repeat request | png figures "
        "| HTML size | store fill |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for runs, m in rows:
        print(
            f"| {runs} | {m['groups']:.0f} | {m['load_s']:.2f} s | {m['analyse_s']:.2f} s | {m['html_s']:.3f} s | "
            f"**{m['page_s']:.2f} s** | {m['page_repeat_s']:.2f} s | {m['png_s']:.2f} s | {m['html_bytes'] / 1024:.0f} KiB | {m['fill_s']:.0f} s |"
        )
    largest, m = max(rows, key=lambda r: r[0])
    verdict = "PASS" if m["page_s"] <= PAGE_TARGET_S * max(1, largest / 1000) else "FAIL"
    print(f"\npage for {largest} runs: {m['page_s']:.2f} s (target ≤ {PAGE_TARGET_S:g} s per 1,000 runs): {verdict}")
    verdict = "PASS" if m["page_repeat_s"] <= REPEAT_TARGET_S * max(1, largest / 1000) else "FAIL"
    print(f"repeat request: {m['page_repeat_s']:.2f} s (target ≤ {REPEAT_TARGET_S:g} s per 1,000 runs): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
