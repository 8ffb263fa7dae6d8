"""Output parity between a source model and its ONNX conversion."""

from __future__ import annotations

import json
import subprocess
import textwrap

import numpy as np
import pytest

from green_mlflow.convert.parity import compare_outputs, describe_failure
from green_mlflow.launch import worker_env
from tests.helpers.project import require_env

TOL = 1e-4


def logits(scale: float = 1.0, shape=(2, 10), seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def test_identical_outputs_pass():
    ref = {"logits": logits(), "hidden": logits(shape=(2, 3, 4), seed=1)}
    report = compare_outputs(ref, {k: v.copy() for k, v in ref.items()}, TOL)
    assert report["passed"] is True
    assert report["tol"] == TOL
    assert set(report["outputs"]) == {"logits", "hidden"}
    for name, out in report["outputs"].items():
        assert out["passed"] is True
        assert out["max_abs_err"] == 0.0
        assert out["max_rel_err"] == 0.0
        assert out["shape"] == list(ref[name].shape)
        assert out["max_abs_source"] == pytest.approx(float(np.abs(ref[name]).max()))


def test_perturbed_output_fails_with_normalised_error():
    ref = np.array([[1.0, -4.0, 2.0], [0.5, 3.0, -1.0]], dtype=np.float32)
    got = ref.copy()
    got[1, 1] += 0.02  # max |error| 0.02, max |source| 4 → 0.005
    report = compare_outputs({"y": ref}, {"y": got}, TOL)
    out = report["outputs"]["y"]
    assert report["passed"] is False and out["passed"] is False
    assert out["max_abs_err"] == pytest.approx(0.02, rel=1e-5)
    assert out["max_abs_source"] == pytest.approx(4.0)
    assert out["max_rel_err"] == pytest.approx(0.005, rel=1e-5)
    # the same error passes a looser tolerance
    assert compare_outputs({"y": ref}, {"y": got}, 0.01)["passed"] is True
    assert "0.005" in describe_failure(report) and "model.parity_tol" in describe_failure(report)


def test_one_bad_output_fails_the_whole_report():
    ref = {"a": logits(), "b": logits(seed=2)}
    got = {"a": ref["a"].copy(), "b": ref["b"] * 1.01}
    report = compare_outputs(ref, got, TOL)
    assert report["outputs"]["a"]["passed"] is True
    assert report["outputs"]["b"]["passed"] is False
    assert report["outputs"]["b"]["max_rel_err"] == pytest.approx(0.01, rel=1e-3)
    assert report["passed"] is False


def test_missing_output_fails_with_reason():
    ref = {"logits": logits(), "pooled": logits(seed=3)}
    report = compare_outputs(ref, {"logits": ref["logits"].copy(), "extra": logits()}, TOL)
    assert report["passed"] is False
    assert report["outputs"]["logits"]["passed"] is True
    assert report["outputs"]["pooled"] == {"passed": False, "reason": "the ONNX model has no output 'pooled'"}
    assert "extra" not in report["outputs"]
    assert "pooled: the ONNX model has no output" in describe_failure(report)


def test_shape_mismatch_fails_with_reason():
    ref = logits(shape=(2, 10))
    report = compare_outputs({"y": ref}, {"y": ref.reshape(20)}, TOL)
    out = report["outputs"]["y"]
    assert report["passed"] is False and out["passed"] is False
    assert out["reason"] == "shape [20] differs from the source's [2, 10]"
    transposed = compare_outputs({"y": ref}, {"y": ref.T.copy()}, TOL)
    assert transposed["passed"] is False and "[10, 2]" in transposed["outputs"]["y"]["reason"]


def test_scale_free_tiny_outputs_perturbed_by_ten_percent_fail():
    ref = logits(scale=1e-9)
    assert float(np.abs(ref).max()) < 1e-8
    bad = compare_outputs({"y": ref}, {"y": ref * 1.1}, TOL)
    assert bad["passed"] is False
    assert bad["outputs"]["y"]["max_rel_err"] == pytest.approx(0.1, rel=1e-3)
    # a float32 rounding-level difference at the same scale still passes
    good = compare_outputs({"y": ref}, {"y": ref * np.float32(1 + 1e-6)}, TOL)
    assert good["passed"] is True
    # and the same relative error on large outputs is judged the same way
    assert compare_outputs({"y": ref * 1e10}, {"y": ref * 1e10 * 1.1}, TOL)["outputs"]["y"]["max_rel_err"] == (
        pytest.approx(0.1, rel=1e-3)
    )


def test_non_finite_and_all_zero_outputs():
    ref = logits()
    nan = ref.copy()
    nan[0, 0] = np.nan
    assert compare_outputs({"y": ref}, {"y": nan}, TOL)["passed"] is False
    zeros = np.zeros((2, 3), dtype=np.float32)
    assert compare_outputs({"y": zeros}, {"y": zeros.copy()}, TOL)["passed"] is True
    off = compare_outputs({"y": zeros}, {"y": zeros + 1e-3}, TOL)["outputs"]["y"]
    assert off["passed"] is False and off["max_rel_err"] == float("inf")


CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper

    from green_mlflow.convert.torch_to_onnx import export
    from green_mlflow.convert.validate import validate_onnx

    out_dir = Path(sys.argv[1])
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)).eval()
    feeds = {"input": np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)}
    with torch.inference_mode():
        reference = {"logits": module(torch.from_numpy(feeds["input"])).numpy()}
    good = out_dir / "good.onnx"
    export(module, feeds, good, 17, ["logits"])

    model = onnx.load(str(good))
    weights = {t.name: t for t in model.graph.initializer}
    # the last layer's weight (named after the module path); else the largest initializer
    target = "2.weight" if "2.weight" in weights else max(weights, key=lambda n: int(np.prod(weights[n].dims)))
    tensor = weights[target]
    tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor) * np.float32(1.5), target))
    bad = out_dir / "tampered.onnx"
    onnx.save(model, str(bad))

    result = {"initializers": sorted(weights), "tampered": target}
    for key, path in (("good", good), ("tampered_report", bad)):
        report = validate_onnx(str(path), feeds, reference, 1e-4)
        result[key] = {
            "checker": report["checker"],
            "parity": report["parity"],
            "onnx_initializer_parameters": report["onnx_initializer_parameters"],
        }
    print(json.dumps(result))
    """
)


@pytest.mark.slow
def test_tampered_onnx_initializer_fails_parity_and_untampered_passes(tmp_path):
    python = require_env("torch")
    script = tmp_path / "tamper.py"
    script.write_text(CHILD)
    proc = subprocess.run(
        [python, str(script), str(tmp_path)],
        cwd=tmp_path,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["tampered"] in result["initializers"]
    good, bad = result["good"], result["tampered_report"]
    params = 8 * 16 + 16 + 16 * 4 + 4
    for report in (good, bad):
        assert report["checker"] == "passed"
        assert report["onnx_initializer_parameters"] == params
    assert good["parity"]["passed"] is True
    assert good["parity"]["outputs"]["logits"]["shape"] == [3, 4]
    assert good["parity"]["outputs"]["logits"]["max_rel_err"] <= 1e-5
    assert bad["parity"]["passed"] is False
    assert bad["parity"]["outputs"]["logits"]["passed"] is False
    assert bad["parity"]["outputs"]["logits"]["max_rel_err"] > 1e-2
