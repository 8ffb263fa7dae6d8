"""Names and values of what a job logs, with units in every name (docs/method.md, "Units and names").

Pure functions from the worker's result to MLflow params, metrics and tags: no MLflow calls here.
Measured energy (``counter``, ``polled``) and estimated energy never share a name: an estimate is
always ``*_estimated_j``, and ``energy_per_sample_{gross,net}_j`` sum measured domains only.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from green_mlflow.contract import Contention, ConversionReport, DomainEnergy, IdleResult, WorkerResult
from green_mlflow.meters.base import MEASURED
from green_mlflow.tracking.flags import allocator_tags, cpu_contention_tags, stability_tags_and_metrics


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


def _idle_for(domain: str, method: str, idle: IdleResult | None) -> tuple[float | None, str]:
    """The idle power to subtract from ``domain`` and where it came from (or why there is none)."""
    if idle is None:
        return None, "no idle baseline (measure.idle_s=0): net energy not computed"
    if not idle.ok:
        return None, f"idle baseline failed, net energy not computed: {idle.error or 'no detail'}"
    entry = idle.domains.get(domain)
    if entry is None or entry.power_w is None:
        why = entry.detail if entry else "not metered while idle"
        return None, f"no idle power for {domain}: {why}"
    if entry.method != method:
        return None, f"idle was metered by {entry.method}, this run by {method}: not subtracted"
    where = f"idle {entry.power_w:.3f} W over {idle.duration_s:.1f} s on {idle.host_name or 'this host'}"
    return entry.power_w, where


def energy_metrics(
    energy: dict[str, DomainEnergy], idle: IdleResult | None = None
) -> tuple[dict[str, float], dict[str, str]]:
    """Per-domain gross and net energy and the tags that say how each was obtained (docs/metrics.md).

    Net = gross − idle power × measured seconds, with the idle power of the same domain read by the
    same method; where there is none, net is absent (and the tag says why), never equal to gross.
    """
    metrics: dict[str, float] = {}
    tags: dict[str, str] = {}
    totals: dict[tuple[bool, str], list[tuple[str, float]]] = {}
    for domain, entry in sorted(energy.items()):
        method = entry.method
        tags[f"energy.{domain}.method"] = method
        tags[f"energy.{domain}.detail"] = entry.detail[:5000]
        if entry.errors:
            tags[f"energy.{domain}.warnings"] = "; ".join(entry.errors)[:5000]
        if method == "unavailable":
            continue
        measured = method in MEASURED
        est = "" if measured else "_estimated"
        gross_j, samples, seconds = entry.energy_j, entry.samples, entry.duration_s
        metrics[f"{domain}_energy_gross{est}_j"] = gross_j
        metrics[f"{domain}_energy_per_sample_gross{est}_j"] = gross_j / samples
        metrics[f"{domain}_power_mean{est}_w"] = gross_j / seconds
        for phase, phase_j in (("warmup", entry.warmup_energy_j), ("load", entry.load_energy_j)):
            if phase_j is not None:
                metrics[f"{domain}_{phase}_energy{est}_j"] = phase_j
        totals.setdefault((measured, "gross"), []).append((domain, gross_j / samples))
        idle_w, where = _idle_for(domain, method, idle)
        tags[f"energy.{domain}.idle"] = where
        if idle_w is not None:
            net_j = gross_j - idle_w * seconds
            metrics[f"{domain}_idle_power{est}_w"] = idle_w
            metrics[f"{domain}_energy_net{est}_j"] = net_j
            metrics[f"{domain}_energy_per_sample_net{est}_j"] = net_j / samples
            totals.setdefault((measured, "net"), []).append((domain, net_j / samples))
    for kind in ("gross", "net"):
        measured_parts = totals.get((True, kind), [])
        estimated_parts = totals.get((False, kind), [])
        if measured_parts:
            metrics[f"energy_per_sample_{kind}_j"] = sum(v for _, v in measured_parts)
            tags[f"energy.total_{kind}.covers"] = "+".join(d for d, _ in measured_parts)
        if estimated_parts:
            metrics[f"energy_per_sample_{kind}_estimated_j"] = sum(v for _, v in measured_parts + estimated_parts)
            tags[f"energy.total_{kind}_estimated.covers"] = "+".join(
                [d for d, _ in measured_parts] + [f"{d}(estimated)" for d, _ in estimated_parts]
            )
    return metrics, tags


J_PER_WH = 3600.0
J_PER_KWH = 3.6e6


def efficiency_metrics(metrics: dict[str, float], intensity_g_per_kwh: float | None = None) -> dict[str, float]:
    """From each total energy per sample a job logged (measured and estimated apart, gross and net): Wh per
    1,000 samples (AI Energy Score's unit), samples per kWh, and with a carbon intensity, grams CO2e per
    1,000 samples. A total that is not positive (net energy below idle) gives no efficiency figure."""
    out: dict[str, float] = {}
    for kind in ("gross", "net"):
        for est in ("", "_estimated"):
            per_sample_j = metrics.get(f"energy_per_sample_{kind}{est}_j")
            if per_sample_j is None or per_sample_j <= 0:
                continue
            wh_per_1000 = per_sample_j * 1000 / J_PER_WH
            out[f"energy_{kind}{est}_wh_per_1000_samples"] = wh_per_1000
            out[f"samples_per_kwh_{kind}{est}"] = J_PER_KWH / per_sample_j
            if intensity_g_per_kwh is not None:
                out[f"co2e_{kind}{est}_g_per_1000_samples"] = intensity_g_per_kwh * wh_per_1000 / 1000
    return out


def result_metrics(result: WorkerResult) -> dict[str, float]:
    """Scalar metrics of a finished measurement (energy excluded: see ``energy_metrics``)."""
    metrics: dict[str, float] = {}
    if result.latency is not None:  # the throughput scenario times no single iteration: no latency at all
        metrics.update({f"latency_{k}": v for k, v in asdict(result.latency).items() if k.endswith("_ms")})
        metrics["latency_iterations"] = result.latency.count
    else:
        metrics["batch_time_mean_ms"] = result.measured_duration_s * 1e3 / sum(w.iterations for w in result.windows)
    metrics["throughput_samples_per_s"] = result.throughput_samples_per_s
    metrics["measured_samples"] = result.measured_samples
    metrics["measured_duration_s"] = result.measured_duration_s
    metrics["windows"] = len(result.windows)
    metrics["model_load_s"] = result.load_s
    metrics["warmup_duration_s"] = result.warmup.duration_s
    metrics["warmup_iterations"] = result.warmup.iterations
    if result.windows:
        faults = [w.minor_faults_per_iteration for w in result.windows]
        metrics["minor_page_faults_per_iteration"] = sum(faults) / len(faults)
    metrics.update(result.utilisation)
    metrics.update(result.temperatures)
    if result.cooldown is not None:
        metrics["cooldown_wait_s"] = result.cooldown.waited_s
    metrics.update(stability_tags_and_metrics(result)[1])
    if result.precision is not None and result.precision.ci_rel is not None:
        metrics["precision_ci_rel"] = result.precision.ci_rel
    if result.cpu_contention is not None and result.cpu_contention.other_cores is not None:
        metrics["cpu_contention_other_cores"] = result.cpu_contention.other_cores
    return metrics


def result_tags(result: WorkerResult) -> dict[str, str]:
    """Hardware, versions and how the run was measured."""
    info = result.info
    tags = {f"host.{k}": v for k, v in result.host.items()}
    tags.update({f"gpu.{k[4:]}": v for k, v in result.gpu.items()})
    tags[f"version.{info['framework']}"] = info["framework_version"]
    tags["provider.in_use"] = str(info.get("provider_in_use"))
    tags["sampler.interval_s"] = f"{result.sampler.interval_s:g}"
    tags["sampler.samples"] = str(result.sampler.samples)
    tags["sampler.process"] = "separate process (not inside the workload process)"
    if result.cooldown is not None:
        tags["cooldown"] = result.cooldown.outcome
    tags.update(contention_tags(result.contention))
    tags.update(cpu_contention_tags(result.cpu_contention))
    tags.update(stability_tags_and_metrics(result)[0])
    tags.update(allocator_tags(result))
    if result.scenario_note is not None:
        tags["scenario.note"] = result.scenario_note
    if result.precision is not None:
        tags["precision.outcome"] = result.precision.outcome
        tags["precision.quantity"] = result.precision.quantity
    tags["worker.malloc"] = " ".join(f"{k}={v}" for k, v in result.malloc_env.items()) or "glibc defaults"
    return tags


def contention_tags(contention: Contention | None) -> dict[str, str]:
    """``green.gpu_contention``: ``none``, ``detected: …`` or ``not checked: …`` (docs/method.md rule 5)."""
    if contention is None:
        return {}
    if not contention.checked:
        return {"green.gpu_contention": f"not checked: {contention.reason or 'no detail'}"}
    busy = contention.windows_with_other_processes
    if not busy:
        return {"green.gpu_contention": "none"}
    pids = ", ".join(
        f"pid {pid}" + (f" ({mib:.0f} MiB)" if mib is not None else "")
        for pid, mib in sorted(contention.other_processes.items())
    )
    return {
        "green.gpu_contention": f"detected: {pids or 'other processes'} used the GPU during {busy} of "
        f"{contention.windows} windows; GPU energy includes their work"
    }


def conversion_metrics(report: ConversionReport) -> tuple[dict[str, float], dict[str, str]]:
    """Metrics and tags of an ONNX conversion (parity, sizes, time)."""
    metrics: dict[str, float] = {}
    tags: dict[str, str] = {}
    parity = report.parity
    if parity:
        errs = [o["max_rel_err"] for o in parity["outputs"].values() if "max_rel_err" in o]
        abs_errs = [o["max_abs_err"] for o in parity["outputs"].values() if "max_abs_err" in o]
        if errs:
            metrics["onnx_parity_max_rel_err"] = max(errs)
            metrics["onnx_parity_max_abs_err"] = max(abs_errs)
        tags["onnx.parity"] = "passed" if parity["passed"] else "failed"
        tags["onnx.parity_tol"] = f"{parity['tol']:g}"
    for key in ("export_s", "check_s", "parity_s"):
        if getattr(report, key) is not None:
            metrics[f"conversion_{key}"] = getattr(report, key)
    for domain, joules in report.export_energy_j.items():
        metrics[f"conversion_export_{domain}_energy_j"] = joules
    if report.export_energy_unavailable:
        tags["onnx.export_energy"] = "; ".join(
            f"{d}: unavailable ({why})" for d, why in report.export_energy_unavailable.items()
        )[:5000]
    for key in ("onnx_bytes", "onnx_initializer_parameters", "source_parameters"):
        if getattr(report, key) is not None:
            metrics[key] = getattr(report, key)
    for key in ("exporter", "source_version", "onnx_version"):
        if getattr(report, key) is not None:
            tags[f"onnx.{key}"] = str(getattr(report, key))
    return metrics, tags
