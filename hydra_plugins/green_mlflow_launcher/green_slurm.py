"""``hydra/launcher=green_slurm``: hydra-submitit-launcher's ``submitit_slurm``, made safe for measurements.

- **A GPU for each GPU job.** ``gpus_per_node: null`` (the default) asks SLURM for one GPU for a job whose
  ``provider`` is ``cuda`` or ``tensorrt`` and none for a ``cpu`` job, so one sweep may mix them; a number is
  used as given. ``green_mlflow.sweep.devices`` refuses a configuration that would put two measurements on
  one device before the sweep starts.
- **A wait with a bound.** Jobs are watched with ``scontrol`` instead of ``sacct`` (which needs SLURM's
  accounting database) and every wait ends (``green_mlflow.sweep.slurm``); a job the scheduler cancelled,
  timed out or lost gets its run FAILED with the scheduler's reason and a ledger row, and the sweep goes on
  with the others and ends with exit 1. The same command again measures only what is missing (resume).
- **A submitit folder per launch.** SLURM's job ids start again at 1 on a fresh controller, so a folder named
  by job id alone could hand a new job an old job's result: each launch gets ``<submitit_folder>/<stamp>/``.

``launch`` follows ``BaseSubmititLauncher.launch`` (hydra-submitit-launcher 1.2) but for those three points.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf, SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
from omegaconf import OmegaConf

from green_mlflow.registry import GPU_PROVIDERS


@dataclass
class GreenSlurmConf(SlurmQueueConf):
    _target_: str = "hydra_plugins.green_mlflow_launcher.green_slurm.GreenSlurmLauncher"
    # real annotations (no ``from __future__ import annotations``): Hydra's plugin scan and OmegaConf read them
    gpus_per_node: Optional[int] = None  # noqa: UP045  (null: 1 for provider=cuda|tensorrt, none for cpu)
    max_pending_min: Optional[float] = 1440.0  # noqa: UP045  (a job still PENDING after this is cancelled)


ConfigStore.instance().store(
    group="hydra/launcher", name="green_submitit_slurm", node=GreenSlurmConf, provider="green_mlflow"
)


def launch_folder(submitit_folder: str, stamp: str) -> str:
    """``…/.submitit/%j`` → ``…/.submitit/<stamp>/%j``: this launch's jobs only."""
    path = Path(submitit_folder)
    return str(path.parent / stamp / path.name) if "%j" in path.name else str(path / stamp)


def gpus_for(provider: str, gpus_per_node: Optional[int]) -> Optional[int]:  # noqa: UP045
    """The GPUs a job asks SLURM for: as configured, or (null) one for a GPU provider and none for cpu."""
    if gpus_per_node is not None:
        return gpus_per_node
    return 1 if provider in GPU_PROVIDERS else None


class GreenSlurmLauncher(SlurmLauncher):
    def executor(self, stamp: str):
        """A submitit SLURM executor with this launcher's parameters, its folder under ``stamp``; the GPU request
        is set per job group (``gpus_for``)."""
        import submitit

        params = dict(self.params)
        for own in ("gpus_per_node", "max_pending_min"):
            params.pop(own, None)
        executor = submitit.AutoExecutor(
            cluster="slurm",
            folder=launch_folder(params.pop("submitit_folder"), stamp),
            slurm_max_num_timeout=params.pop("max_num_timeout"),
        )
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()})
        return executor

    def _provider(self, overrides: list[str]) -> str:
        config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        return str(config.provider.name)

    def launch(self, job_overrides, initial_job_idx: int) -> list[JobReturn]:
        from submitit.core.utils import FailedJobError

        from green_mlflow.sweep.slurm import Ended, record_unfinished, wait_for

        assert self.config is not None and self.hydra_context is not None
        executor = self.executor(f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{initial_job_idx}")
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)

        # one array per GPU request, so a cpu job does not hold a GPU (nor a GPU job go without one)
        groups: dict[Optional[int], list[int]] = {}  # noqa: UP045
        for i, overrides in enumerate(job_overrides):
            groups.setdefault(gpus_for(self._provider(overrides), self.params.get("gpus_per_node")), []).append(i)
        jobs: dict[int, Any] = {}
        for gpus, indices in groups.items():
            executor.update_parameters(gpus_per_node=gpus)
            job_params = []
            for i in indices:
                print(f"\t#{initial_job_idx + i} : {' '.join(filter_overrides(job_overrides[i]))}", flush=True)
                job_params.append(
                    (list(job_overrides[i]), "hydra.sweep.dir", initial_job_idx + i, f"job_id_for_{initial_job_idx + i}",
                     Singleton.get_state())
                )  # fmt: skip
            try:
                submitted = executor.map_array(self, *zip(*job_params))
            except FailedJobError as err:  # sbatch refused: no cluster here, an unknown partition, too many GPUs …
                lines = [line for line in str(err).splitlines() if line.strip()]
                raise SystemExit(
                    f"error: sbatch could not submit the sweep's jobs: {lines[-1] if lines else err}"
                ) from err
            jobs.update(zip(indices, submitted))
        print(f"submitted {len(jobs)} SLURM job(s): {', '.join(j.job_id for j in jobs.values())}", flush=True)

        max_pending_min = self.params.get("max_pending_min")
        ended = wait_for(jobs.values(), max_pending_min * 60 if max_pending_min is not None else None)
        returns = []
        for i, overrides in enumerate(job_overrides):
            job, end = jobs[i], ended[jobs[i].job_id]
            if not end.failed:
                try:
                    returns.append(job.results()[0])
                    continue
                except Exception as err:  # submitit's own end of the job (a timeout signal, a crash before our task)
                    lines = [line for line in str(err).splitlines() if line.strip()]
                    reason = f"SLURM job {job.job_id}: submitit says {lines[0] if lines else type(err).__name__}"
                    end = Ended(job.job_id, end.state, reason, True)
            record_unfinished(sweep_dir.resolve(), list(overrides), end)
            print(f"job #{initial_job_idx + i} did not finish: {end.reason}", flush=True)
            # Hydra's sweepers stop the whole sweep at a FAILED return, and with it the jobs still to run: the
            # failure is where the sweep reads it (the job's run and the ledger), the return only says "done".
            returns.append(JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED, _return_value=None))
        return returns
