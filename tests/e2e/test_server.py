"""``tracking=server``: four hosts sweep at once into one real ``mlflow server`` (SQLite with basic-auth, and
PostgreSQL); every run arrives once, and no password ends up in a run, an artifact, the store or the output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from tests.helpers.project import TINY_MEASURE, require_env
from tests.helpers.server import (
    ADMIN,
    ADMIN_PASSWORD,
    Host,
    HostResult,
    auth_server_env,
    create_user,
    mlflow_server,
    pg_dump,
    postgres,
    run_hosts_at_once,
)

pytestmark = pytest.mark.slow

EXPERIMENT = "green_mlflow"
BATCH_SIZES = ("1", "2")
SWEEP = ["-m", "runtime=torch", "model=mobilenet_v2", "model.image_size=32", "batch_size=1,2", *TINY_MEASURE]
USERS = {"alice": "alice-s3cret-0xA11CE", "bob": "bob-s3cret-0xB0B0B"}


def sweep(seed: int, *tracking: str) -> list[str]:
    """A host's sweep; its own seed makes its configurations its own (resume never skips another host's job)."""
    return [*SWEEP, f"seed={seed}", "tracking=server", *tracking]


def with_password(url: str, user: str, password: str) -> str:
    return url.replace("http://", f"http://{user}:{password}@", 1)


def tail(result: HostResult) -> str:
    return f"host {result.host.name} (exit {result.returncode}):\n{result.output[-4000:]}"


def read_back(client: MlflowClient, folder: Path) -> tuple[list[Run], dict[str, Path]]:
    """Every run of the experiment, and each run's artifacts downloaded through the server."""
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment.artifact_location.startswith("mlflow-artifacts:"), "artifacts go through the server"
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    artifacts = {
        run.info.run_id: Path(client.download_artifacts(run.info.run_id, "", str(folder / run.info.run_id)))
        for run in runs
    }
    return runs, artifacts


def assert_every_run_arrived_once(
    client: MlflowClient, runs: list[Run], artifacts: dict[str, Path], results: list[HostResult]
) -> None:
    """One FINISHED parent per host holding exactly its own FINISHED children, nothing lost, nothing twice."""
    for result in results:
        assert result.returncode == 0, tail(result)
    parents = [r for r in runs if r.data.tags.get("green.kind") == "sweep"]
    children = [r for r in runs if r.data.tags.get("green.kind") == "job"]
    assert len(parents) == len(results) and len(parents) + len(children) == len(runs)
    claimed = []
    for result in results:
        mine = [p for p in parents if Path(p.data.tags["green.sweep_dir"]).is_relative_to(result.cwd)]
        assert len(mine) == 1, f"host {result.host.name} owns {len(mine)} parent runs"
        parent = mine[0]
        assert parent.info.status == "FINISHED", tail(result)
        assert f"2 of 2 jobs finished; parent run {parent.info.run_id}" in result.output, tail(result)
        assert parent.data.metrics["jobs_finished"] == 2 and parent.data.metrics["jobs_failed_or_pruned"] == 0
        kids = [c for c in children if c.data.tags["mlflow.parentRunId"] == parent.info.run_id]
        seed = next(arg.split("=")[1] for arg in result.host.args if arg.startswith("seed="))
        assert sorted((c.data.params["seed"], c.data.params["batch_size"]) for c in kids) == [
            (seed, batch_size) for batch_size in BATCH_SIZES
        ], tail(result)
        for kid in kids:
            assert kid.info.status == "FINISHED"
            params = kid.data.params
            assert (params["runtime"], params["model"], params["model.image_size"]) == ("torch", "mobilenet_v2", "32")
            assert kid.data.metrics["latency_p50_ms"] > 0
            # a request retried after the server had stored it would show up as a second value
            assert len(client.get_metric_history(kid.info.run_id, "latency_p50_ms")) == 1
            assert len(client.get_metric_history(kid.info.run_id, "window_latency_p50_ms")) == 2
        ledger = (artifacts[parent.info.run_id] / "summary" / "jobs.jsonl").read_text().splitlines()
        assert sorted(json.loads(row)["run_id"] for row in ledger) == sorted(k.info.run_id for k in kids)
        claimed += kids
    assert sorted(c.info.run_id for c in claimed) == sorted(c.info.run_id for c in children), "no orphan child runs"


def assert_no_secret_in_runs(runs: list[Run], artifacts: dict[str, Path], secrets: list[str]) -> None:
    """Params, tags, metric names, run names and every artifact are clean."""
    for run in runs:
        data = run.data
        fields = [run.info.run_name, *data.params, *data.params.values(), *data.tags, *data.tags.values()]
        fields += list(data.metrics)
        for secret in secrets:
            leaked = [field for field in fields if secret in field]
            assert not leaked, f"run {run.info.run_id} carries a password: {leaked}"
    files = {path: path.relative_to(folder).as_posix() for folder in artifacts.values() for path in folder.rglob("*")}
    files = {path: name for path, name in files.items() if path.is_file()}
    assert {"config.yaml", "spec.json", "result.json", "environment.json", "summary/jobs.jsonl"} <= set(files.values())
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, f"artifact {path} holds a password"


def test_four_hosts_sweep_at_once_into_a_sqlite_server_with_basic_auth_and_no_password_leaks(tmp_path, monkeypatch):
    require_env("torch")
    backend = f"sqlite:///{tmp_path / 'mlflow.db'}"
    server_env = auth_server_env(tmp_path, "EDIT")  # every user may log runs into the team's experiments
    with mlflow_server(backend, tmp_path, ("--app-name", "basic-auth"), server_env) as server:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
        for user, password in USERS.items():
            create_user(server, user, password)
        alice = {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": USERS["alice"]}
        bob_url = with_password(server.url, "bob", USERS["bob"])
        hosts = [
            # the documented way: credentials in MLflow's variables, the URI on the command line
            Host("alice-1", sweep(0, f"tracking.uri={server.url}"), alice),
            Host("alice-2", sweep(1, f"tracking.uri={server.url}"), alice),
            # credentials inside the URI, from $MLFLOW_TRACKING_URI (tracking=server's default) ...
            Host("bob-1", sweep(2), {"MLFLOW_TRACKING_URI": bob_url}),
            # ... and on the command line, where Hydra's launcher echoes every override (see docs/server.md)
            Host("bob-2", sweep(3, f"tracking.uri={bob_url}"), {}),
        ]
        results = run_hosts_at_once(hosts, tmp_path / "hosts")

        client = MlflowClient(server.url)
        runs, artifacts = read_back(client, tmp_path / "downloaded")
        assert_every_run_arrived_once(client, runs, artifacts, results)
        assert_no_secret_in_runs(runs, artifacts, list(USERS.values()))
        for result in results:  # also where the password was in the URI (taken out before Hydra records it)
            for secret in USERS.values():
                assert secret not in result.output, f"host {result.host.name} printed a password"
                stored = [p for p in result.cwd.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
                assert not stored, f"host {result.host.name} wrote a password to {stored}"

        wrong = {**alice, "MLFLOW_TRACKING_PASSWORD": "wrong-password-0x0"}
        [refused] = run_hosts_at_once([Host("alice-wrong", sweep(4, f"tracking.uri={server.url}"), wrong)], tmp_path)
        assert refused.returncode != 0 and "not authenticated" in refused.output, tail(refused)
        assert "Traceback" not in refused.output, tail(refused)
        assert "wrong-password-0x0" not in refused.output
        assert len(client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])) == len(runs)

    database = (tmp_path / "mlflow.db").read_bytes()
    assert b"green.sweep_dir" in database
    assert not [s for s in USERS.values() if s.encode() in database], "the tracking database holds a password"
    assert len(list(server.artifacts.rglob("result.json"))) == 8, (
        "every job's artifacts were stored by the server, not by the hosts"
    )


def test_four_hosts_sweep_at_once_into_a_postgresql_server_and_every_run_arrives_once(tmp_path):
    require_env("torch")
    secret = "carol-s3cret-0xCA401"
    with postgres() as backend, mlflow_server(backend, tmp_path) as server:
        hosts = [Host(f"host-{i}", sweep(i, f"tracking.uri={server.url}"), {}) for i in range(3)]
        # a server without authentication ignores credentials in the URI: the requests still work
        hosts.append(Host("carol", sweep(3), {"MLFLOW_TRACKING_URI": with_password(server.url, "carol", secret)}))
        results = run_hosts_at_once(hosts, tmp_path / "hosts")

        client = MlflowClient(server.url)
        runs, artifacts = read_back(client, tmp_path / "downloaded")
        assert_every_run_arrived_once(client, runs, artifacts, results)
        assert_no_secret_in_runs(runs, artifacts, [secret])
        assert secret not in results[-1].output
        dump = pg_dump(backend)
        assert "green.sweep_dir" in dump and secret not in dump
    assert len(list(server.artifacts.rglob("result.json"))) == 8
