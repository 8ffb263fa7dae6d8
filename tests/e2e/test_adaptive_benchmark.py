"""benchmarks/adaptive.py stays runnable: its verdict mapping (its `--tiny` run, about 2 min, is run by hand)."""

from __future__ import annotations

import importlib.util

from tests.helpers.project import ROOT

SCRIPT = ROOT / "benchmarks" / "adaptive.py"
VOCABULARY = {"different-lower", "different-higher", "equivalent", "undecided"}


def _load():
    spec = importlib.util.spec_from_file_location("adaptive_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_both_tables_map_to_one_vocabulary():
    ab = _load()
    q = {"model": "m", "batch_size": 1, "reference_provider": "cpu", "metric": "e", "reference": "torch"}
    conversion = {"model": "m", "batch_size": "1", "provider": "cpu", "metric": "e", "source": "torch"}
    findings = {"conversions": [conversion | {"verdict": "lower"}], "equivalences": []}
    assert ab.fixed_verdict(q | {"other": "onnx (from torch)"}, findings)[0] == "different-lower"
    findings["conversions"][0]["verdict"] = "inconclusive: n = 2 vs 2 is too few"
    assert ab.fixed_verdict(q | {"other": "onnx (from torch)"}, findings)[0] == "undecided"
    row = {"model": "m", "batch_size": "1", "provider": "cpu", "metric": "e", "a": "tf", "b": "torch"}
    findings = {"conversions": [], "equivalences": [row | {"verdict": "different", "diff_rel": -0.2}]}
    assert ab.fixed_verdict(q | {"other": "tf"}, findings)[0] == "different-higher", "the pair asked the other way"
    assert ab.fixed_verdict(q | {"other": "mxnet"}, findings)[0] == "undecided"
    assert [ab.adaptive_verdict(v) for v in ("lower", "higher", "equivalent", "open")] == [
        "different-lower",
        "different-higher",
        "equivalent",
        "undecided",
    ]
