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


def test_both_arms_map_to_one_vocabulary():
    ab = _load()
    q = {"model": "m", "batch_size": 1, "metric": "e", "reference": "torch", "reference_provider": "cpu"}
    row = {"model": "m", "batch_size": 1, "metric": "e", "reference_provider": "cpu", "other_provider": "cpu"}
    findings = {"comparisons": [row | {"reference": "torch", "other": "onnx (from torch)", "verdict": "lower"}]}
    assert (
        ab.fixed_verdict(q | {"other": "onnx (from torch)", "other_provider": "cpu"}, findings)[0] == "different-lower"
    )
    findings["comparisons"][0]["verdict"] = "open"
    assert ab.fixed_verdict(q | {"other": "onnx (from torch)", "other_provider": "cpu"}, findings)[0] == "undecided"
    findings = {"comparisons": [row | {"reference": "tf", "other": "torch", "verdict": "lower"}]}
    tf = q | {"other": "tf", "other_provider": "cpu"}
    assert ab.fixed_verdict(tf, findings)[0] == "different-higher", "the pair asked the other way"
    assert ab.fixed_verdict(q | {"other": "mxnet", "other_provider": "cpu"}, findings)[0] == "undecided"
    assert [ab.adaptive_verdict(v) for v in ("lower", "higher", "equivalent", "open")] == [
        "different-lower",
        "different-higher",
        "equivalent",
        "undecided",
    ]
