"""One measurement per device: a SLURM launcher configuration that would put two jobs' measurements on one GPU or
one CPU package is refused before the sweep starts (docs/team.md, "Running on a SLURM cluster").

Energy is read per device — NVML for a whole GPU board, RAPL for a whole CPU package — so a neighbour's job on the
same device is measured too, and spoils the node's idle baseline. What makes one job per device hold:

- ``tasks_per_node: 1`` (more tasks run the same measurement several times at once, always refused);
- a GPU of its own for a ``provider=cuda|tensorrt`` job (``green_slurm`` asks for one; a plain ``submitit_slurm``
  needs ``gpus_per_node``, ``gpus_per_task`` or a ``gpu`` ``gres``);
- a time limit longer than ``signal_delay_s`` (submitit stops a job as timed out when SLURM's warning signal
  arrives, that many seconds before the limit);
- a node of its own for a ``cpu`` job (``additional_parameters.exclusive``), or one job at a time
  (``array_parallelism: 1``). GPU jobs sharing a node only warn: their GPU energy is their own, their CPU and
  DRAM energy is not.
"""

from __future__ import annotations

from green_mlflow.registry import GPU_PROVIDERS


class LauncherError(ValueError):
    """A launcher configuration that would spoil measurements; the message says what to set instead."""


def check_launcher(launcher: dict, providers: set[str]) -> list[str]:
    """Warnings for a SLURM launcher ``launcher`` (``hydra.launcher`` as a dict) running jobs of ``providers``;
    raises ``LauncherError`` for a configuration that would put two measurements on one device. Other launchers
    run jobs on this host one at a time (basic) or as the user set them (joblib, submitit_local): no check."""
    target = str(launcher.get("_target_", ""))
    if "Slurm" not in target:
        return []
    green = target.endswith("GreenSlurmLauncher")
    warnings = []
    if int(launcher.get("tasks_per_node") or 1) > 1:
        raise LauncherError(
            f"hydra.launcher.tasks_per_node={launcher['tasks_per_node']} would run each job's measurement "
            f"{launcher['tasks_per_node']} times at once on one node: set hydra.launcher.tasks_per_node=1"
        )
    delay_s, limit_min = launcher.get("signal_delay_s"), launcher.get("timeout_min")
    if isinstance(delay_s, int) and isinstance(limit_min, int) and delay_s >= limit_min * 60:
        raise LauncherError(
            f"hydra.launcher.signal_delay_s={delay_s} is not below the time limit (hydra.launcher.timeout_min="
            f"{limit_min}: {limit_min * 60} s): submitit would stop every job as timed out when it starts; set "
            f"hydra.launcher.timeout_min={delay_s // 60 + 2} or more, or hydra.launcher.signal_delay_s below {limit_min * 60}"
        )
    extra = launcher.get("additional_parameters") or {}
    exclusive = "exclusive" in extra and extra["exclusive"] not in (False, None)
    one_at_a_time = launcher.get("array_parallelism") == 1
    gpu = sorted(set(providers) & set(GPU_PROVIDERS))
    if gpu:
        gpus = launcher.get("gpus_per_node")
        asked = gpus or launcher.get("gpus_per_task") or "gpu" in str(launcher.get("gres") or "")
        if gpus == 0 or not (asked or (green and gpus is None)):
            raise LauncherError(
                f"provider={','.join(gpu)} jobs would run without a GPU of their own: use hydra/launcher=green_slurm "
                "(one GPU for each GPU job) or set hydra.launcher.gpus_per_node=1"
            )
        if not exclusive and not one_at_a_time:
            warnings.append(
                f"provider={','.join(gpu)} jobs may share a node: each has a GPU of its own, but their CPU and DRAM "
                "energy (a whole package) includes their neighbours' (hydra.launcher.additional_parameters.exclusive=true "
                "gives each a node)"
            )
    if "cpu" in providers and not exclusive and not one_at_a_time:
        raise LauncherError(
            "provider=cpu jobs could share a node, and each measures the whole CPU package: keep "
            "hydra.launcher.additional_parameters.exclusive=true (a node per job) or set "
            "hydra.launcher.array_parallelism=1 (one job at a time)"
        )
    if not green:
        warnings.append(
            "hydra/launcher=submitit_slurm learns job states from sacct: on a cluster without SLURM accounting a job "
            "that dies before its result makes the sweep wait forever; hydra/launcher=green_slurm waits with a bound"
        )
    return warnings
