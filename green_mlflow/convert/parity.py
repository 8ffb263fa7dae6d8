"""Output parity between a source model and its ONNX conversion (numpy only).

Seeded random weights give outputs of very different scales (torchvision's MobileNetV2 initialiser
yields logits of ~1e-9, ResNet-50's ~10), so an absolute tolerance would pass anything on one
model and fail on another. The error is therefore normalised by the output's largest magnitude:
``max|onnx - source| / max|source|``, compared with ``model.parity_tol``.
"""

from __future__ import annotations

import numpy as np


def compare_outputs(reference: dict[str, np.ndarray], converted: dict[str, np.ndarray], tol: float) -> dict:
    """Compare outputs by name; each passes when its normalised max error is at most ``tol``."""
    outputs = {}
    for name, ref in reference.items():
        if name not in converted:
            outputs[name] = {"passed": False, "reason": f"the ONNX model has no output {name!r}"}
            continue
        got = converted[name]
        if got.shape != ref.shape:
            outputs[name] = {
                "passed": False,
                "reason": f"shape {list(got.shape)} differs from the source's {list(ref.shape)}",
            }
            continue
        ref64, got64 = ref.astype(np.float64), got.astype(np.float64)
        max_abs_err = float(np.abs(got64 - ref64).max()) if ref.size else 0.0
        scale = float(np.abs(ref64).max()) if ref.size else 0.0
        rel = max_abs_err / scale if scale > 0 else (0.0 if max_abs_err == 0 else float("inf"))
        outputs[name] = {
            "passed": bool(np.isfinite(got64).all() and rel <= tol),
            "shape": list(ref.shape),
            "max_abs_err": max_abs_err,
            "max_abs_source": scale,
            "max_rel_err": rel,
        }
    passed = bool(outputs) and all(o["passed"] for o in outputs.values())
    return {"passed": passed, "tol": tol, "outputs": outputs}


def describe_failure(report: dict) -> str:
    bad = [
        f"{name}: {out['reason']}"
        if "reason" in out
        else f"{name}: max error {out['max_rel_err']:.3g} of the output's scale"
        for name, out in report["outputs"].items()
        if not out["passed"]
    ]
    return (
        f"ONNX output differs from the source model beyond tolerance {report['tol']:g} ({'; '.join(bad)}). "
        "The conversion is wrong; the run is refused rather than measuring a different model "
        "(tolerance: model.parity_tol)"
    )
