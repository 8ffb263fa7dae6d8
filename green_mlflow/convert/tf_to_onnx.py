"""Export a TensorFlow/Keras model to ONNX with tf2onnx, in the tf environment:
``python -m green_mlflow.convert.tf_to_onnx spec.json result.json``.

``tf2onnx.convert.from_function`` on the model's ``tf.function`` (with Keras 3 on TF 2.21 it works for
all three models; ``from_keras`` needs Keras 2). Images: ``inputs_as_nchw`` makes the ONNX model take
NCHW like the torch export, so every ONNX model takes the same inputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import tensorflow as tf
import tf2onnx

from green_mlflow.contract import ConversionReport, ConversionSpec
from green_mlflow.convert.script import finish_conversion, main, metered_export
from green_mlflow.convert.validate import tidy_graph
from green_mlflow.models.inputs import OUTPUT_NAMES, make_inputs
from green_mlflow.models.tf_models import build_model, parameter_count, to_tf_layout

EXPORTER = f"tf2onnx {tf2onnx.__version__} from_function"


def convert(spec: ConversionSpec) -> ConversionReport:
    model_cfg = spec.model
    out_dir = Path(spec.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    model = build_model(model_cfg, spec.seed)
    feeds = make_inputs(model_cfg, spec.batch_size, spec.seed)
    tf_inputs = to_tf_layout(model_cfg, feeds)
    names = OUTPUT_NAMES[model_cfg["kind"]]

    def forward(*xs):
        return model(*xs, training=False) if len(xs) > 1 else model(xs[0], training=False)

    out = forward(*(tf.constant(x) for x in tf_inputs))
    reference = {n: t.numpy() for n, t in zip(names, out if isinstance(out, (tuple, list)) else (out,))}
    signature = [tf.TensorSpec(x.shape, tf.as_dtype(x.dtype), name=n) for x, n in zip(tf_inputs, feeds)]
    report = {
        "exporter": EXPORTER,
        "source": "tf",
        "source_version": tf.__version__,
        "source_parameters": parameter_count(model),
    }
    with metered_export(report):
        tf2onnx.convert.from_function(
            tf.function(forward),
            input_signature=signature,
            opset=spec.opset,
            output_path=str(path),
            inputs_as_nchw=[f"{n}:0" for n in feeds] if model_cfg["kind"] == "image" else None,
        )
    report["graph_tidy"] = tidy_graph(str(path), {**{n: n for n in feeds}, **{f"{n}:0": n for n in feeds}}, names)
    return finish_conversion(spec, path, feeds, reference, report)


if __name__ == "__main__":
    sys.exit(main(convert))
