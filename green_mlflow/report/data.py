"""Read a sweep (or a whole experiment) back from MLflow into plain records.

The contract is docs/metrics.md: a sweep is a parent run tagged ``green.kind=sweep``, each job a child
run tagged ``green.kind=job``. Nothing here interprets numbers; a metric a run lacks is simply absent
from its ``metrics`` (a gap in the report, never a 0).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from green_mlflow.report.parent_artifacts import (
    ArtifactReader,
    PrunedJob,
    adaptive_design,
    declared_hypotheses,
    pruned_jobs,
)
from green_mlflow.study.runs import JobRun
from green_mlflow.tracking.flags import FLAG_TAGS

DOMAINS = ("gpu", "cpu", "dram")
PAGE_SIZE = 1000
RUN_ID = re.compile(r"^[0-9a-f]{32}$")  # MLflow's run ids; also keeps search filters built from ids well-formed
IDLE_PREFIX = "idle_"
COVERS = re.compile(r"^energy\.total[a-z_]*\.covers$")

Search = Callable[[str, str], Iterable[Run]]
TraceLoader = Callable[["JobRun"], dict[str, list[tuple[float, float]]]]


class ReportError(LookupError):
    """The experiment or run asked for does not exist or is not a sweep; the message says what is allowed."""


@dataclass(frozen=True)
class Sweep:
    """A sweep's parent run: its idle baseline and how it was run."""

    run_id: str
    run_name: str
    status: str
    start_time_ms: int
    overrides: str
    idle_power_w: dict[str, float]  # metric name -> watts (idle_{domain}_power[_estimated]_w)
    idle_methods: dict[str, str]  # domain -> method


@dataclass
class Dataset:
    """Everything one comparison view shows: the sweeps, their job runs and the pruned jobs."""

    title: str
    experiment_id: str
    experiment_name: str
    sweeps: list[Sweep]
    runs: list[JobRun]
    pruned: list[PrunedJob]
    warnings: list[str] = field(default_factory=list)
    trace_loader: TraceLoader | None = None
    design: dict | None = None  # an adaptive sweep's looks (``DESIGN_ARTIFACT``; ``questions.Design``)
    hypotheses: dict | None = None  # declared hypotheses: {source, sha256, logged_ms, text} (``HYPOTHESES_ARTIFACT``)


def _param(run: Run, key: str) -> str | None:
    value = run.data.params.get(key)
    return None if value in (None, "null", "None", "") else value


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def job_from_run(run: Run) -> JobRun:
    """A child run as a record; a missing param becomes ``?`` (shown, never guessed)."""
    tags = run.data.tags
    return JobRun(
        run_id=run.info.run_id,
        run_name=run.info.run_name or tags.get("mlflow.runName", ""),
        parent_run_id=tags.get("mlflow.parentRunId"),
        status=run.info.status,
        status_reason=tags.get("green.status_reason", ""),
        runtime=_param(run, "runtime") or "?",
        source=_param(run, "runtime.source"),
        mode=_mode(run),
        model=_param(run, "model") or "?",
        batch_size=_param(run, "batch_size") or "?",
        provider=_param(run, "provider") or "?",
        repetition=_int(_param(run, "repetition")),
        config_hash=tags.get("green.config_hash", ""),
        start_time_ms=run.info.start_time or 0,
        metrics=dict(run.data.metrics),
        methods={d: tags[f"energy.{d}.method"] for d in DOMAINS if f"energy.{d}.method" in tags},
        details={d: tags[f"energy.{d}.detail"] for d in DOMAINS if f"energy.{d}.detail" in tags},
        idle={d: tags[f"energy.{d}.idle"] for d in DOMAINS if f"energy.{d}.idle" in tags},
        covers={k[len("energy.") : -len(".covers")]: v for k, v in tags.items() if COVERS.match(k)},
        hardware=_hardware(tags, _param(run, "provider")),
        flags={k: tags[k] for k in FLAG_TAGS if tags.get(k, "").startswith(("detected", "drifting"))},
    )


def _mode(run: Run) -> str:
    """The runtime's mode, with the scenario where it is not the default (``eager throughput``): a throughput run
    is its own series, never averaged with latency runs."""
    mode = _param(run, "mode") or "?"
    scenario = _param(run, "scenario")
    return f"{mode} {scenario}" if scenario not in (None, "latency") else mode


def _hardware(tags: dict[str, str], provider: str | None) -> str:
    gpu = tags.get("gpu.name")
    if provider not in (None, "cpu") and gpu:
        return gpu
    return tags.get("host.cpu_model", "")


def sweep_from_run(run: Run) -> Sweep:
    tags = run.data.tags
    return Sweep(
        run_id=run.info.run_id,
        run_name=run.info.run_name or "",
        status=run.info.status,
        start_time_ms=run.info.start_time or 0,
        overrides=tags.get("green.overrides", ""),
        idle_power_w={k: v for k, v in run.data.metrics.items() if k.startswith(IDLE_PREFIX) and k.endswith("_w")},
        idle_methods={d: tags[f"idle.{d}.method"] for d in DOMAINS if f"idle.{d}.method" in tags},
    )


def searcher(client: MlflowClient) -> Search:
    """``search(experiment_id, filter_string)``: all matching runs; straight from the tables of an SQL store
    (``sql_search``), else page by page through ``search_runs`` (a sweep can hold thousands)."""
    from green_mlflow.tracking.sql_search import fast_or_client

    return fast_or_client(client, client_searcher(client))


def client_searcher(client: MlflowClient) -> Search:
    """MLflow's own ``search_runs``, page by page: every store and server, and the reference of ``sql_search``."""

    def search(experiment_id: str, filter_string: str) -> Iterator[Run]:
        token = None
        while True:
            page = client.search_runs([experiment_id], filter_string, max_results=PAGE_SIZE, page_token=token)
            yield from page
            token = page.token
            if not token:
                return

    return search


def client_artifact_reader(client: MlflowClient) -> ArtifactReader:
    """Read a text artifact through the client (local, S3, proxied ``mlflow-artifacts:`` …); None if absent."""

    def read(run: Run, path: str) -> str | None:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                local = client.download_artifacts(run.info.run_id, path, tmp)
            except (MlflowException, OSError):
                return None
            return Path(local).read_text() if Path(local).is_file() else None

    return read


TRACE_PREFIXES = ("trace_", "system/")


def trace_loader(client: MlflowClient) -> TraceLoader:
    """Load a run's traces (``trace_*`` and MLflow's ``system/*`` step metrics) on demand: (seconds since the
    first sample, value) per metric."""

    def load(run: JobRun) -> dict[str, list[tuple[float, float]]]:
        traces = {}
        for key in sorted(k for k in run.metrics if k.startswith(TRACE_PREFIXES)):
            history = sorted(client.get_metric_history(run.run_id, key), key=lambda m: (m.step, m.timestamp))
            if history:
                t0 = history[0].timestamp
                traces[key] = [((m.timestamp - t0) / 1000.0, m.value) for m in history]
        return traces

    return load


def _experiment(client: MlflowClient, name_or_id: str):
    experiment = client.get_experiment_by_name(name_or_id)
    if experiment is None and name_or_id.isdigit():
        try:
            experiment = client.get_experiment(name_or_id)
        except MlflowException:
            experiment = None
    return experiment


def _unknown(client: MlflowClient, target: str) -> ReportError:
    try:
        names = [e.name for e in client.search_experiments(max_results=20)]
    except MlflowException:
        names = []
    known = ", ".join(repr(n) for n in names) or "none"
    return ReportError(
        f"{target!r} is neither an experiment name or id nor a sweep's parent run id in this store. "
        f"Give an experiment (known: {known}) or the 32-character id of a sweep's parent run (tag green.kind=sweep)."
    )


def load(
    client: MlflowClient, target: str, read_artifact: ArtifactReader | None = None, search: Search | None = None
) -> Dataset:
    """Load an experiment (by name or id: all its sweeps) or one sweep (by its parent run id).

    ``read_artifact`` and ``search`` default to the client's; the server passes its own (``plugin.py``).
    """
    target = target.strip()
    read_artifact = read_artifact or client_artifact_reader(client)
    experiment = _experiment(client, target)
    if experiment is not None:
        return load_experiment(client, experiment.experiment_id, read_artifact, search)
    if RUN_ID.match(target):
        return load_sweep(client, target, read_artifact, search)
    raise _unknown(client, target)


def load_experiment(
    client: MlflowClient, experiment_id: str, read_artifact: ArtifactReader, search: Search | None = None
) -> Dataset:
    """Every sweep and job run of an experiment."""
    search = search or searcher(client)
    experiment = client.get_experiment(experiment_id)
    warnings: list[str] = []
    parents = list(search(experiment_id, "tags.`green.kind` = 'sweep'"))
    jobs = [job_from_run(r) for r in search(experiment_id, "tags.`green.kind` = 'job'")]
    pruned = [p for parent in parents for p in pruned_jobs(parent, read_artifact, warnings)]
    return Dataset(
        title=f"experiment {experiment.name}",
        experiment_id=experiment_id,
        experiment_name=experiment.name,
        sweeps=sorted((sweep_from_run(r) for r in parents), key=lambda s: s.start_time_ms),
        runs=jobs,
        pruned=pruned,
        warnings=warnings,
        trace_loader=trace_loader(client),
    )


def _sweep_title(name: str) -> str:
    return name if name.startswith("sweep") else f"sweep {name}"  # the CLI names its parents "sweep <time>"


def load_sweep(
    client: MlflowClient, parent_run_id: str, read_artifact: ArtifactReader, search: Search | None = None
) -> Dataset:
    """One sweep: its parent run, its child job runs and its pruned jobs."""
    search = search or searcher(client)
    if not RUN_ID.match(parent_run_id):
        raise ReportError(f"{parent_run_id!r} is not a run id: expected 32 hexadecimal characters")
    try:
        parent = client.get_run(parent_run_id)
    except MlflowException:
        raise _unknown(client, parent_run_id) from None
    kind = parent.data.tags.get("green.kind")
    if kind != "sweep":
        hint = f" (it is a job of sweep {parent.data.tags.get('mlflow.parentRunId')})" if kind == "job" else ""
        raise ReportError(
            f"run {parent_run_id} is not a sweep's parent run: its tag green.kind is {kind!r}, not 'sweep'{hint}. "
            "Give a sweep's parent run id or an experiment name or id."
        )
    experiment = client.get_experiment(parent.info.experiment_id)
    warnings: list[str] = []
    children = list(
        search(
            parent.info.experiment_id, f"tags.`mlflow.parentRunId` = '{parent_run_id}' and tags.`green.kind` = 'job'"
        )
    )
    design = adaptive_design(parent, read_artifact, warnings)
    if design:  # a resumed adaptive sweep decided with runs of the sweep it resumed: the report uses them too
        have = {r.info.run_id for r in children}
        for run_id in design.get("runs", []):
            if run_id not in have:
                try:
                    children.append(client.get_run(run_id))
                except MlflowException:
                    warnings.append(f"run {run_id} of the adaptive sweep's looks could not be read")
    return Dataset(
        title=_sweep_title(parent.info.run_name or parent_run_id),
        experiment_id=parent.info.experiment_id,
        experiment_name=experiment.name,
        sweeps=[sweep_from_run(parent)],
        runs=[job_from_run(r) for r in children],
        pruned=pruned_jobs(parent, read_artifact, warnings),
        warnings=warnings,
        trace_loader=trace_loader(client),
        design=design,
        hypotheses=declared_hypotheses(parent, read_artifact, warnings),
    )
