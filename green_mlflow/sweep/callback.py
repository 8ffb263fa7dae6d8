"""The Hydra callback: a multirun's start and end (``conf/config.yaml`` names it).

``on_multirun_start`` checks that every job composes, opens the parent run and measures the idle
baseline (``lifecycle``). ``on_multirun_end`` prints the summary and closes the parent run. Hydra
skips ``on_multirun_end`` when a job raised, so jobs never raise for a failed measurement, and
``green_mlflow.__main__`` closes a parent left open (``lifecycle.close_abandoned``).
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from green_mlflow.contract import MeasureSettings
from green_mlflow.plan import PlanError, plan_job
from green_mlflow.redaction import redact_overrides, redact_text, redact_uri
from green_mlflow.report.parent_artifacts import HYPOTHESES_ARTIFACT
from green_mlflow.study.hypotheses import Declared, HypothesisError
from green_mlflow.study.hypotheses import load as load_hypotheses
from green_mlflow.sweep.devices import LauncherError, check_launcher
from green_mlflow.sweep.lifecycle import FolderTaken, close_sweep, measure_idle, open_parent, reap_dead_runs_of
from green_mlflow.sweep.matrix import without_native_sources
from green_mlflow.sweep.outcome import current
from green_mlflow.tracking import runs
from green_mlflow.tracking.store import TrackingError, open_store


def _make_folder(key: str, folder: Path) -> None:
    """Create ``folder`` or stop with a short error (Hydra would print the OSError's traceback)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(
            f"error: {key}={folder} cannot be created ({err.strerror}): choose a folder you can write to",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(2) from err


def _runnable_jobs(config: DictConfig) -> tuple[int, set[str]]:
    """Every job of the sweep composes, before its parent run exists (Hydra composes them only later);
    returns how many of them the plan accepts (the others will be pruned with their reason) and their
    providers, and records how many jobs the sweep launches, repetitions included (``SweepOutcome.total_jobs``,
    for "job k/N")."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    overrides = OverridesParser.create().parse_overrides(OmegaConf.to_container(config.hydra.overrides.task))
    (combinations,) = BasicSweeper.split_arguments(overrides, None)
    loader = GlobalHydra.instance().config_loader()
    combinations = without_native_sources(
        combinations, lambda c: str(loader.load_sweep_config(config, list(c)).runtime.name)
    )
    runnable = total = 0
    providers: set[str] = set()
    for combination in combinations:
        try:
            job_config = loader.load_sweep_config(config, list(combination))
        except (HydraException, OmegaConfBaseException) as err:
            cause = f"\n{err.__cause__}" if isinstance(err.__cause__, OmegaConfBaseException) else ""
            print(
                f"error: {redact_overrides(list(combination))}: {redact_text(str(err))}{cause}",
                file=sys.stderr,
                flush=True,
            )
            raise SystemExit(2) from err
        with open_dict(job_config):
            del job_config["hydra"]
        total += max(int(job_config.measure.repetitions), 1)
        try:
            plan_job(job_config)
            runnable += 1
            providers.add(str(job_config.provider.name))
        except PlanError:
            pass  # the job says why when it runs (pruned)
    current().total_jobs = total
    return runnable, providers


def _check_launcher(config: DictConfig, providers: set[str]) -> None:
    """A SLURM launcher that would put two measurements on one device stops the sweep here, in one line."""
    launcher = OmegaConf.to_container(config.hydra.launcher, resolve=False)
    try:
        warnings = check_launcher(launcher, providers)
    except LauncherError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        raise SystemExit(2) from err
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr, flush=True)


def _declared(config: DictConfig) -> Declared | None:
    """The sweep's hypotheses (``hypotheses=paper|<file>``), or None; a file that cannot be tested stops the
    sweep before anything runs, in one line."""
    spec = config.get("hypotheses")
    if not spec:
        return None
    try:
        return load_hypotheses(str(spec))
    except HypothesisError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        raise SystemExit(2) from err


def log_declared(store, run_id: str, declared: Declared) -> None:
    """The hypotheses file and its sha256 on the parent run, stamped with the time they were logged."""
    runs.log_text(store, run_id, HYPOTHESES_ARTIFACT, declared.text)
    runs.log_values(
        store,
        run_id,
        {},
        {
            "green.hypotheses.source": declared.source,
            "green.hypotheses.sha256": declared.sha256,
            "green.hypotheses.logged_ms": str(int(time.time() * 1000)),
        },
    )


class SweepRunCallback(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _make_folder("hydra.run.dir", Path(str(config.hydra.run.dir)))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        current().started_s = time.monotonic()
        _make_folder("hydra.sweep.dir", Path(str(config.hydra.sweep.dir)))
        runnable, providers = _runnable_jobs(config)
        _check_launcher(config, providers)
        declared = _declared(config)
        # Hydra turns an exception raised here into a warning and launches the jobs anyway, each of
        # which would then fail without a parent run: a sweep that cannot open its store stops here.
        try:
            self._open(config, runnable, declared)
        except (TrackingError, FolderTaken) as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            raise SystemExit(2) from err
        except Exception as err:
            traceback.print_exc()
            print(f"error: the sweep could not start: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
            raise SystemExit(1) from err

    @staticmethod
    def _open(config: DictConfig, runnable: int, declared: Declared | None = None) -> None:
        folder = Path(str(config.hydra.sweep.dir)).resolve()
        store = open_store(config.tracking.uri, config.tracking.experiment_name)
        reap_dead_runs_of(store)
        run_id = open_parent(
            store, folder, f"sweep {folder.name}", redact_overrides(OmegaConf.to_container(config.hydra.overrides.task))
        )
        print(
            f"sweep parent run {run_id} in experiment '{store.experiment_name}' ({redact_uri(store.uri)})", flush=True
        )
        if declared is not None:  # before the idle baseline and the first job: declared before the data
            log_declared(store, run_id, declared)
            print(f"{len(declared.hypotheses)} hypotheses declared ({declared.source}, sha256 {declared.sha256[:12]}…)")
        launcher = str(config.hydra.launcher.get("_target_", ""))
        if "Slurm" in launcher:  # jobs run on other nodes: the submitting host's idle belongs to none of them
            runs.log_values(store, run_id, {}, {"idle.status": "per node: each node's first job measures its idle"})
        elif not runnable:  # every job will be pruned: measuring idle power would only cost the user time
            print("no job of this sweep can run here (each says why below): no idle baseline measured", flush=True)
            runs.log_values(store, run_id, {}, {"idle.status": "not measured: no job of the sweep could run"})
        else:
            measure = MeasureSettings(**OmegaConf.to_container(config.measure, resolve=True))
            measure_idle(store, run_id, folder, measure, int(config.provider.device_id))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        close_sweep(Path(str(config.hydra.sweep.dir)).resolve(), bool(config.report))
