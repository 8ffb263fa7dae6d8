"""What every in-environment converter shares: the metered export, validation, and the command line
(``ConversionSpec`` in, ``ConversionReport`` out, through ``green_mlflow.contract.serve``)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from green_mlflow.contract import ConversionReport, ConversionSpec, serve
from green_mlflow.convert.parity import describe_failure
from green_mlflow.convert.validate import validate_onnx
from green_mlflow.meters import discover_meters


@contextmanager
def metered_export(report: dict):
    """Time the export and, where a counter can be read (NVML, RAPL), measure its energy into ``report``.

    No estimates here: a conversion is a one-off cost compared against measured inference energy.
    """
    meters, unavailable = discover_meters(cpu_tdp_w=None)
    meters = [m for m in meters if m.method == "counter"]
    starts = [m.mark() for m in meters]
    began = time.monotonic()
    yield
    report["export_s"] = time.monotonic() - began
    report["export_energy_j"] = {m.domain: m.energy_j(s, m.mark(), None) for m, s in zip(meters, starts)}
    report["export_energy_unavailable"] = {s.domain: s.detail for s in unavailable}


def finish_conversion(
    spec: ConversionSpec, onnx_path: Path, feeds: dict, reference: dict, report: dict
) -> ConversionReport:
    """Validate the exported file and turn the report into a result (failed when parity fails)."""
    report = {**validate_onnx(str(onnx_path), feeds, reference, float(spec.model["parity_tol"])), **report}
    report["onnx_bytes"] = onnx_path.stat().st_size
    (Path(spec.output_dir) / "parity.json").write_text(json.dumps(report["parity"], indent=2))
    if not report["parity"]["passed"]:
        return ConversionReport(status="failed", error=describe_failure(report["parity"]), **report)
    return ConversionReport(**report)


def main(convert: Callable[[ConversionSpec], ConversionReport], argv: list[str] | None = None) -> int:
    return serve(convert, ConversionSpec, ConversionReport, sys.argv[1:] if argv is None else argv)
