"""Utilisation sampler, run as its own process so it never competes inside the workload process.

``python -m green_mlflow.worker.sampler --pid P --interval-s 0.1 --out trace.csv [--gpu 0]``
prints ``ready`` once its first sample is written and stops on SIGTERM. Times are
``time.monotonic()`` (CLOCK_MONOTONIC, shared by every process on the host), so the workload's
window edges can be matched to samples.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from green_mlflow.meters.nvml import device_handle, other_gpu_processes

COLUMNS = [
    "t_s",
    "process_cpu_percent",
    "system_cpu_percent",
    "process_rss_mb",
    "system_mem_used_mib",  # the whole machine's used memory
    "gpu_util_percent",
    "gpu_mem_used_mb",
    "gpu_power_w",
    "gpu_temp_c",
    "gpu_other_processes",  # processes other than the workload (and this sampler) on the GPU
]


class _Gpu:
    def __init__(self, device_id: int, own_pids: set[int]):
        import pynvml

        pynvml.nvmlInit()
        self.nvml = pynvml
        self.handle = device_handle(pynvml, device_id)
        self.own_pids = own_pids
        self.others: dict[int, float | None] = {}  # every other process seen, for the worker's contention check
        self.others_error: str | None = None

    def read(self) -> list[float | None]:
        n, h = self.nvml, self.handle
        util = n.nvmlDeviceGetUtilizationRates(h).gpu
        mem = n.nvmlDeviceGetMemoryInfo(h).used / 2**20
        power = n.nvmlDeviceGetPowerUsage(h) / 1e3
        temp = n.nvmlDeviceGetTemperature(h, n.NVML_TEMPERATURE_GPU)
        try:
            others = other_gpu_processes(n, h, self.own_pids)
            self.others.update(others)
            count = len(others)
        except Exception as err:  # some drivers and containers hide the process list
            self.others_error = f"{type(err).__name__}: {err}"
            count = None
        return [util, mem, power, temp, count]


def sample_loop(pid: int, interval_s: float, out: Path, gpu_id: int | None) -> None:
    stop = False

    def _stop(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    process = psutil.Process(pid)
    gpu = None
    if gpu_id is not None:
        try:
            gpu = _Gpu(gpu_id, {pid, os.getpid()})
        except Exception as err:  # no NVML here: GPU columns stay empty
            print(f"sampler: no GPU columns ({err})", file=sys.stderr)
    process.cpu_percent(None)
    psutil.cpu_percent(None)
    with out.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        announced = False
        next_t = time.monotonic()
        while not stop:
            try:
                row = [
                    time.monotonic(),
                    process.cpu_percent(None),
                    psutil.cpu_percent(None),
                    process.memory_info().rss / 2**20,
                    psutil.virtual_memory().used / 2**20,
                ]
            except psutil.NoSuchProcess:
                break
            row += gpu.read() if gpu else [None] * 5
            writer.writerow(["" if v is None else f"{v:.6f}" if isinstance(v, float) else v for v in row])
            fh.flush()
            if not announced:
                print("ready", flush=True)
                announced = True
            next_t += interval_s
            time.sleep(max(0.0, next_t - time.monotonic()))
    if gpu is not None:
        processes_path(out).write_text(
            json.dumps({"other_processes": {str(k): v for k, v in gpu.others.items()}, "error": gpu.others_error})
        )


def processes_path(trace_path: Path) -> Path:
    """Where the sampler lists the other processes it saw on the GPU."""
    return trace_path.with_suffix(".gpu_processes.json")


def read_trace(path: Path) -> dict[str, list[float | None]]:
    """Columns of a sampler CSV; empty cells become None."""
    columns: dict[str, list[float | None]] = {c: [] for c in COLUMNS}
    if not path.exists():
        return columns
    with path.open() as fh:
        for row in csv.DictReader(fh):
            for c in COLUMNS:
                cell = row.get(c, "")
                columns[c].append(float(cell) if cell not in ("", None) else None)
    return columns


def sampler_settings(meters: list, interval_s: float, device_id: int) -> tuple[float, int | None]:
    """The sampling interval (the finest any polled meter needs) and the GPU to sample (only with a GPU meter)."""
    intervals = [float(interval_s)] + [m.needs_power_trace_interval_s for m in meters if m.needs_power_trace_interval_s]
    gpu_id = device_id if any(m.domain == "gpu" for m in meters) else None
    return min(intervals), gpu_id


class SamplerProcess:
    """Start the sampler beside the current process; ``stop()`` ends it and returns the trace path."""

    def __init__(self, interval_s: float, out: Path, gpu_id: int | None, pid: int | None = None):
        argv = [sys.executable, "-m", "green_mlflow.worker.sampler", "--pid", str(pid or os.getpid())]
        argv += ["--interval-s", str(interval_s), "--out", str(out)]
        if gpu_id is not None:
            argv += ["--gpu", str(gpu_id)]
        self.out = out
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.proc.kill()
            raise RuntimeError(f"the utilisation sampler did not start (exit {self.proc.wait()})")

    def stop(self) -> Path:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--interval-s", type=float, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--gpu", type=int, default=None)
    args = parser.parse_args(argv)
    sample_loop(args.pid, args.interval_s, args.out, args.gpu)


if __name__ == "__main__":
    main()
