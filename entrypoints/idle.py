"""MLproject entry ``idle``: this host's idle power on its own, logged to the run ``mlflow run`` created.

``mlflow run . -e idle -P measure=paper`` measures for ``measure.idle_s`` with the meters a sweep's jobs use,
in a process of its own, and logs what a sweep logs on its parent run (``idle_<domain>_power_w``,
``idle.<domain>.method``, ``idle/idle.json``; docs/metrics.md), with the tag ``green.kind=idle``. Run
directly (``python entrypoints/idle.py``) it makes a run of its own. Exit status 1 when the measurement failed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import sys
import tempfile
from pathlib import Path

from _project import ROOT, fail, use_project


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="entrypoints/idle.py", description=__doc__)
    parser.add_argument("--measure", default="default", help="measure preset (its idle_s is how long)")
    parser.add_argument("--provider", default="cpu", help="provider preset (its device_id is the GPU watched)")
    parser.add_argument("--overrides", default="", help="further overrides, e.g. 'measure.idle_s=120'")
    return parser.parse_args(argv)


def compose_config(args: argparse.Namespace):
    """The project's config for these arguments; a wrong option or value exits 2 with Hydra's explanation."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from green_mlflow.config import register_schemas

    try:
        extra = shlex.split(args.overrides)
    except ValueError as err:
        fail(f"parameter overrides is not a valid list of overrides ({err}): {args.overrides!r}")
    register_schemas()
    try:
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            return compose("config", overrides=[f"measure={args.measure}", f"provider={args.provider}", *extra])
    except (HydraException, OmegaConfBaseException) as err:
        fail(str(err).strip())


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    use_project()
    from mlflow.entities import Param
    from omegaconf import OmegaConf

    from green_mlflow.contract import MeasureSettings
    from green_mlflow.sweep import idle as baseline
    from green_mlflow.tracking import runs
    from green_mlflow.tracking.store import TrackingError, open_store

    cfg = compose_config(args)
    measure = MeasureSettings(**OmegaConf.to_container(cfg.measure, resolve=True))
    if measure.idle_s <= 0:
        fail(f"measure.idle_s={measure.idle_s}: an idle baseline needs a duration in seconds above 0")
    try:
        store = open_store(cfg.tracking.uri, cfg.tracking.experiment_name)
    except TrackingError as err:
        fail(str(err))
    run_id = os.environ.get("MLFLOW_RUN_ID")  # set by `mlflow run`: that run is ours, and it ends it
    own_run = not run_id
    if own_run:
        run_id = store.client.create_run(store.experiment_id, run_name=f"idle {socket.gethostname()}").info.run_id
    device_id = int(cfg.provider.device_id)
    store.client.log_batch(
        run_id,
        params=[Param(f"measure.{k}", str(getattr(measure, k))) for k in ("idle_s", "sample_interval_s", "cpu_tdp_w")]
        + [Param("provider.device_id", str(device_id))],
    )
    runs.log_values(store, run_id, {}, {"green.kind": "idle"})
    with tempfile.TemporaryDirectory(prefix="green_idle_") as folder:
        idle = baseline.idle_baseline(Path(folder), measure, device_id, lambda line: print(line, flush=True))
    baseline.log_on_parent(store, run_id, idle)
    print(baseline.describe(idle), flush=True)
    ok = idle.ok
    if own_run:
        runs.finish(store, run_id, "FINISHED" if ok else "FAILED")
    print(f"logged to run {run_id} in experiment '{store.experiment_name}'", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
