"""``hydra/launcher=green_slurm``: hydra-submitit-launcher's ``submitit_slurm``, made safe for measurements.

- **A GPU for each GPU job.** ``gpus_per_node: null`` (the default) asks SLURM for one GPU for a job whose
  ``provider`` is ``cuda`` or ``tensorrt`` and none for a ``cpu`` job, so one sweep may mix them; a number is
  used as given. ``green_mlflow.sweep.devices`` refuses a configuration that would put two measurements on
  one device before the sweep starts.
- **A wait with a bound that fits its cause.** Jobs are watched with ``scontrol`` instead of ``sacct`` (which
  needs SLURM's accounting database), each change of a job's state or reason is said in one line, and every wait
  ends (``green_mlflow.sweep.slurm``): a job that cannot start because every node it may use is DOWN or DRAINED
  after ``max_unavailable_min``, one in a busy queue after ``max_pending_min``. A job the scheduler cancelled,
  timed out or lost gets its run FAILED with the scheduler's reason and a ledger row, and the sweep goes on with
  the others and ends with exit 1; a job whose run FINISHED is done, whatever the scheduler says next. Ctrl-C or
  SIGTERM cancels the jobs left and ends their runs KILLED. The same command again measures only what is
  missing (resume).
- **A submitit folder per launch.** SLURM's job ids start again at 1 on a fresh controller, so a folder named
  by job id alone could hand a new job an old job's result: each launch gets ``<submitit_folder>/<stamp>/``.

``launch`` follows ``BaseSubmititLauncher.launch`` (hydra-submitit-launcher 1.2) but for those three points.
"""

import os
import signal
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
    # a job that cannot start because every node it may use is DOWN, DRAINED or reserved is cancelled after this
    max_unavailable_min: Optional[float] = 10.0  # noqa: UP045


ConfigStore.instance().store(
    group="hydra/launcher", name="green_submitit_slurm", node=GreenSlurmConf, provider="green_mlflow"
)


OWN_FIELDS = ("gpus_per_node", "max_pending_min", "max_unavailable_min")  # not submitit's: kept from sbatch


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
        for own in OWN_FIELDS:
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

    def __call__(self, *args, **kwargs):
        """In the SLURM job: its ledger rows name it (``SweepOutcome.slurm_job_id``), so that the ledger keeps one
        row per job when the scheduler requeued it."""
        import submitit

        from green_mlflow.sweep.outcome import current

        current().slurm_job_id = submitit.JobEnvironment().job_id
        return super().__call__(*args, **kwargs)

    def _submit(self, executor, job_overrides, initial_job_idx: int, jobs: dict[int, Any]) -> None:
        """One array per GPU request, so a cpu job does not hold a GPU (nor a GPU job go without one); ``jobs``
        gets each job as it is submitted (an interrupt cancels those)."""
        from submitit.core.utils import FailedJobError

        groups: dict[Optional[int], list[int]] = {}  # noqa: UP045
        for i, overrides in enumerate(job_overrides):
            groups.setdefault(gpus_for(self._provider(overrides), self.params.get("gpus_per_node")), []).append(i)
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

    def _watch(self, jobs, sweep_dir: Path):
        from green_mlflow.sweep.slurm import Bounds, Sweep, Watch
        from green_mlflow.sweep.slurm_runs import end_requeued_attempt, finished_jobs

        pending, unavailable = self.params.get("max_pending_min"), self.params.get("max_unavailable_min")
        bounds = Bounds(
            pending * 60 if pending is not None else None, unavailable * 60 if unavailable is not None else None
        )
        sweep = Sweep(
            finished=lambda ids: finished_jobs(sweep_dir, ids),
            requeued=lambda job_id, restarts, reason: end_requeued_attempt(sweep_dir, job_id, restarts, reason),
        )
        return Watch(jobs, bounds, sweep=sweep)

    def launch(self, job_overrides, initial_job_idx: int) -> list[JobReturn]:
        assert self.config is not None and self.hydra_context is not None
        executor = self.executor(f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{initial_job_idx}")
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).resolve()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        jobs: dict[int, Any] = {}
        watch = None
        try:
            self._submit(executor, job_overrides, initial_job_idx, jobs)
            print(f"submitted {len(jobs)} SLURM job(s): {', '.join(j.job_id for j in jobs.values())}", flush=True)
            watch = self._watch(jobs.values(), sweep_dir)
            ended = watch.run()
        except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM (green_mlflow.__main__ raises it as Terminated)
            _interrupted(watch or self._watch(jobs.values(), sweep_dir), jobs, job_overrides, sweep_dir, err)
            raise
        return [self._return(jobs[i], ended[jobs[i].job_id], o, initial_job_idx + i, sweep_dir)
                for i, o in enumerate(job_overrides)]  # fmt: skip

    @staticmethod
    def _return(job, end, overrides, number: int, sweep_dir: Path) -> JobReturn:
        from green_mlflow.sweep.slurm import Ended
        from green_mlflow.sweep.slurm_runs import record_unfinished

        done = JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED, _return_value=None)
        if end.finished_run:  # its run FINISHED and logged itself; a requeued copy was cancelled
            return done
        if not end.failed:
            try:
                return job.results()[0]
            except Exception as err:  # submitit's own end of the job (a timeout signal, a crash before our task)
                lines = [line for line in str(err).splitlines() if line.strip()]
                reason = f"SLURM job {job.job_id}: submitit says {lines[0] if lines else type(err).__name__}"
                end = Ended(job.job_id, end.state, reason, True)
        record_unfinished(sweep_dir, list(overrides), end)
        print(f"job #{number} did not finish: {end.reason}", flush=True)
        # Hydra's sweepers stop the whole sweep at a FAILED return, and with it the jobs still to run: the
        # failure is where the sweep reads it (the job's run and the ledger), the return only says "done".
        return done


def _interrupted(watch, jobs: dict[int, Any], job_overrides, sweep_dir: Path, err: KeyboardInterrupt) -> None:
    """The user's Ctrl-C or SIGTERM: cancel the jobs still pending or running (saying so), end their runs KILLED
    with the reason, record the jobs that had already failed; a second signal meanwhile is ignored (the wait for
    the jobs to leave their nodes is bounded: ``slurm.STOP_WAIT_S``)."""
    from green_mlflow.sweep.slurm import STOP_WAIT_S
    from green_mlflow.sweep.slurm_runs import record_unfinished

    what = "SIGTERM" if type(err).__name__ == "Terminated" else "SIGINT, Ctrl-C"
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, signal.SIG_IGN)
        except ValueError:  # not the main thread: nothing to hold off
            pass
    try:
        ended = watch.stop(
            f"cancelled by green_mlflow at {time.strftime('%H:%M:%S')}: the sweep was interrupted ({what})",
            lambda ids: print(
                f"\ninterrupted ({what}): cancelling SLURM job(s) {', '.join(ids)} (pending or running) and waiting up "
                f"to {STOP_WAIT_S:.0f} s for them to leave their nodes; another Ctrl-C is ignored until then",
                flush=True,
            ),
        )
        for i, overrides in enumerate(job_overrides):
            job = jobs.get(i)
            end = ended.get(job.job_id) if job is not None else None
            if end is not None and end.failed:
                killed = job.job_id in watch.stopped
                record_unfinished(sweep_dir, list(overrides), end, "KILLED" if killed else "FAILED")
        if watch.stopped:
            print(
                f"cancelled {len(watch.stopped)} SLURM job(s); their runs ended KILLED. Run the same command again: "
                "it measures only what is missing (resume).",
                flush=True,
            )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
