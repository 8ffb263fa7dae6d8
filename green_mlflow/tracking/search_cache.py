"""Run searches for the server page that fetch only what changed since the last request.

Loading 1,000 runs through ``search_runs`` costs seconds (MLflow builds an ORM object for every param,
tag and metric; see benchmarks/README.md), and a page is reloaded often while a sweep runs. A run that
has ended does not change, so after one full search a later request asks only for runs that are still
running, that started or that ended since the previous request (with a margin for the clocks of the
hosts that log them). Every ``FULL_RELOAD_S`` the whole search runs again, which also drops runs deleted
meanwhile and picks up tags edited after a run ended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mlflow.entities import Run

FULL_RELOAD_S = 300.0
CLOCK_MARGIN_MS = 120_000  # runs are stamped by the hosts that log them, whose clocks may lag this one
TERMINAL = ("FINISHED", "FAILED", "KILLED")

Search = Callable[[str, str], Iterable[Run]]


@dataclass
class _Entry:
    full_at_s: float
    since_ms: int
    runs: dict[str, Run]
    lock: threading.Lock = field(default_factory=threading.Lock)


class IncrementalSearch:
    """``search(experiment_id, filter_string)`` with memory of the runs it has already seen.

    ``filter_string`` must be a conjunction (MLflow's search grammar has no ``or``), as the report's are.
    """

    def __init__(self, search: Search, clock: Callable[[], float] = time.time) -> None:
        self._search = search
        self._clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()

    def __call__(self, experiment_id: str, filter_string: str) -> list[Run]:
        with self._lock:
            entry = self._entries.get((experiment_id, filter_string))
        now_s = self._clock()
        if entry is None or now_s - entry.full_at_s > FULL_RELOAD_S:
            runs = {r.info.run_id: r for r in self._search(experiment_id, filter_string)}
            entry = _Entry(full_at_s=now_s, since_ms=int(now_s * 1000), runs=runs)
            with self._lock:
                self._entries[(experiment_id, filter_string)] = entry
            return list(runs.values())
        with entry.lock:
            since = entry.since_ms - CLOCK_MARGIN_MS
            unfinished = " and ".join(f"attributes.status != '{s}'" for s in TERMINAL)
            for changed in (unfinished, f"attributes.start_time >= {since}", f"attributes.end_time >= {since}"):
                for run in self._search(experiment_id, f"{filter_string} and {changed}"):
                    entry.runs[run.info.run_id] = run
            entry.since_ms = int(now_s * 1000)
            return list(entry.runs.values())


class PageCache:
    """Pages of selections that have not changed since they were rendered, so that reloading the page of a
    sweep that has ended costs its (incremental) search only, not the analysis again.

    The key is every run's id, status, start time and number of metrics, the pruned jobs, the sweeps'
    statuses and the page's options. A selection with a run or a sweep still RUNNING is never cached: its
    numbers are still arriving. Ended runs do not change (the assumption ``IncrementalSearch`` makes too),
    and its full search every ``FULL_RELOAD_S`` brings edits and deletions into the key.
    """

    def __init__(self, size: int = 16) -> None:
        self._pages: dict[tuple, str] = {}
        self._size = size
        self._lock = threading.Lock()

    @staticmethod
    def key(dataset, options: tuple) -> tuple | None:
        if any(r.status == "RUNNING" for r in dataset.runs) or any(s.status == "RUNNING" for s in dataset.sweeps):
            return None
        runs = tuple(sorted((r.run_id, r.status, r.start_time_ms, len(r.metrics)) for r in dataset.runs))
        sweeps = tuple(sorted((s.run_id, s.status) for s in dataset.sweeps))
        pruned = tuple(sorted((p.job, p.reason, p.parent_run_id) for p in dataset.pruned))
        return (dataset.title, dataset.experiment_id, options, runs, sweeps, pruned, tuple(dataset.warnings))

    def __call__(self, dataset, options: tuple, render: Callable[[], str]) -> str:
        key = self.key(dataset, options)
        with self._lock:
            if key is not None and key in self._pages:
                return self._pages[key]
        page = render()
        if key is not None:
            with self._lock:
                self._pages[key] = page
                while len(self._pages) > self._size:  # the oldest first (dicts keep insertion order)
                    self._pages.pop(next(iter(self._pages)))
        return page
