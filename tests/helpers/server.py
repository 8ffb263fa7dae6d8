"""A real PostgreSQL and a real ``mlflow server`` on loopback, and sweeps started at once as separate hosts would.

PostgreSQL comes from Debian's ``postgresql`` package (``make postgres`` installs it). It refuses to
run as root, so under root it runs as the ``postgres`` user in a folder that user owns.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

# where a client would find a server or credentials of its own: each simulated host sets its own
CLIENT_ENV = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_RUN_ID",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
)


ADMIN, ADMIN_PASSWORD = "admin", "admin-Pa55-0xAD17"  # the basic-auth admin of every test server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path:
    """The newest Debian PostgreSQL's bin folder; CI installs it first (make postgres)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        pytest.fail("PostgreSQL is not installed: run `make postgres` (Debian's postgresql package)")
    return Path(found[-1]).parent


@contextmanager
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on a free loopback port with a database ``mlflow``.

    Yields the SQLAlchemy URI for ``mlflow server``. It names psycopg2: SQLAlchemy 2.1 maps a bare
    ``postgresql://`` to psycopg 3, which the ``server`` extra does not install.
    """
    bin_dir = postgres_bin()
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="green-mlflow-pg-"))  # under /tmp: the postgres user can reach it
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port()

    def pg(tool: str, *args: str) -> None:
        proc = subprocess.run([*as_user, str(bin_dir / tool), *args], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            log = (folder / "postgres.log").read_text() if (folder / "postgres.log").exists() else ""
            pytest.fail(f"{tool} {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}{log[-2000:]}")

    try:
        pg("initdb", "-D", str(data), "-U", "mlflow", "--auth=trust", "-E", "UTF8", "--no-locale")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
        pg("pg_ctl", "-D", str(data), "-l", str(folder / "postgres.log"), "-o", options, "-w", "start")
        try:
            pg("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "mlflow", "mlflow")
            yield f"postgresql+psycopg2://mlflow@127.0.0.1:{port}/mlflow"
        finally:
            pg("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def pg_dump(uri: str) -> str:
    """The whole ``mlflow`` database as SQL text (to search it for what must never be stored)."""
    port = uri.rsplit(":", 1)[1].split("/", 1)[0]
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    cmd = [*as_user, str(postgres_bin() / "pg_dump"), "-h", "127.0.0.1", "-p", port, "-U", "mlflow", "mlflow"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    return proc.stdout


def stop_group(proc: subprocess.Popen) -> None:
    """Stop a process started in a session of its own, with everything it started (server workers)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=30)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


@dataclass
class Server:
    url: str
    artifacts: Path
    log: Path


@contextmanager
def mlflow_server(
    backend_store_uri: str, folder: Path, extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> Iterator[Server]:
    """``mlflow server`` on a free loopback port, serving artifacts from ``folder/artifacts`` (proxied)."""
    port, artifacts, log = free_port(), folder / "artifacts", folder / "server.log"
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--backend-store-uri", backend_store_uri, "--serve-artifacts", "--artifacts-destination", str(artifacts)]
    cmd += ["--workers", "2", *extra_args]  # several server processes write to one backend, as in production
    server_env = {k: v for k, v in os.environ.items() if k not in CLIENT_ENV}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=folder,
            env={**server_env, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # the workers import MLflow: slow on a busy 2-core machine
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not answer on {url}:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield Server(url=url, artifacts=artifacts, log=log)
    finally:
        stop_group(proc)


@dataclass
class Host:
    """One simulated host: its own working folder (so its own sweep folder) and environment."""

    name: str
    args: list[str]
    env: dict[str, str]


@dataclass
class HostResult:
    host: Host
    cwd: Path
    returncode: int
    output: str


def host_env(cwd: Path, extra: dict[str, str]) -> dict[str, str]:
    """This machine's environment without any MLflow client settings, plus the host's own."""
    env = {k: v for k, v in os.environ.items() if k not in CLIENT_ENV}
    return {**env, "PYTHONUNBUFFERED": "1", "GREEN_MLFLOW_CACHE_DIR": str(cwd / "onnx-cache"), **extra}


def run_hosts_at_once(hosts: list[Host], root: Path, timeout_s: float = 1200) -> list[HostResult]:
    """Start ``python -m green_mlflow`` for every host at the same time and wait for all of them."""
    started = []
    for host in hosts:
        cwd = root / host.name
        cwd.mkdir(parents=True)
        out = open(cwd / "output.txt", "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "green_mlflow", *host.args],
            cwd=cwd,
            env=host_env(cwd, host.env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append((host, cwd, proc, out))
    deadline = time.monotonic() + timeout_s
    results = []
    for host, cwd, proc, out in started:
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            stop_group(proc)
        out.close()
        results.append(HostResult(host, cwd, proc.returncode, (cwd / "output.txt").read_text()))
    return results


def auth_server_env(folder: Path, default_permission: str) -> dict[str, str]:
    """A basic-auth configuration of the test's own: its user database, admin and default permission."""
    config = folder / "basic_auth.ini"
    config.write_text(
        "[mlflow]\n"
        f"default_permission = {default_permission}\n"
        f"database_uri = sqlite:///{folder / 'basic_auth.db'}\n"
        f"admin_username = {ADMIN}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "auth_cache_ttl_seconds = 60\n"  # else a PBKDF2 hash per request: slow on a busy 2-core machine
    )
    return {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),  # the same in every server worker
    }


def create_user(server: Server, user: str, password: str) -> None:
    created = requests.post(
        f"{server.url}/api/2.0/mlflow/users/create",
        json={"username": user, "password": password},
        auth=(ADMIN, ADMIN_PASSWORD),
        timeout=60,
    )
    assert created.status_code == 200, created.text
