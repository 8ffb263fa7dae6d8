"""Facts about the host a measurement ran on (docs/method.md, "Metadata every run carries")."""

from __future__ import annotations

import os
import platform
import sys

import psutil


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def host_facts() -> dict[str, str]:
    return {
        "hostname": platform.node(),
        "cpu_model": cpu_model(),
        "cpu_logical_cores": str(os.cpu_count()),
        "cpu_physical_cores": str(psutil.cpu_count(logical=False)),
        "ram_gb": f"{psutil.virtual_memory().total / 2**30:.1f}",
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
    }
