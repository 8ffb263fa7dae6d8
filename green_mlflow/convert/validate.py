"""Checks every conversion passes, run in the source framework's environment (needs onnx + onnxruntime)."""

from __future__ import annotations

import time

import numpy as np

from green_mlflow.convert.parity import compare_outputs


def validate_onnx(onnx_path: str, feeds: dict[str, np.ndarray], reference: dict[str, np.ndarray], tol: float) -> dict:
    """``onnx.checker`` on the file, then ONNX Runtime (CPU) outputs against ``reference``."""
    import onnx
    import onnxruntime as ort

    began = time.monotonic()
    onnx.checker.check_model(onnx_path, full_check=True)
    model = onnx.load(onnx_path, load_external_data=False)
    initializer_parameters = int(sum(np.prod(t.dims, dtype=np.int64) for t in model.graph.initializer))
    checked = time.monotonic()
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}
    names = [o.name for o in session.get_outputs()]
    converted = dict(zip(names, session.run(None, {k: v for k, v in feeds.items() if k in wanted})))
    parity = compare_outputs(reference, converted, tol)
    return {
        "checker": "passed",
        "onnx_initializer_parameters": initializer_parameters,
        "opset": max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=None),
        "parity": parity,
        "check_s": checked - began,
        "parity_s": time.monotonic() - checked,
        "onnxruntime_version": ort.__version__,
        "onnx_version": onnx.__version__,
    }
