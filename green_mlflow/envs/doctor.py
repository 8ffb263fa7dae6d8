"""``python -m green_mlflow.envs doctor``: what will run on this host, per runtime × provider, and why not.

One row per combination: the environment it needs (present? its framework importable, which version?),
whether the framework sees a GPU (torch, TensorFlow, MXNet) or offers the execution provider (ONNX Runtime,
with its CUDA/cuDNN/TensorRT libraries loadable), and for every "no" what to do. Above the table, the
host: NVML (driver, GPUs, energy counter or polled power) and RAPL (readable, or why not). Exit 0 when
every combination asked for (``--runtime``, ``--provider``) can run, 1 otherwise.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from green_mlflow.envs import chosen_interpreter, env_python, is_current
from green_mlflow.launch import worker_env
from green_mlflow.meters.nvml import gpu_facts, probe_nvml, visible_gpus
from green_mlflow.meters.rapl import POWERCAP_ROOT, probe_rapl
from green_mlflow.registry import PROVIDERS, RUNTIMES, runtime

PROBE_TIMEOUT_S = 180  # TensorFlow's import alone takes seconds on a loaded host


@dataclass
class Host:
    gpus: list[str]
    no_gpu_reason: str | None
    driver: str | None
    gpu_energy: str  # counter / polled / unavailable: why
    cpu_energy: str  # RAPL readable / unavailable: why

    def lines(self) -> list[str]:
        gpu = (
            f"NVIDIA driver {self.driver}; " + "; ".join(f"GPU {i}: {n}" for i, n in enumerate(self.gpus))
            if self.gpus
            else f"no NVIDIA GPU visible ({self.no_gpu_reason})"
        )
        return [f"GPUs:       {gpu}", f"GPU energy: {self.gpu_energy}", f"CPU energy: {self.cpu_energy}"]


@dataclass
class Row:
    runtime: str
    provider: str
    env: str
    ok: bool
    found: str  # what was found: the framework and version, the GPU or provider it offers
    fix: str = ""  # what to do where it cannot run
    details: dict[str, Any] = field(default_factory=dict)


def host_facts(nvml: Any = None, powercap_root: Path = POWERCAP_ROOT) -> Host:
    gpus, why = visible_gpus(nvml)
    driver = gpu_facts(0, nvml).get("gpu_driver") if gpus else None
    if gpus:
        meters, statuses = probe_nvml(0, nvml)
        gpu_energy = f"{meters[0].method}: {meters[0].covers}" if meters else f"unavailable: {statuses[0].detail}"
    else:
        gpu_energy = "unavailable: no GPU"
    rapl, rapl_statuses = probe_rapl(powercap_root)
    parts = [f"{m.domain}: readable ({m.covers})" for m in rapl] + [
        f"{s.domain}: unavailable ({s.detail})" for s in rapl_statuses
    ]
    return Host(gpus, why, driver, gpu_energy, "; ".join(parts))


def run_probe(python: str, runtime_name: str) -> dict:
    """The probe's answer from ``python`` (an environment's interpreter)."""
    try:
        out = subprocess.run(
            [python, "-m", "green_mlflow.envs.probe", runtime_name],
            capture_output=True,
            text=True,
            env=worker_env(),
            timeout=PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return {"importable": False, "error": f"the probe did not answer within {PROBE_TIMEOUT_S} s"}
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"importable": False, "error": f"the probe failed (exit {out.returncode}): {out.stderr.strip()[-500:]}"}


def _interpreter(runtime_name: str, env: str) -> tuple[str | None, str]:
    """The interpreter a worker would use, and how it was chosen; None where none exists yet."""
    chosen = chosen_interpreter(runtime_name)
    if chosen:
        return (chosen if Path(chosen).exists() else None), f"GREEN_MLFLOW_PYTHON_{runtime_name.upper()}={chosen}"
    return (str(env_python(env)) if is_current(env) else None), f"environment {env}"


def diagnose(
    runtimes: list[str], providers: list[str], host: Host, probe: Callable[[str, str], dict] = run_probe
) -> list[Row]:
    rows: list[Row] = []
    wanted = {
        (_interpreter(name, runtime(name).envs[p])[0], name)
        for name in runtimes
        for p in providers
        if p in runtime(name).providers and (p == "cpu" or host.gpus)
    }
    with ThreadPoolExecutor(max_workers=4) as pool:  # each probe imports a framework: seconds each
        futures = {(python, name): pool.submit(probe, python, name) for python, name in wanted if python}
    answers = {key: future.result() for key, future in futures.items()}
    for name in runtimes:
        entry = runtime(name)
        for provider in providers:
            if provider not in entry.providers:
                continue
            env = entry.envs[provider]
            setup = f"python -m green_mlflow.envs setup {env}"
            if provider != "cpu" and not host.gpus:
                fix = "run it on a host with an NVIDIA GPU and its driver (nvidia-smi must list the GPU)"
                rows.append(Row(name, provider, env, False, f"no NVIDIA GPU visible ({host.no_gpu_reason})", fix))
                continue
            python, how = _interpreter(name, env)
            if python is None:
                rows.append(Row(name, provider, env, False, f"{how} is not set up", setup))
                continue
            answer = answers.get((python, name)) or probe(python, name)
            rows.append(_judge(entry.label, name, provider, env, answer, setup))
    return rows


def _judge(label: str, name: str, provider: str, env: str, answer: dict, setup: str) -> Row:
    if not answer.get("importable") or "framework_version" not in answer:
        return Row(
            name,
            provider,
            env,
            False,
            f"{label} does not import: {answer.get('error')}",
            f"re-create it: {setup}",
            answer,
        )
    found = f"{label} {answer['framework_version']}"
    if provider == "cpu":
        return Row(name, provider, env, True, found, details=answer)
    if name != "onnx":
        if answer.get("gpu_count", 0) > 0:
            return Row(name, provider, env, True, f"{found}; {answer['gpu_detail']}", details=answer)
        return Row(name, provider, env, False, f"{found}; {answer.get('gpu_detail')}", f"a GPU build: {setup}", answer)
    wanted = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}[provider]
    if wanted not in answer.get("providers_available", []):
        offered = ", ".join(answer.get("providers_available", []))
        return Row(name, provider, env, False, f"{found} offers only {offered}", f"the GPU build: {setup}", answer)
    problems = answer.get("library_problems", {}).get(provider) or []
    if problems:
        return Row(name, provider, env, False, f"{found}; " + "; ".join(problems), f"re-create it: {setup}", answer)
    return Row(name, provider, env, True, f"{found}; {wanted} with its libraries loadable", details=answer)


def table(host: Host, rows: list[Row]) -> str:
    header = ("runtime", "provider", "environment", "runs here", "what was found / how to fix")
    cells = [
        (r.runtime, r.provider, r.env, "yes" if r.ok else "no", r.found + (f" → {r.fix}" if r.fix else ""))
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(4)]
    fmt = "  ".join(f"{{:{w}}}" for w in widths) + "  {}"
    out = [*host.lines(), "", fmt.format(*header), fmt.format(*("-" * w for w in widths), "-" * 26)]
    out += [fmt.format(*c) for c in cells]
    ready = sum(r.ok for r in rows)
    out += ["", f"{ready} of {len(rows)} combinations can run on this host."]
    return "\n".join(out)


def main(runtimes: list[str] | None, providers: list[str] | None, as_json: bool = False) -> int:
    host = host_facts()
    rows = diagnose(runtimes or list(RUNTIMES), providers or list(PROVIDERS), host)
    if as_json:
        print(json.dumps({"host": host.__dict__, "rows": [r.__dict__ for r in rows]}, indent=2, default=str))
    else:
        print(table(host, rows))
    return 0 if rows and all(r.ok for r in rows) else 1
