"""A password in ``tracking.uri`` goes nowhere: not into Hydra's files of the sweep, the store, the artifacts,
the output or any worker's environment — also when the server goes away in the middle of the sweep and every
later request fails with MLflow's own error texts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.helpers.project import TINY_MEASURE, require_env
from tests.helpers.server import auth_server_env, create_user, host_env, mlflow_server, stop_group

pytestmark = pytest.mark.slow

USER, PASSWORD = "carol", "carol-Pa55-0xCA401-secret"
BATCH_SIZES = "1,2,3"


def finished_rows(cwd: Path) -> list[dict]:
    rows = []
    for ledger in cwd.rglob("jobs.jsonl"):
        rows += [json.loads(line) for line in ledger.read_text().splitlines() if line.strip()]
    return [row for row in rows if row.get("status") == "FINISHED"]


def environ_of(process: psutil.Process) -> bytes | None:
    try:
        return Path(f"/proc/{process.pid}/environ").read_bytes()
    except OSError:  # ended meanwhile
        return None


def files_holding(folder: Path, secret: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_a_password_in_the_uri_leaks_nowhere_even_when_the_server_stops_mid_sweep(tmp_path):
    require_env("torch")
    server_folder, cwd = tmp_path / "server", tmp_path / "host"
    server_folder.mkdir()
    cwd.mkdir()
    backend = f"sqlite:///{server_folder / 'mlflow.db'}"
    env = auth_server_env(server_folder, "EDIT")
    with mlflow_server(backend, server_folder, ("--app-name", "green-mlflow-auth"), env) as server:
        create_user(server, USER, PASSWORD)
        uri = server.url.replace("http://", f"http://{USER}:{PASSWORD}@", 1)
        args = ["-m", "runtime=torch", "model=mobilenet_v2", "model.image_size=32", f"batch_size={BATCH_SIZES}"]
        args += [*TINY_MEASURE, "tracking=server", f"tracking.uri={uri}"]
        # MLflow's client would retry a stopped server for minutes
        fail_fast = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
        output = cwd / "output.txt"
        with open(output, "w") as out:
            sweep = subprocess.Popen(
                [sys.executable, "-m", "green_mlflow", *args],
                cwd=cwd,
                env=host_env(cwd, fail_fast),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        me = psutil.Process(sweep.pid)
        workers: dict[int, str] = {}  # pid → command line of every child seen, and its environment checked
        deadline = time.monotonic() + 900
        try:
            while sweep.poll() is None and not finished_rows(cwd):  # run until the first job is logged
                for child in me.children(recursive=True):
                    environ = environ_of(child)
                    if environ is not None:
                        assert PASSWORD.encode() not in environ, f"{child.cmdline()} has the password in its environ"
                        workers.setdefault(child.pid, " ".join(child.cmdline()))
                assert time.monotonic() < deadline, output.read_text()[-3000:]
                time.sleep(0.1)
        except BaseException:
            stop_group(sweep)
            raise
    # the server is stopped now, in the middle of the sweep: the remaining jobs cannot be logged
    try:
        sweep.wait(timeout=900)
    finally:
        stop_group(sweep)
    printed = output.read_text()
    assert len(finished_rows(cwd)) < len(BATCH_SIZES.split(",")), f"the server stopped too late:\n{printed[-3000:]}"
    assert sweep.returncode != 0, printed[-3000:]
    assert any("green_mlflow.worker" in cmd for cmd in workers.values()), f"no worker seen: {workers}"
    assert "cannot be reached" in printed or "Connection" in printed, printed[-3000:]
    assert "Traceback" not in printed, printed[-4000:]

    assert PASSWORD not in printed, "the output shows the password"
    assert "user name and password taken out of the URI" in printed, "the user is told where the password went"
    sweep_folders = list(cwd.rglob("multirun.yaml"))
    assert sweep_folders and list(cwd.rglob(".hydra")), "Hydra wrote its files of the sweep"
    assert not files_holding(cwd, PASSWORD), "the host's files (sweep folder, Hydra's records, cache) hold it"
    assert (server_folder / "mlflow.db").exists() and list((server_folder / "artifacts").rglob("result.json"))
    # the tracking store, the artifacts, the server's log and its user database (which keeps a hash only)
    assert not files_holding(server_folder, PASSWORD), "the server's files hold the password"
    assert os.environ.get("MLFLOW_TRACKING_PASSWORD") != PASSWORD
