"""Run-quality flags: drift across windows (a fake runtime that slows down, a steady one) and CPU contention
(two busy processes beside a real worker, and none; the tool's own processes never count)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from green_mlflow.contract import WindowSummary, WorkerResult
from green_mlflow.tracking.flags import cpu_contention_tags, stability_tags_and_metrics, trend
from green_mlflow.worker.cpu_contention import own_pids, snapshot, summarise_cpu_contention
from green_mlflow.worker.protocol import run_protocol
from green_mlflow.worker.stats import latency_summary
from tests.helpers.project import SMALL_IMAGE, run_worker
from tests.worker.test_protocol import FakeSession, measure

BUSY = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end:\n    pass\n"


class SlowingSession(FakeSession):
    """Each window's iterations take longer than the last one's: +``step_s`` per ``per_window`` runs."""

    def __init__(self, base_s: float, step_s: float, per_window: int):
        super().__init__(base_s)
        self.base_s, self.step_s, self.per_window = base_s, step_s, per_window

    def run(self) -> None:
        self.run_s = self.base_s + self.step_s * (self.runs // self.per_window)
        super().run()


def windows_of(session, n: int = 6) -> list[WindowSummary]:
    settings = measure(warmup_min_iterations=0, windows=n, window_min_iterations=5)
    _, phases = run_protocol(session, [], settings)
    return [
        WindowSummary(
            p.iterations, p.samples, p.duration_s, p.start_s, p.end_s, latency_summary(p.latencies_ns).p50_ms, 0
        )
        for p in phases
    ]


def test_a_runtime_that_slows_down_window_by_window_is_flagged_drifting_and_a_steady_one_stable():
    slowing = WorkerResult(windows=windows_of(SlowingSession(0.004, 0.0015, per_window=5)))
    tags, metrics = stability_tags_and_metrics(slowing)
    assert tags["green.stability"].startswith("drifting: latency +"), tags
    assert metrics["drift_latency_rel_per_window"] > 0.05

    steady = WorkerResult(windows=windows_of(FakeSession(0.004)))
    tags, metrics = stability_tags_and_metrics(steady)
    assert tags == {"green.stability": "stable"} and abs(metrics["drift_latency_rel_per_window"]) < 0.05

    few = WorkerResult(windows=windows_of(FakeSession(0.001), n=3))
    assert stability_tags_and_metrics(few)[0]["green.stability"].startswith("not checked: 3 windows")


def test_the_trend_test_needs_both_significance_and_a_practical_size():
    assert trend([10, 10.01, 10.02, 10.03, 10.04])[1] < 0.05, "monotonic: significant"
    slope, _ = trend([10, 10.01, 10.02, 10.03, 10.04])
    assert slope < 0.01, "but 0.1 % per window is below the 1 % that counts as drift"
    assert trend([10, 11, 10, 11, 10, 11])[1] > 0.05, "no trend in an alternation"
    assert trend([1, 2, 3, 4]) is None, "four windows cannot reach p < 0.05"


def test_contention_counts_other_processes_time_and_never_the_tools_own():
    before = (0.0, {1: ("worker", 10.0), 2: ("sampler", 1.0), 3: ("browser", 5.0), 4: ("idle", 3.0)})
    after = (2.0, {1: ("worker", 12.0), 2: ("sampler", 1.2), 3: ("browser", 6.5), 4: ("idle", 3.0), 5: ("cc1", 0.5)})
    found = summarise_cpu_contention(before, after, own={1, 2})
    assert found.detected and found.other_cores == pytest.approx((1.5 + 0.5) / 2)
    assert list(found.top_processes) == ["browser (pid 3)", "cc1 (pid 5)"], "a process started in between counts"
    tag = cpu_contention_tags(found)["green.cpu_contention"]
    assert tag.startswith("detected: other processes used 1.00 cores") and "browser (pid 3) 75 %" in tag
    quiet = summarise_cpu_contention(before, (2.0, {**before[1], 3: ("browser", 5.1)}), own={1, 2})
    assert not quiet.detected and cpu_contention_tags(quiet)["green.cpu_contention"].startswith("none (")


def test_two_busy_processes_show_up_and_the_own_processes_do_not():
    start = snapshot()
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
    try:
        time.sleep(1.5)
        end = snapshot()
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    found = summarise_cpu_contention(start, end, own_pids())
    assert found.detected and found.other_cores > 1.0, found
    assert {f"pid {hog.pid})" for hog in hogs} <= {name.split("(")[1] for name in found.top_processes}


@pytest.mark.slow
@pytest.mark.parametrize("busy", [2, 0])
def test_a_real_worker_reports_cpu_contention_with_busy_processes_beside_it_and_none_without(tmp_path, busy):
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(busy)]
    try:
        spec = {
            "runtime": "torch",
            "provider": "cpu",
            "mode": "eager",
            "batch_size": 1,
            "model": {**SMALL_IMAGE, "image_size": 32},
            "measure": {
                "warmup_min_iterations": 2,
                "warmup_min_s": 0.3,
                "windows": 2,
                "window_min_s": 0.5,
                "window_min_iterations": 5,
                "window_rest_s": 0,
                "cpu_tdp_w": None,
                "timeout_s": 120,
            },
            "output_dir": str(tmp_path / "out"),
        }
        proc, result = run_worker("torch", spec, tmp_path)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert proc.returncode == 0, proc.stderr[-3000:]
    contention = result["cpu_contention"]
    assert contention["checked"]
    if busy:
        assert contention["detected"] and contention["other_cores"] > 0.5, contention
        assert sum("python" in name for name in contention["top_processes"]) >= 2
    else:
        assert not contention["detected"], f"the orchestrator, the sampler and the worker never count: {contention}"
