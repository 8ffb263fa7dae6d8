"""ONNX conversion: export in the source framework's environment, validate, cache by content hash.

``ensure_onnx`` is the orchestrator's entry. The export itself runs in the source framework's
environment (``python -m green_mlflow.convert.<source>_to_onnx``), which checks the model with
``onnx.checker`` and compares ONNX Runtime's outputs with the source model's on identical inputs.
Only a conversion that passed parity is cached. ``user_onnx`` is the entry for ``model=onnx_file``: the user's
own file, checked (``onnx_file``) and handed over as it is, keyed by its content.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from green_mlflow.contract import ContractError, ConversionReport, ConversionSpec
from green_mlflow.convert.onnx_file import onnx_file_problem, read_header
from green_mlflow.launch import run_module, worker_env
from green_mlflow.registry import runtime

# bump when the export procedure or the report's contract changes, to invalidate the cache
CONVERTER_VERSION = "3"
CHECKSUM = "model.onnx.sha256"  # written with every cache entry, verified on every read


@dataclass(frozen=True)
class Conversion:
    ok: bool
    key: str
    onnx_path: Path | None
    report: ConversionReport  # parity, checker, exporter, timing; or the failure
    cached: bool


def distribution_versions(python: str, distributions: tuple[str, ...]) -> str:
    """Versions of the installed ``distributions`` in another interpreter, without importing them (fast)."""
    code = (
        "import importlib.metadata as m\n"
        f"for d in {distributions!r}:\n"
        "    try: print(d, m.version(d))\n"
        "    except m.PackageNotFoundError: pass\n"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=worker_env(), timeout=60)
    if out.returncode != 0 or not out.stdout.strip():
        raise RuntimeError(f"none of {', '.join(distributions)} is installed in {python}")
    return ";".join(out.stdout.split("\n")).strip(";")


def sha256_of(path: Path) -> str:
    """The file's content hash (hex): how a model file is recognised, wherever it lies."""
    return _sha256(path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(entry: Path) -> None:
    """Raise OSError unless the cached model is the one that was written (a disk fault, a truncated copy)."""
    sums = entry / CHECKSUM
    if not sums.exists():
        raise OSError(f"{sums.name} is missing")
    if _sha256(entry / "model.onnx") != sums.read_text().strip():
        raise OSError("model.onnx does not match its checksum (damaged on disk)")


def cache_key(model: dict, source: str, source_version: str, opset: int, batch_size: int, seed: int) -> str:
    payload = {
        "model": model,
        "source": source,
        "source_version": source_version,
        "opset": opset,
        "batch_size": batch_size,
        "seed": seed,
        "converter": CONVERTER_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def ensure_onnx(
    *,
    python: str,
    source: str,
    model: dict,
    batch_size: int,
    seed: int,
    opset: int,
    cache_dir: Path,
    workdir: Path,
    timeout_s: float,
    progress: Callable[[str], None],
) -> Conversion:
    """Return a validated ONNX model for this job, from the cache or by converting now."""
    framework = runtime(source)
    versions = distribution_versions(python, framework.distributions)
    key = cache_key(model, source, versions, opset, batch_size, seed)
    entry = cache_dir / key
    if (entry / "model.onnx").exists() and (entry / "conversion.json").exists():
        try:
            report = ConversionReport.read(entry / "conversion.json")
            _verify(entry)
            progress(f"ONNX model from cache {entry}")
            return Conversion(True, key, entry / "model.onnx", report, True)
        except (ContractError, json.JSONDecodeError, OSError) as err:
            progress(f"warning: ignoring the cache entry {entry} and converting again: {err}")
    progress(f"converting {model['name']} from {source} to ONNX (opset {opset})")
    began = time.monotonic()
    spec = ConversionSpec(model=model, batch_size=batch_size, seed=seed, opset=opset, output_dir=str(workdir))
    result = run_module(python, framework.converter, spec, workdir, timeout_s, ConversionReport, progress)
    result.conversion_process_s = time.monotonic() - began
    if not result.ok:
        return Conversion(False, key, None, result, False)
    staging = cache_dir / f".{key}.{time.time_ns()}"
    staging.mkdir(parents=True)
    shutil.copy2(workdir / "model.onnx", staging / "model.onnx")
    (staging / CHECKSUM).write_text(_sha256(staging / "model.onnx"))
    result.write(staging / "conversion.json")
    try:
        if entry.exists():  # an unreadable entry (skipped above) gives way to this one
            shutil.rmtree(entry, ignore_errors=True)
        staging.rename(entry)  # atomic: concurrent sweeps either win or find the entry complete
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return Conversion(True, key, entry / "model.onnx", result, False)


def user_onnx(model: dict, progress: Callable[[str], None]) -> Conversion:
    """``model=onnx_file``: the user's own ONNX file, used where it is, as it is (no conversion, no parity).

    The file must still be an ONNX model (``onnx_file.read_header``) and, when the plan hashed it
    (``model["sha256"]``), the same bytes: a file replaced between planning and measuring would otherwise be
    logged under the other file's configuration hash. ``key`` is its content hash (sha256 prefix), so the same
    file is recognised wherever it lies.
    """
    path = Path(model["path"])
    began = time.monotonic()
    problem = onnx_file_problem(path)
    if problem is None:
        digest = _sha256(path)
        if model.get("sha256") not in (None, digest):
            problem = f"model.path={path} changed after the sweep was planned (its sha256 differs): measure it again"
    if problem is not None:
        return Conversion(False, "", None, ConversionReport.failed(problem), False)
    header = read_header(path)
    made_by = f" (made by {header.producer})" if header.producer else ""
    report = ConversionReport(
        exporter=f"none: the user's own ONNX file, not converted{made_by}",
        source=None,
        opset=header.opset,
        checker=f"not run (no onnx package in the onnx environment): ModelProto structure read, IR version "
        f"{header.ir_version}; ONNX Runtime loads the graph in the worker",
        onnx_bytes=path.stat().st_size,
        conversion_process_s=time.monotonic() - began,
    )
    progress(f"ONNX model {path} (sha256 {digest[:12]}…, {report.onnx_bytes} bytes, opset {header.opset})")
    return Conversion(True, digest[:20], path, report, False)
