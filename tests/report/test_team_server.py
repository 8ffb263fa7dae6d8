"""``mlflow server --app-name green-mlflow-auth``: the comparison page behind MLflow's own logins and
per-experiment permissions, through HTTP against a real server (SQLite store, basic-auth config written here,
default permission NO_PERMISSIONS)."""

from __future__ import annotations

import pytest
import requests
from mlflow.server import get_app_client
from mlflow.tracking import MlflowClient

from green_mlflow.report.plugin import UNAUTHENTICATED
from tests.helpers.server import ADMIN, ADMIN_PASSWORD, Server, auth_server_env, create_user, mlflow_server
from tests.helpers.synthetic import Job, make_sweep

pytestmark = pytest.mark.slow

READER, READER_PASSWORD = "alice", "alice-s3cret-0xA11CE"
NOBODY, NOBODY_PASSWORD = "nobody", "nobody-s3cret-0x0B0D"
PAGE = "/green/compare"


def get(server: Server, query: str = "", auth: tuple[str, str] | None = None) -> requests.Response:
    return requests.get(f"{server.url}{PAGE}{query}", auth=auth, timeout=120)


def test_the_page_shows_each_user_only_the_experiments_they_may_read(tmp_path, monkeypatch):
    backend = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = auth_server_env(tmp_path, "NO_PERMISSIONS")
    with mlflow_server(backend, tmp_path, ("--app-name", "green-mlflow-auth"), env) as server:
        create_user(server, READER, READER_PASSWORD)
        create_user(server, NOBODY, NOBODY_PASSWORD)
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
        client = MlflowClient(server.url)
        sweeps = {
            name: make_sweep(
                client, name, [Job("torch", "eager", repetition=r) for r in range(2)], name=f"{name} sweep"
            )
            for name in ("team-a-experiment", "team-b-experiment")
        }
        ids = {name: client.get_experiment_by_name(name).experiment_id for name in sweeps}
        # MLflow's own client of the basic-auth app, as the admin (docs/server.md)
        get_app_client("basic-auth", tracking_uri=server.url).grant_user_permission(
            READER, "experiment", ids["team-a-experiment"], "READ"
        )
        a_id, b_id = ids["team-a-experiment"], ids["team-b-experiment"]
        b_secrets = ("team-b-experiment", sweeps["team-b-experiment"], "team-b-experiment sweep")

        # anonymous: 401 on the page (any view) and on the REST API, and nothing is deleted
        for query in ("", f"?experiment={a_id}", f"?parent={sweeps['team-a-experiment']}"):
            anonymous = get(server, query)
            assert anonymous.status_code == 401, (query, anonymous.status_code, anonymous.text[:300])
            assert "team-a-experiment" not in anonymous.text
        deleted = requests.post(
            f"{server.url}/api/2.0/mlflow/experiments/delete", json={"experiment_id": a_id}, timeout=60
        )
        assert deleted.status_code == 401
        assert client.get_experiment(a_id).lifecycle_stage == "active"

        # READ on A only: A listed and rendered, B neither listed nor rendered (403 by name, id or sweep)
        reader = (READER, READER_PASSWORD)
        index = get(server, "", reader)
        assert index.status_code == 200, index.text[:500]
        assert "team-a-experiment" in index.text and sweeps["team-a-experiment"] in index.text
        assert not [s for s in b_secrets if s in index.text], "the index shows an experiment the user may not read"
        assert UNAUTHENTICATED not in index.text
        page_a = get(server, f"?experiment={a_id}", reader)
        assert page_a.status_code == 200 and "team-a-experiment" in page_a.text, page_a.text[:500]
        assert get(server, f"?parent={sweeps['team-a-experiment']}", reader).status_code == 200
        for query in ("?experiment=team-b-experiment", f"?experiment={b_id}", f"?parent={sweeps['team-b-experiment']}"):
            refused = get(server, query, reader)
            assert refused.status_code == 403, (query, refused.status_code, refused.text[:500])
            assert not [s for s in b_secrets if s in refused.text], refused.text
        # MLflow's own permissions still hold: READ may not delete
        deleted = requests.post(
            f"{server.url}/api/2.0/mlflow/experiments/delete", json={"experiment_id": a_id}, auth=reader, timeout=60
        )
        assert deleted.status_code == 403

        # no grant at all: nothing listed, both refused; a wrong password: 401
        nobody = (NOBODY, NOBODY_PASSWORD)
        empty = get(server, "", nobody)
        assert empty.status_code == 200 and "team-a-experiment" not in empty.text
        assert "team-b-experiment" not in empty.text and "that you may read" in empty.text
        assert get(server, f"?experiment={a_id}", nobody).status_code == 403
        assert get(server, "", (READER, "not-the-password")).status_code == 401

        # the admin sees and opens both
        admin = (ADMIN, ADMIN_PASSWORD)
        everything = get(server, "", admin)
        assert everything.status_code == 200
        assert all(name in everything.text for name in sweeps), everything.text[:1000]
        assert get(server, f"?experiment={b_id}", admin).status_code == 200
        assert "Permission denied" not in get(server, f"?parent={sweeps['team-b-experiment']}", admin).text
