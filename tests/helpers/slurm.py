"""A live single-node SLURM cluster for the tests, from Debian's packages (``make slurm``: slurmctld, slurmd,
slurm-client, munge).

Everything is private to one folder: a munge key and socket (``AuthInfo=socket=…``), the controller's state (so
job ids start at 1, as on a fresh cluster), the logs and the PID files the cluster is stopped by. The node is
this machine, named ``localhost`` at 127.0.0.1, with ``proctrack/linuxproc`` and ``task/none`` (no cgroups).
Debian's build has no accounting storage: ``sacct`` fails here, as on a cluster without slurmdbd.

Node faults on demand: ``stop_slurmd`` (the node stops answering; the controller marks it DOWN about 30 s later
with ``SlurmdTimeout=10`` and requeues its job, whose step lives on), ``start_slurmd`` (it returns to service:
``ReturnToService=2``), ``drain`` and ``resume``. A requeued job waits ``cred_expire`` + 1 s (11 s here, 121 s by
default) before it may start again.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers.server import free_port

DAEMONS = ("slurmd", "slurmctld", "munged")  # stopped in this order


@dataclass
class Cluster:
    root: Path
    env: dict[str, str]  # SLURM_CONF: what every client (sbatch, squeue, scontrol, scancel) needs
    pids: dict[str, int] = field(default_factory=dict)

    def run(self, *cmd: str) -> str:
        return subprocess.run(cmd, env={**os.environ, **self.env}, capture_output=True, text=True, check=True).stdout

    def jobs(self) -> list[dict[str, str]]:
        """Every job the controller remembers, as ``scontrol show job --oneliner`` fields."""
        out = subprocess.run(
            ["scontrol", "show", "job", "--oneliner"], env={**os.environ, **self.env}, capture_output=True, text=True
        ).stdout
        return [dict(part.split("=", 1) for part in line.split() if "=" in part) for line in out.splitlines() if line]

    def log(self, daemon: str) -> str:
        path = self.root / "log" / f"{daemon}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def node_state(self) -> str:
        """The node's state as sinfo's short form: ``idle``, ``alloc``, ``down*``, ``drain``, …"""
        env = {**os.environ, **self.env}
        return subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True).stdout.strip()

    def wait_for_node(self, state: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while self.node_state() != state:
            if time.monotonic() > deadline:
                pytest.fail(f"the node is {self.node_state()!r}, not {state!r}:\n{self.log('slurmctld')[-3000:]}")
            time.sleep(0.3)

    def stop_slurmd(self) -> None:
        """The node dies as the controller sees it: slurmd stops (SIGTERM); its job steps live on."""
        pid = self.pids["slurmd"]
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), "slurmd did not stop"

    def start_slurmd(self) -> None:
        """slurmd again; the node returns to service (``ReturnToService=2``) once it registers."""
        (self.root / "slurmd.pid").unlink(missing_ok=True)
        env = {**os.environ, **self.env}
        subprocess.run(["slurmd", "-f", self.env["SLURM_CONF"], "-N", "localhost"], check=True, env=env)
        self.pids["slurmd"] = _pid(self.root / "slurmd.pid", time.monotonic() + 30)
        self.wait_for_node("idle")

    def drain(self, reason: str) -> None:
        self.run("scontrol", "update", "nodename=localhost", "state=drain", f"reason={reason}")

    def resume(self) -> None:
        self.run("scontrol", "update", "nodename=localhost", "state=resume")
        self.wait_for_node("idle")


def _config(root: Path, cpus: int) -> str:
    return f"""ClusterName=green
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=10,socket={root}/munge/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
KillWait=2
SlurmdTimeout=10
MinJobAge=3600
InactiveLimit=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def _pid(path: Path, deadline: float) -> int:
    while not path.exists() or not path.read_text().strip():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} was not written")
        time.sleep(0.1)
    return int(path.read_text().split()[0])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stepds(cluster: Cluster) -> list:
    """This cluster's slurmstepd processes (one per job step, started by slurmd in this cluster's folder)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            if proc.info["name"] == "slurmstepd" and Path(proc.cwd()).is_relative_to(cluster.root):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def stop(cluster: Cluster) -> None:
    """Cancel every job and wait (10 s at most) for their steps to end, then SIGTERM each daemon by its recorded
    PID and SIGKILL what is left after 10 s; a job step still alive then is killed with its processes."""
    env = {**os.environ, **cluster.env}
    if cluster.pids.get("slurmctld") and _alive(cluster.pids["slurmctld"]):
        ids = subprocess.run(["squeue", "-h", "-o", "%i"], env=env, capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run(["scancel", *ids], env=env, capture_output=True)
        deadline = time.monotonic() + 10
        while stepds(cluster) and time.monotonic() < deadline:
            time.sleep(0.2)
    for name in DAEMONS:
        pid = cluster.pids.get(name)
        if pid is None or not _alive(pid):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    for stepd in stepds(cluster):
        for proc in [*stepd.children(recursive=True), stepd]:
            try:
                proc.kill()
            except Exception:  # gone already
                pass


@contextmanager
def slurm_cluster() -> Iterator[Cluster]:
    """Start munged, slurmctld and slurmd; yield once the node is idle; stop them by their PIDs afterwards."""
    if not shutil.which("slurmctld") or not shutil.which("munged"):
        pytest.fail("SLURM is not installed: run `make slurm` (Debian's slurmctld, slurmd, slurm-client, munge)")
    root = Path(tempfile.mkdtemp(prefix="green-slurm-"))  # under /tmp: munged wants its socket folder reachable by all
    root.chmod(0o755)
    for sub in ("munge", "state", "spool", "log"):
        (root / sub).mkdir()
    (root / "munge").chmod(0o755)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    conf = root / "slurm.conf"
    conf.write_text(_config(root, os.cpu_count() or 1))
    cluster = Cluster(root, {"SLURM_CONF": str(conf)})
    env = {**os.environ, **cluster.env}
    deadline = time.monotonic() + 60
    try:
        munge = root / "munge"
        subprocess.run(
            ["munged", f"--socket={munge}/munge.sock", f"--key-file={key}", f"--pid-file={munge}/munged.pid",
             f"--log-file={munge}/munged.log", f"--seed-file={munge}/munged.seed"],
            check=True, env=env,
        )  # fmt: skip
        cluster.pids["munged"] = _pid(munge / "munged.pid", deadline)
        subprocess.run(["slurmctld", "-f", str(conf)], check=True, env=env)
        cluster.pids["slurmctld"] = _pid(root / "slurmctld.pid", deadline)
        subprocess.run(["slurmd", "-f", str(conf), "-N", "localhost"], check=True, env=env)
        cluster.pids["slurmd"] = _pid(root / "slurmd.pid", deadline)
        while "idle" not in subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True).stdout:
            if time.monotonic() > deadline:
                pytest.fail(f"the SLURM node did not become idle:\n{cluster.log('slurmctld')[-3000:]}")
            time.sleep(0.2)
        yield cluster
    finally:
        stop(cluster)
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Paths:
    """The files of a submitit job the sweep reads: its result pickle and its stderr log."""

    result_pickle: Path
    stderr: Path


@dataclass
class FakeJob:
    """A submitit job as ``sweep.slurm`` sees it (its id and paths), for the unit tests without a cluster."""

    job_id: str
    paths: Paths


def fake_job(tmp_path: Path, job_id: str, result: bool = False, message: str = "") -> FakeJob:
    """A job with (``result``) or without its result pickle, and slurmstepd's ``message`` in its stderr."""
    paths = Paths(tmp_path / f"{job_id}_result.pkl", tmp_path / f"{job_id}_log.err")
    if result:
        paths.result_pickle.write_bytes(b"x")
    if message:
        paths.stderr.write_text(f"slurmstepd: error: {message}\n")
    return FakeJob(job_id, paths)
