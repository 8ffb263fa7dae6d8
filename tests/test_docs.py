"""Every citation in the code and docs points inside the repository, at a rule or decision that exists."""

from __future__ import annotations

import re

from tests.helpers.project import ROOT

SOURCES = [
    p
    for folder in ("green_mlflow", "hydra_plugins", "entrypoints", "benchmarks", "conf", "docs", "tests")
    for p in (ROOT / folder).rglob("*")
    if p.suffix in (".py", ".md", ".yaml", ".txt") and p.is_file()
] + [ROOT / "README.md", ROOT / "MLproject"]


def _headings(doc: str, word: str) -> set[int]:
    text = (ROOT / "docs" / doc).read_text()
    return {int(n) for n in re.findall(rf"^### {word} (\d+) —", text, re.MULTILINE)}


def test_no_file_cites_the_background_briefs_outside_the_repository():
    briefs = re.compile(r"(?<![\w/])(METHOD|DESIGN|STUDY|STYLE)\.md")
    offenders = [f"{p.relative_to(ROOT)}:{m.group(0)}" for p in SOURCES for m in briefs.finditer(p.read_text())]
    assert offenders == []


def test_every_cited_rule_and_decision_exists():
    rules, decisions = _headings("method.md", "Rule"), _headings("design.md", "Decision")
    assert rules == set(range(1, 21)) and decisions == set(range(1, 9))  # numbered 1..n, none skipped
    cited = re.compile(r"docs/(method|design)\.md,? (rules?|decisions?) (\d+)(?:\s*[-–]\s*(\d+))?")
    missing = []
    for path in SOURCES:
        for kind, _, first, last in cited.findall(path.read_text()):
            known = rules if kind == "method" else decisions
            for n in range(int(first), int(last or first) + 1):
                if n not in known:
                    missing.append(f"{path.relative_to(ROOT)}: docs/{kind}.md {n}")
    assert missing == []


def test_the_design_doc_has_an_architecture_section_naming_every_package():
    text = (ROOT / "docs" / "design.md").read_text()
    assert "## Architecture" in text
    section = text.split("## Architecture", 1)[1]
    packages = [p.name for p in (ROOT / "green_mlflow").iterdir() if (p / "__init__.py").exists()]
    assert [p for p in packages if f"`{p}/`" not in section] == []
    for task in ("Adding a runtime", "Adding a model", "Adding a meter", "Adding a metric"):
        assert task in section
