"""What a study does not show, in visible sentences: the scope it did not measure, how each energy domain was
obtained (an estimate's formula and constants, or why a domain is unavailable), the idle power and why net
equals gross where it does, and what the verdicts guarantee.

Read off the runs' own tags (``energy.<domain>.method`` / ``.detail``) and the parent runs' idle baseline,
never written for a particular result.
"""

from __future__ import annotations

from green_mlflow.registry import PROVIDERS, RUNTIMES
from green_mlflow.report.analysis import View
from green_mlflow.study.tables import Study

# The seed study's scope (Alizadeh & Castor, CAIN 2024): what "not measured" is measured against.
STUDY_MODELS = ("resnet50", "mobilenet_v2", "bert_base")
STUDY_BATCH_SIZES = ("1", "64")
DOMAIN_NAMES = {"gpu": "GPU", "cpu": "CPU", "dram": "DRAM"}


def _missing(kind: str, wanted: tuple[str, ...], seen: set[str]) -> str | None:
    left = [w for w in wanted if w not in seen]
    return f"{kind}{'s' if len(left) > 1 else ''} {', '.join(left)}" if left else None


def scope(view: View) -> str | None:
    """The paper's scope this view did not measure, and the hardware it did."""
    runs = [r for r in view.dataset.runs if r.finished]
    if not runs:
        return None
    gaps = [
        _missing("model", STUDY_MODELS, {r.model for r in runs}),
        _missing("batch size", STUDY_BATCH_SIZES, {r.batch_size for r in runs}),
        _missing("runtime", tuple(RUNTIMES), {r.runtime for r in runs}),
        _missing("provider", PROVIDERS, {r.provider for r in runs}),
    ]
    gaps = [g for g in gaps if g]
    hardware = sorted({r.hardware or "unknown hardware" for r in runs})
    text = f"Measured on {', '.join(hardware)} only: another machine can rank the runtimes differently."
    if gaps:
        text = f"Not measured: {'; '.join(gaps)}. " + text
    return text


def energy(view: View) -> list[str]:
    """One sentence per energy domain: measured (by what), estimated (the formula, its constants), unavailable."""
    seen: dict[str, dict[str, str]] = {}
    for run in view.dataset.runs:
        if run.finished:
            for domain, method in run.methods.items():
                seen.setdefault(domain, {}).setdefault(method, run.details.get(domain, ""))
    out = []
    for domain in ("gpu", "cpu", "dram"):
        for method, detail in seen.get(domain, {}).items():
            name = DOMAIN_NAMES[domain]
            why = detail.removeprefix("estimated: ")
            if method == "estimated":
                out.append(f"{name} energy is estimated, not measured: {why}.")
            elif method == "unavailable":
                out.append(f"{name} energy is not in any figure: {why or 'no reading was possible'}.")
            else:
                out.append(f"{name} energy is measured ({method}){': ' + why if why else ''}.")
    return out


def idle(view: View) -> list[str]:
    """The idle power subtracted for net energy, and why net equals gross where it does."""
    out = []
    for sweep in view.dataset.sweeps:
        if not sweep.idle_power_w:
            out.append(f"No idle power was logged ({sweep.run_name or sweep.run_id}), so there is no net energy.")
            continue
        parts = []
        for name, watts in sorted(sweep.idle_power_w.items()):
            domain = name.removeprefix("idle_").split("_")[0]
            method = sweep.idle_methods.get(domain) or ("estimated" if "_estimated_" in name else "method not logged")
            parts.append(f"{DOMAIN_NAMES.get(domain, domain)} {watts:.3g} W ({method})")
        text = f"Idle power ({sweep.run_name or sweep.run_id}): {', '.join(parts)}."
        if all(w == 0 for w in sweep.idle_power_w.values()):
            estimated = all(m == "estimated" for m in sweep.idle_methods.values() if m != "unavailable")
            why = (
                "the estimate counts only the CPU time of the measured process, which is 0 while idle"
                if estimated
                else "the meters read no power above zero while idle"
            )
            text += f" Net energy therefore equals gross: {why}."
        out.append(text)
    return out


def limits(view: View, study: Study) -> list[str]:
    """Every sentence of "What this study does not show", in reading order."""
    out = [s for s in [scope(view)] if s] + energy(view) + idle(view)
    if study.family is not None and study.answers:
        out.append(
            f"What the verdicts guarantee: {study.family.guarantee}; equivalence means within "
            f"±{study.margin_rel * 100:.3g} %. They speak of these runs on this hardware, not of runtimes in general."
        )
    return out
