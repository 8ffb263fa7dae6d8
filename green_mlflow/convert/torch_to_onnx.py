"""Export a PyTorch model to ONNX, in the torch environment:
``python -m green_mlflow.convert.torch_to_onnx spec.json result.json``.

Exporter: the TorchScript-based exporter (``dynamo=False``). It needs no extra dependency
(the dynamo exporter needs onnxscript), takes seconds rather than minutes for BERT-base, and gives
static-shape graphs whose ORT outputs match torch to ~1e-6 of the output scale. It traces one batch size: the cache
key includes the batch size, so each batch size gets its own static graph (what TensorRT and
CUDA graphs want anyway).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from green_mlflow.contract import ConversionReport, ConversionSpec
from green_mlflow.convert.script import finish_conversion, main, metered_export
from green_mlflow.models.inputs import OUTPUT_NAMES, make_inputs
from green_mlflow.models.torch_factory import build_factory_model, output_tensors
from green_mlflow.models.torch_models import build_model, parameter_count

EXPORTER = "torch.onnx.export(dynamo=False) (TorchScript-based)"


def export(
    module: torch.nn.Module,
    feeds: dict[str, np.ndarray],
    path: Path,
    opset: int,
    output_names: list[str],
    keywords: bool = False,
) -> None:
    """Export ``module`` called with ``feeds`` (in order, positionally; by name with ``keywords``) to ``path``."""
    tensors = {k: torch.from_numpy(v) for k, v in feeds.items()}
    args = () if keywords else tuple(tensors.values())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(
            module,
            args,
            str(path),
            kwargs=tensors if keywords else None,
            dynamo=False,
            opset_version=opset,
            input_names=list(feeds),
            output_names=output_names,
            do_constant_folding=True,
        )


def convert(spec: ConversionSpec) -> ConversionReport:
    model_cfg = spec.model
    out_dir = Path(spec.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    keywords = False
    if model_cfg["kind"] == "python":  # the user's factory: its inputs' names, dtypes and shapes, seeded values
        built = build_factory_model(model_cfg, spec.batch_size, spec.seed)
        module, keywords = built.module, built.keywords
        feeds = {k: v.numpy() for k, v in built.inputs.items()}
        with torch.inference_mode():
            reference = {n: t.numpy() for n, t in output_tensors(built()).items()}
        names = list(reference)
    else:
        module = build_model(model_cfg, spec.seed)
        feeds = make_inputs(model_cfg, spec.batch_size, spec.seed)
        with torch.inference_mode():
            out = module(*(torch.from_numpy(v) for v in feeds.values()))
        # a checkpoint's outputs are named as it names them (known after a call); the study's are fixed
        names = module.output_names if model_cfg["kind"] == "hf" else OUTPUT_NAMES[model_cfg["kind"]]
        reference = {n: t.numpy() for n, t in zip(names, out if isinstance(out, tuple) else (out,))}
    report = {
        "exporter": EXPORTER,
        "source": "torch",
        "source_version": torch.__version__,
        "source_parameters": parameter_count(module),
    }
    with metered_export(report):
        export(module, feeds, path, spec.opset, names, keywords)
    return finish_conversion(spec, path, feeds, reference, report)


if __name__ == "__main__":
    sys.exit(main(convert))
