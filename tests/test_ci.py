"""What CI runs: ``.ci/run`` calls ``make test``, whose pytest command is read here as make would run it."""

from __future__ import annotations

import shlex
import subprocess

from tests.helpers.project import ROOT

PREREQUISITES = ("setup", "browser", "postgres", "allocators", "lint")  # not remade: only the test recipe


def test_ci_prints_the_25_slowest_tests():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    keep = [arg for target in PREREQUISITES for arg in ("-o", target)]
    dry_run = subprocess.run(
        ["make", "-n", *keep, "test"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    pytest_runs = [shlex.split(line) for line in dry_run.splitlines() if "-m pytest" in line]
    assert len(pytest_runs) == 1 and "--durations=25" in pytest_runs[0]
