"""Export an MXNet Gluon model to ONNX with ``mxnet.onnx.export_model``, in the mxnet environment:
``python -m green_mlflow.convert.mxnet_to_onnx spec.json result.json``.

The block is hybridized and exported to symbol + params, then converted. mxnet.onnx takes no opset
argument: it asks ``onnx.defs.onnx_opset_version()`` (20 with onnx 1.15), checks and stamps the file
with it, but its op converters are written for opsets 12–13 (its LayerNorm emits ReduceMean with an
``axes`` attribute, which opset 18 removed), so BERT fails the check. We make that answer
min(runtime.opset, 13) during the export and stamp the file with it; the report records both. Its files
list every weight as a graph input, which blocks ONNX Runtime's constant folding; ``tidy_graph``
removes those inputs (the report counts them).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

from green_mlflow.contract import ConversionReport, ConversionSpec
from green_mlflow.convert.script import finish_conversion, main, metered_export
from green_mlflow.convert.validate import tidy_graph
from green_mlflow.models.inputs import OUTPUT_NAMES, make_inputs
from green_mlflow.models.mxnet_shim import import_mxnet

mx = import_mxnet()
from green_mlflow.models.mxnet_models import build_model, parameter_count  # noqa: E402

MAX_OPSET = 13


@contextmanager
def onnx_opset(version: int):
    """During the export, make onnx's newest opset ``version``: mxnet.onnx asks
    ``onnx.defs.onnx_opset_version()`` which converters to use, and checks its graph with
    ``onnx.checker.check_graph``'s default context (onnx's newest opset)."""
    import onnx.checker
    import onnx.defs

    original_version, original_check = onnx.defs.onnx_opset_version, onnx.checker.check_graph

    def check_graph(graph, ctx=None):
        context = onnx.checker.C.CheckerContext()
        context.ir_version = 7  # the IR version of opset 13
        context.opset_imports = {"": version}
        return original_check(graph, context)

    onnx.defs.onnx_opset_version = lambda: version
    onnx.checker.check_graph = check_graph
    try:
        yield
    finally:
        onnx.defs.onnx_opset_version, onnx.checker.check_graph = original_version, original_check


def stamp_opset(path: Path, version: int) -> None:
    """Declare the opset the nodes were written for (make_model stamps onnx's newest regardless)."""
    import onnx

    model = onnx.load(str(path))
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            entry.version = version
    onnx.save(model, str(path))


def convert(spec: ConversionSpec) -> ConversionReport:
    from mxnet import onnx as mx_onnx

    model_cfg = spec.model
    out_dir = Path(spec.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    net = build_model(model_cfg, spec.seed)
    net.hybridize(static_alloc=True, static_shape=True)
    feeds = make_inputs(model_cfg, spec.batch_size, spec.seed)
    inputs = [mx.nd.array(a, dtype=a.dtype) for a in feeds.values()]
    out = net(*inputs)
    names = OUTPUT_NAMES[model_cfg["kind"]]
    reference = {n: t.asnumpy() for n, t in zip(names, out if isinstance(out, (tuple, list)) else (out,))}
    prefix = str(out_dir / "mxnet_model")
    net.export(prefix)
    opset = min(spec.opset, MAX_OPSET)
    report = {
        "exporter": f"mxnet.onnx.export_model (mxnet {mx.__version__})",
        "source": "mxnet",
        "source_version": mx.__version__,
        "source_parameters": parameter_count(net),
        "opset_requested": spec.opset,
    }
    with metered_export(report), onnx_opset(opset):
        mx_onnx.export_model(
            f"{prefix}-symbol.json",
            f"{prefix}-0000.params",
            in_shapes=[a.shape for a in feeds.values()],
            in_types=[a.dtype for a in feeds.values()],
            onnx_file_path=str(path),
        )
    stamp_opset(path, opset)
    # Gluon names a block's inputs data (one) or data0, data1… (several), in forward-argument order
    exported = ["data"] if len(feeds) == 1 else [f"data{i}" for i in range(len(feeds))]
    report["graph_tidy"] = tidy_graph(str(path), dict(zip(exported, feeds)), names)
    return finish_conversion(spec, path, feeds, reference, report)


if __name__ == "__main__":
    sys.exit(main(convert))
