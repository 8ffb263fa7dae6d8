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


def tidy_graph(onnx_path: str, input_names: dict[str, str], output_names: list[str]) -> dict:
    """Give the graph our input names (``input_names``: exporter's name → ours) and output names (by
    position), and drop initializers from its inputs.

    Converters name tensors their own way (``data0``, ``input:0``, ``Identity:0``…); the worker feeds
    and the parity check use our names. Some exporters (mxnet.onnx) also list every weight as a graph
    input, which stops ONNX Runtime from constant-folding them; removing those inputs changes no
    output. Returns what was changed, for the conversion report.
    """
    import onnx

    model = onnx.load(onnx_path)
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    weight_inputs = [i for i in graph.input if i.name in initializers]
    for item in weight_inputs:
        graph.input.remove(item)
    renames = {i.name: input_names.get(i.name, i.name) for i in graph.input}
    wanted = set(input_names.values())
    if set(renames.values()) != wanted or len(graph.output) < len(output_names):
        raise ValueError(
            f"the exported graph has inputs {[i.name for i in graph.input]} and outputs "
            f"{[o.name for o in graph.output]}; expected inputs {sorted(wanted)} and {len(output_names)} outputs"
        )
    for item, name in zip(graph.output, output_names):
        renames[item.name] = name
    for node in graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    for item in list(graph.input) + list(graph.output):
        item.name = renames.get(item.name, item.name)
    onnx.save(model, onnx_path)
    return {"weights_removed_from_inputs": len(weight_inputs), "renamed": {k: v for k, v in renames.items() if k != v}}
