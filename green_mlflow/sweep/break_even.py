"""Break-even of an ONNX conversion: after how many inferences its one-off energy is repaid.

An ONNX job's conversion costs energy once (the export, metered by a counter where one exists); if
ONNX Runtime then uses less energy per sample than the framework the model came from, the cost is
repaid after ``conversion energy / (source J/sample − onnx J/sample)`` samples. Computed at the end
of a sweep from its ledger, with measured energies only (gross: what the host really spent), and
logged on each ONNX child run; where it cannot be computed the tag says why.
"""

from __future__ import annotations

from statistics import fmean

from green_mlflow.registry import RUNTIMES

PER_SAMPLE = "energy_per_sample_gross_j"


def break_even_inferences(conversion_j: float, onnx_per_sample_j: float, source_per_sample_j: float) -> float | None:
    """Samples until ``conversion_j`` is repaid; None when ONNX saves nothing per sample (never repaid)."""
    saving_j = source_per_sample_j - onnx_per_sample_j
    return conversion_j / saving_j if saving_j > 0 else None


def _default_mode(runtime: str) -> str | None:
    return RUNTIMES[runtime].default_mode if runtime in RUNTIMES else None


def _same_workload(a: dict, b: dict) -> bool:
    return all(a.get(k) == b.get(k) for k in ("model", "batch_size", "provider"))


def break_even_for_sweep(rows: list[dict]) -> dict[str, tuple[dict[str, float], dict[str, str]]]:
    """Per ONNX run id: (metrics, tags) to log. Source runs are the sweep's finished runs of the source
    framework for the same model, batch size and provider, in its default mode, averaged over repetitions."""
    finished = [r for r in rows if r.get("status") == "FINISHED" and r.get("run_id")]
    out: dict[str, tuple[dict[str, float], dict[str, str]]] = {}
    for onnx in (r for r in finished if r.get("runtime") == "onnx"):
        source = onnx.get("source")
        if onnx.get("conversion_energy_j") is None:
            out[onnx["run_id"]] = (
                {},
                {"break_even": "not computed: the conversion's energy was not measured (no counter)"},
            )
            continue
        if onnx.get(PER_SAMPLE) is None:
            out[onnx["run_id"]] = ({}, {"break_even": "not computed: this run's energy per sample was not measured"})
            continue
        peers = [
            r
            for r in finished
            if r.get("runtime") == source and _same_workload(r, onnx) and r.get("mode") == _default_mode(source)
        ]
        measured = [r[PER_SAMPLE] for r in peers if r.get(PER_SAMPLE) is not None]
        if not measured:
            why = f"no finished {source} run ({_default_mode(source)} mode) with measured energy for the same model, batch size and provider in this sweep"
            out[onnx["run_id"]] = ({}, {"break_even": f"not computed: {why}"})
            continue
        source_j = fmean(measured)
        n = break_even_inferences(onnx["conversion_energy_j"], onnx[PER_SAMPLE], source_j)
        basis = f"conversion {onnx['conversion_energy_j']:.4g} J vs {source} {source_j:.4g} J/sample (mean of {len(measured)} runs) and onnx {onnx[PER_SAMPLE]:.4g} J/sample, gross"
        if n is None:
            out[onnx["run_id"]] = (
                {},
                {"break_even": f"never: onnx uses no less energy per sample than {source} ({basis})"},
            )
        else:
            out[onnx["run_id"]] = ({"break_even_inferences": n}, {"break_even": basis})
    return out
