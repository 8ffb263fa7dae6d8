"""Why a pending SLURM job waits, in the user's words: a busy queue (it will start when a node frees up) or nodes
that cannot take it (every node it may use is DOWN, DRAINED or reserved, or its partition is down), which no
amount of waiting fixes until an administrator acts. ``green_mlflow.sweep.slurm`` bounds the first by
``max_pending_min`` (a day) and the second by ``max_unavailable_min`` (minutes).

Both the job's reason (``scontrol show job``) and the nodes' states (``scontrol show node``) are read: a job
requeued after its node failed can show ``Reason=Resources`` while its only node is DOWN.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

# A job's reason when the nodes it may use cannot take it (https://slurm.schedmd.com/squeue.html#SECTION_JOB-REASON-CODES)
UNAVAILABLE_REASONS = ("ReqNodeNotAvail", "Nodes_required_for_job_are_DOWN", "PartitionDown", "PartitionInactive",
                       "NodeDown")  # fmt: skip
# Node state flags (``scontrol show node``'s State=IDLE+DRAIN, DOWN+NOT_RESPONDING, …) that take no new job
UNAVAILABLE_FLAGS = {"DOWN", "DRAIN", "FAIL", "MAINT", "FUTURE", "INVAL"}
REASON_WORDS = {
    "Resources": "waiting for a free node (a busy queue)",
    "Priority": "other jobs go first (a busy queue)",
    "BeginTime": "held until its start time (the scheduler waits a while before restarting a requeued job)",
    "Dependency": "waiting for another job",
    "JobArrayTaskLimit": "waiting for the array's earlier tasks (hydra.launcher.array_parallelism)",
    "PartitionDown": "its partition is DOWN",
    "PartitionInactive": "its partition is INACTIVE",
    "NodeDown": "a node it needs is DOWN",
}


@dataclass(frozen=True)
class Node:
    """One node as ``scontrol show node`` tells it."""

    name: str
    state: str  # IDLE, ALLOCATED+DRAIN, DOWN+NOT_RESPONDING, …
    reason: str = ""  # the administrator's or the controller's: "Not responding", "maintenance"
    partitions: tuple[str, ...] = ()

    @property
    def unavailable(self) -> bool:
        return bool(set(self.state.split("+")) & UNAVAILABLE_FLAGS)


@dataclass(frozen=True)
class Cluster:
    """The nodes and partitions (name → State: UP, DOWN, DRAIN, INACTIVE) as the controller tells them."""

    nodes: dict[str, Node]
    partitions: dict[str, str]


def parse_show_node(text: str) -> dict[str, Node]:
    """``scontrol show node --oneliner`` output by node name. ``Reason=`` comes last and may hold spaces; the
    ``[user@time]`` the controller appends to it is kept (it says when)."""
    out = {}
    for line in text.splitlines():
        head, _, reason = line.partition(" Reason=")
        fields = dict(re.findall(r"(\w+)=(\S*)", head))
        if "NodeName" not in fields:
            continue
        parts = tuple(p for p in fields.get("Partitions", "").split(",") if p)
        out[fields["NodeName"]] = Node(fields["NodeName"], fields.get("State", ""), reason.strip(), parts)
    return out


def parse_show_partition(text: str) -> dict[str, str]:
    """``scontrol show partition --oneliner`` output: partition name → State."""
    out = {}
    for line in text.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "PartitionName" in fields:
            out[fields["PartitionName"]] = fields.get("State", "")
    return out


def scontrol_cluster() -> Cluster | None:
    """The nodes and partitions now; None when the controller does not answer."""
    texts = []
    for what in ("node", "partition"):
        try:
            proc = subprocess.run(
                ["scontrol", "show", what, "--oneliner"], capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if proc.returncode != 0:
            return None
        texts.append(proc.stdout)
    return Cluster(parse_show_node(texts[0]), parse_show_partition(texts[1]))


def reason_words(reason: str) -> str:
    """A job's pending reason as the user reads it: ``Nodes_required_for_job_are_DOWN,_DRAINED_or_…`` → its text."""
    if reason in REASON_WORDS:
        return REASON_WORDS[reason]
    if reason.startswith("ReqNodeNotAvail"):
        detail = reason.split(",", 1)[1].replace("_", " ").strip() if "," in reason else ""
        return "a node it needs is not available" + (f" ({detail})" if detail else "")
    return reason.replace("_", " ")


def node_words(node: Node) -> str:
    """``localhost DOWN+NOT_RESPONDING (Not responding [slurm@2026-12-07T19:08:52])``."""
    return f"{node.name} {node.state}" + (f" ({node.reason})" if node.reason else "")


def unavailable_cause(reason: str, partition: str, cluster: Cluster | None) -> str:
    """Why a PENDING job cannot start whatever the queue does, or ``""`` when it only waits its turn.

    Its reason says so (``ReqNodeNotAvail``, ``Nodes required for job are DOWN, DRAINED or reserved …``,
    ``PartitionDown``), or every node of every partition it may run in takes no new job (DOWN, DRAIN, FAIL,
    MAINT) or the partition is not UP: the nodes, with their state and reason, say it best. ``Resources`` and
    ``Priority`` alone are a busy queue."""
    by_nodes = _nodes_cause([p for p in partition.split(",") if p], cluster) if cluster is not None else ""
    return by_nodes or (reason_words(reason) if reason.startswith(UNAVAILABLE_REASONS) else "")


def _nodes_cause(partitions: list[str], cluster: Cluster) -> str:
    causes = []
    for name in partitions:
        state = cluster.partitions.get(name, "")
        if state and state != "UP":
            causes.append(f"partition {name} is {state}")
            continue
        nodes = [n for n in cluster.nodes.values() if name in n.partitions]
        if not nodes or not all(n.unavailable for n in nodes):
            return ""  # a partition with a node that can take the job: it waits its turn
        shown = "; ".join(node_words(n) for n in nodes[:3]) + (f"; and {len(nodes) - 3} more" if len(nodes) > 3 else "")
        causes.append(f"every node of partition {name} is DOWN, DRAINED or in maintenance ({shown})")
    return "; ".join(causes)
