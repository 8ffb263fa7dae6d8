"""``hydra/sweeper=green``: Hydra's basic sweep, with repetitions and a seeded shuffle of the run order.

Every combination of the sweep's comma lists runs ``measure.repetitions`` times (read from each
combination's own composed config, so ``measure=quick,paper`` gets each preset's count), as one job
per repetition with the override ``repetition=<i>``. All jobs of all configurations are then shuffled
with ``hydra.sweeper.seed`` (docs/method.md rule 10: drift in temperature or background load must not line
up with one runtime). ``runtime.source`` sweeps ONNX's source framework only: a native runtime's job
drops it and runs once (``green_mlflow.sweep.matrix``), so the study's whole matrix is one command. Jobs
are handed to whichever launcher is configured, in batches of ``hydra.sweeper.max_batch_size``, so the
basic, joblib and submitit launchers work unchanged.

``hydra.sweeper.adaptive=true`` runs the sweep in rounds instead (``green_mlflow.sweep.adaptive``): every
configuration ``min_repetitions`` times, then only the configurations of questions still undecided, up to
``max_repetitions``, within ``budget_s`` and ``budget_wh``. Each round is one batch for the launcher.
"""

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.types import Override
from omegaconf import OmegaConf

from green_mlflow.config.schema import MAX_REPETITIONS
from green_mlflow.study.design import AdaptiveSettings
from green_mlflow.sweep.matrix import without_native_sources

ADAPTIVE = AdaptiveSettings()  # the defaults


@dataclass
class GreenSweeperConf:
    _target_: str = "hydra_plugins.green_mlflow_sweeper.green_sweeper.GreenSweeper"
    # real annotations (no ``from __future__ import annotations``): Hydra's plugin scan and OmegaConf read them
    max_batch_size: Optional[int] = None  # noqa: UP045
    shuffle: bool = True
    seed: int = 0
    params: Optional[dict[str, str]] = None  # noqa: UP045
    # the adaptive sweep (docs/method.md rule 19): rounds until every question is decided, the cap or the budget
    adaptive: bool = False
    # each default is AdaptiveSettings' (green_mlflow/study/design.py): the settings are written once
    min_repetitions: int = ADAPTIVE.min_repetitions
    max_repetitions: int = ADAPTIVE.max_repetitions
    max_per_round: int = ADAPTIVE.max_per_round
    budget_s: Optional[float] = None  # noqa: UP045
    budget_wh: Optional[float] = None  # noqa: UP045
    margin: float = ADAPTIVE.margin_rel
    spending: str = ADAPTIVE.spending  # or obf: the alpha-spending function of the repeated confidence intervals


ConfigStore.instance().store(group="hydra/sweeper", name="green", node=GreenSweeperConf, provider="green_mlflow")


def expand_and_shuffle(
    combinations: list[list[str]], repetitions: list[int], shuffle: bool, seed: int
) -> list[list[str]]:
    """One job per (combination, repetition); shuffled with ``seed`` when ``shuffle``.

    Deterministic: the same combinations, repetitions and seed always give the same order.
    """
    jobs = []
    for combination, count in zip(combinations, repetitions):
        if count == 1:
            jobs.append(list(combination))
        else:
            jobs.extend([*combination, f"repetition={index}"] for index in range(count))
    if shuffle:
        random.Random(seed).shuffle(jobs)
    return jobs


class GreenSweeper(BasicSweeper):
    def __init__(
        self,
        max_batch_size: int | None,
        shuffle: bool,
        seed: int,
        params: dict[str, str] | None = None,
        adaptive: bool = False,
        min_repetitions: int = ADAPTIVE.min_repetitions,
        max_repetitions: int = ADAPTIVE.max_repetitions,
        max_per_round: int = ADAPTIVE.max_per_round,
        budget_s: float | None = None,
        budget_wh: float | None = None,
        margin: float = ADAPTIVE.margin_rel,
        spending: str = ADAPTIVE.spending,
    ):
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.shuffle = shuffle
        self.seed = seed
        self.adaptive = None  # the adaptive sweep's settings (``green_mlflow.sweep.adaptive``), when asked for
        if adaptive:
            self.adaptive = AdaptiveSettings(
                min_repetitions, max_repetitions, max_per_round, budget_s, budget_wh, float(margin), spending=spending
            )

    def _repetitions(self, combination: list[str]) -> int:
        config = self.hydra_context.config_loader.load_sweep_config(self.config, list(combination))
        count = config.measure.get("repetitions", 1)
        # out of range: one job, which the plan prunes with its reason (never 10^5 jobs to prune one by one)
        return count if isinstance(count, int) and 1 <= count <= MAX_REPETITIONS else 1

    def _runtime(self, combination: list[str]) -> str:
        return str(self.hydra_context.config_loader.load_sweep_config(self.config, list(combination)).runtime.name)

    def split_arguments(self, overrides: list[Override], max_batch_size: int | None) -> list[list[list[str]]]:
        (combinations,) = BasicSweeper.split_arguments(overrides, None)
        combinations = without_native_sources(combinations, self._runtime)
        jobs = expand_and_shuffle(combinations, [self._repetitions(c) for c in combinations], self.shuffle, self.seed)
        return list(BasicSweeper.split_overrides_to_chunks(jobs, max_batch_size)) if jobs else [[]]

    def _config_hash(self, combination: list[str]) -> str | None:
        """The config hash the jobs of ``combination`` will carry; None when the plan refuses it."""
        from omegaconf import open_dict

        from green_mlflow.plan import PlanError, plan_job

        config = self.hydra_context.config_loader.load_sweep_config(self.config, list(combination))
        with open_dict(config):
            del config["hydra"]
        try:
            return plan_job(config).config_hash()
        except PlanError:
            return None

    def sweep(self, arguments: list[str]) -> Any:
        if not self.adaptive:
            return super().sweep(arguments)
        from hydra.core.override_parser.overrides_parser import OverridesParser

        from green_mlflow.sweep.adaptive import AdaptiveSweep, Configuration

        try:
            self.adaptive.check()
        except ValueError as err:
            raise SystemExit(f"error: {err}") from err
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides([*self._parse_config(), *arguments])
        (combinations,) = BasicSweeper.split_arguments(overrides, None)
        combinations = without_native_sources(combinations, self._runtime)
        folder = Path(str(self.config.hydra.sweep.dir))
        folder.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, folder / "multirun.yaml")
        declared = None
        if self.config.get("hypotheses"):  # checked by the sweep's callback before anything ran
            from green_mlflow.study.hypotheses import load as load_hypotheses

            declared = load_hypotheses(str(self.config.hypotheses))
        configurations = [Configuration(list(c), self._config_hash(list(c))) for c in combinations]
        state = AdaptiveSweep(self.adaptive, configurations, folder, self.seed, declared=declared)
        returns = []
        jobs = state.first_round()
        index = 0
        while jobs:
            for batch in BasicSweeper.split_overrides_to_chunks(jobs, self.max_batch_size):
                self.validate_batch_is_legal(batch)
                results = self.launcher.launch(batch, initial_job_idx=index)
                for r in results:
                    _ = r.return_value  # a job that raised raises here, as in Hydra's basic sweeper
                index += len(batch)
                returns.append(results)
            jobs = state.next_round()
        return returns
