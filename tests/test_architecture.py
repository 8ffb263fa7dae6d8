"""The layering of docs/design.md ("Architecture") holds: contracts kept, no import cycle, small modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

from tests.helpers.project import ROOT

MAX_MODULE_LINES = 400


def test_the_import_contracts_are_kept():
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "5 kept, 0 broken" in proc.stdout
    assert "The study engine (estimate, boundaries, decisions, families) knows no MLflow" in proc.stdout


def _cycle(graph: grimp.ImportGraph) -> list[str] | None:
    """One import cycle between modules of the package, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(graph.modules):
        if root in state:
            continue
        path, stack = [root], [iter(sorted(graph.find_modules_directly_imported_by(root)))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.find_modules_directly_imported_by(nxt))))
    return None


def test_no_import_cycle_inside_the_package():
    graph = grimp.build_graph("green_mlflow")
    assert _cycle(graph) is None


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("a", "a.b", "a.c"):
        graph.add_module(module)
    graph.add_import(importer="a.b", imported="a.c")
    assert _cycle(graph) is None
    graph.add_import(importer="a.c", imported="a.b")
    assert _cycle(graph) == ["a.b", "a.c", "a.b"]


def test_no_module_is_over_400_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "green_mlflow").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
