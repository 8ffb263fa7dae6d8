"""The allocator is recorded (glibc or a preloaded library), a missing library is refused with how to get it,
and allocator churn is flagged on a fake runtime that maps and unmaps a large buffer every iteration."""

from __future__ import annotations

import subprocess
import sys

import pytest

from green_mlflow.allocator import AllocatorError, allocator_env, find_library, in_effect
from green_mlflow.contract import WindowSummary, WorkerResult
from green_mlflow.launch import PACKAGE_ROOT
from green_mlflow.tracking.flags import allocator_tags
from green_mlflow.worker.protocol import run_protocol
from tests.worker.test_protocol import FakeSession, measure

PROBE = f"import sys; sys.path.insert(0, {str(PACKAGE_ROOT)!r}); from green_mlflow.allocator import in_effect; print(in_effect())"


def probe(allocator: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], env=allocator_env(allocator), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return eval(out.stdout)  # a dict literal printed by the probe


def test_glibc_is_recorded_with_its_version_and_the_settings_in_effect():
    pinned, adaptive = probe("glibc_pinned"), probe("glibc")
    assert pinned["name"] == adaptive["name"] == "glibc" and pinned["version"][0].isdigit()
    assert "MALLOC_MMAP_THRESHOLD_=33554432" in pinned["detail"]
    assert "adaptive defaults" in adaptive["detail"] or "MALLOC_MMAP" not in adaptive["detail"]


@pytest.mark.parametrize("name", ["jemalloc", "tcmalloc"])
def test_a_preloaded_allocator_is_recorded_from_the_process_own_memory_map(name):
    try:
        library = find_library(name)
    except AllocatorError as missing:
        pytest.fail(f"{missing} (make test installs both: make allocators)")
    found = probe(name)
    assert found["name"] == name and found["detail"] == f"preloaded {library}" and found["version"] != "unknown"


def test_a_missing_library_is_refused_with_how_to_install_it(tmp_path):
    with pytest.raises(AllocatorError) as refused:
        find_library("jemalloc", search_dirs=(str(tmp_path),))
    message = str(refused.value)
    assert "libjemalloc.so.2" in message and "apt-get install libjemalloc2" in message and "\n" not in message
    with pytest.raises(AllocatorError, match="allowed: glibc_pinned, glibc, jemalloc, tcmalloc"):
        allocator_env("mimalloc")


def test_the_memory_map_tells_a_preloaded_library_apart(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/libjemalloc.so.2\n")
    assert in_effect(str(maps))["name"] == "jemalloc"
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n")
    assert in_effect(str(maps))["name"] == "glibc"


class ChurningSession(FakeSession):
    """Maps, writes and frees a 64 MiB buffer every iteration (above glibc's 32 MiB mmap ceiling), touching
    each 4 KiB page (a bytearray: numpy would ask for huge pages and fault 512 times less)."""

    def run(self) -> None:
        buffer = memoryview(bytearray(64 * 2**20))
        for offset in range(0, len(buffer), 4096):
            buffer[offset] = 1
        buffer.release()
        super().run()


def windows(session) -> list[WindowSummary]:
    _, phases = run_protocol(session, [], measure(warmup_min_iterations=1, windows=3, window_min_iterations=4))
    return [
        WindowSummary(p.iterations, p.samples, p.duration_s, p.start_s, p.end_s, 1.0, p.minor_faults / p.iterations)
        for p in phases
    ]


def test_allocator_churn_is_flagged_on_a_runtime_that_maps_and_unmaps_per_iteration_and_not_otherwise():
    allocator = {"name": "glibc", "version": "2.36", "detail": "glibc 2.36 malloc"}
    churning = allocator_tags(WorkerResult(info={"allocator": allocator}, windows=windows(ChurningSession())))
    assert (
        churning["green.allocator_churn"].startswith("detected: ")
        and "page faults per iteration" in churning["green.allocator_churn"]
    )
    assert churning["worker.allocator"] == "glibc 2.36"
    steady = allocator_tags(WorkerResult(info={"allocator": allocator}, windows=windows(FakeSession())))
    assert steady["green.allocator_churn"].startswith("none (")
