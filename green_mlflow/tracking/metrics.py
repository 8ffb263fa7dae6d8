"""Names and values of what a job logs, with units in every name (METHOD.md "Units and names").

Pure functions from the worker's result to MLflow params, metrics and tags: no MLflow calls here.
Measured energy (``counter``, ``polled``) and estimated energy never share a name: an estimate is
always ``*_estimated_j``, and ``energy_per_sample_j`` sums measured domains only.
"""

from __future__ import annotations

from typing import Any

MEASURED = ("counter", "polled")


def flatten_params(config: dict) -> dict[str, str]:
    """``{"runtime": {"name": "torch", "opset": 17}}`` → ``{"runtime": "torch", "runtime.opset": "17"}``."""
    params: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(prefix if key == "name" else f"{prefix}.{key}" if prefix else key, sub)
        else:
            params[prefix] = "null" if value is None else str(value)

    walk("", config)
    return params


def energy_metrics(energy: dict[str, dict]) -> tuple[dict[str, float], dict[str, str]]:
    """Per-domain energy metrics and the tags that say how each was obtained."""
    metrics: dict[str, float] = {}
    tags: dict[str, str] = {}
    measured_total, estimated_total = [], []
    for domain, entry in sorted(energy.items()):
        method = entry["method"]
        tags[f"energy.{domain}.method"] = method
        tags[f"energy.{domain}.detail"] = entry["detail"][:5000]
        if entry.get("errors"):
            tags[f"energy.{domain}.warnings"] = "; ".join(entry["errors"])[:5000]
        if method == "unavailable":
            continue
        suffix = "" if method in MEASURED else "_estimated"
        metrics[f"{domain}_energy{suffix}_j"] = entry["energy_j"]
        metrics[f"{domain}_energy_per_sample{suffix}_j"] = entry["per_sample_j"]
        metrics[f"{domain}_power_mean{suffix}_w"] = entry["mean_power_w"]
        if entry.get("warmup_energy_j") is not None:
            metrics[f"{domain}_warmup_energy{suffix}_j"] = entry["warmup_energy_j"]
        (measured_total if method in MEASURED else estimated_total).append((domain, entry["per_sample_j"]))
    if measured_total:
        metrics["energy_per_sample_j"] = sum(v for _, v in measured_total)
        tags["energy.total.covers"] = "+".join(d for d, _ in measured_total)
    if estimated_total:
        metrics["energy_per_sample_estimated_j"] = sum(v for _, v in measured_total + estimated_total)
        tags["energy.total_estimated.covers"] = "+".join(
            [d for d, _ in measured_total] + [f"{d}(estimated)" for d, _ in estimated_total]
        )
    return metrics, tags


def result_metrics(result: dict) -> dict[str, float]:
    """Scalar metrics of a finished measurement (energy excluded: see ``energy_metrics``)."""
    metrics = {f"latency_{k}": v for k, v in result["latency"].items() if k.endswith("_ms")}
    metrics["latency_iterations"] = result["latency"]["count"]
    metrics["throughput_samples_per_s"] = result["throughput_samples_per_s"]
    metrics["measured_samples"] = result["measured_samples"]
    metrics["measured_duration_s"] = result["measured_duration_s"]
    metrics["windows"] = len(result["windows"])
    metrics["model_load_s"] = result["load_s"]
    metrics["warmup_duration_s"] = result["warmup"]["duration_s"]
    metrics["warmup_iterations"] = result["warmup"]["iterations"]
    faults = [w["minor_faults_per_iteration"] for w in result["windows"] if "minor_faults_per_iteration" in w]
    if faults:
        metrics["minor_page_faults_per_iteration"] = sum(faults) / len(faults)
    metrics.update(result["utilisation"])
    metrics.update(result.get("temperatures", {}))
    return metrics


def result_tags(result: dict) -> dict[str, str]:
    """Hardware, versions and how the run was measured."""
    info = result["info"]
    tags = {f"host.{k}": v for k, v in result["host"].items()}
    tags.update({f"gpu.{k[4:]}": v for k, v in result.get("gpu", {}).items()})
    tags[f"version.{info['framework']}"] = info["framework_version"]
    tags["provider.in_use"] = str(info.get("provider_in_use"))
    tags["sampler.interval_s"] = f"{result['sampler']['interval_s']:g}"
    tags["sampler.samples"] = str(result["sampler"]["samples"])
    tags["sampler.process"] = "separate process (not inside the workload process)"
    tags["worker.malloc"] = " ".join(f"{k}={v}" for k, v in result.get("malloc_env", {}).items()) or "glibc defaults"
    return tags


def conversion_metrics(report: dict) -> tuple[dict[str, float], dict[str, str]]:
    """Metrics and tags of an ONNX conversion (parity, sizes, time)."""
    metrics: dict[str, float] = {}
    tags: dict[str, str] = {}
    parity = report.get("parity")
    if parity:
        errs = [o["max_rel_err"] for o in parity["outputs"].values() if "max_rel_err" in o]
        abs_errs = [o["max_abs_err"] for o in parity["outputs"].values() if "max_abs_err" in o]
        if errs:
            metrics["onnx_parity_max_rel_err"] = max(errs)
            metrics["onnx_parity_max_abs_err"] = max(abs_errs)
        tags["onnx.parity"] = "passed" if parity["passed"] else "failed"
        tags["onnx.parity_tol"] = f"{parity['tol']:g}"
    for key in ("export_s", "check_s", "parity_s"):
        if key in report:
            metrics[f"conversion_{key}"] = report[key]
    for domain, joules in report.get("export_energy_j", {}).items():
        metrics[f"conversion_export_{domain}_energy_j"] = joules
    if report.get("export_energy_unavailable"):
        tags["onnx.export_energy"] = "; ".join(
            f"{d}: unavailable ({why})" for d, why in report["export_energy_unavailable"].items()
        )[:5000]
    for key in ("onnx_bytes", "onnx_initializer_parameters", "source_parameters"):
        if key in report:
            metrics[key] = report[key]
    for key in ("exporter", "source_version", "onnx_version"):
        if key in report:
            tags[f"onnx.{key}"] = str(report[key])
    return metrics, tags
