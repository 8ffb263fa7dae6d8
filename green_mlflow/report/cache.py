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
