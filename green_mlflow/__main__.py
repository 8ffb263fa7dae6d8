"""``python -m green_mlflow``: run the Hydra app, close a parent run left open, exit non-zero on failures."""

from __future__ import annotations

import signal
import sys


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the current job's run is marked KILLED, the worker is stopped."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


GROUPS = ("runtime", "model", "provider", "mode", "measure", "tracking")


def unreportable_override(args: list[str]) -> str | None:
    """What is wrong with an override Hydra would answer with a raw traceback (``model=1``, ``runtime=null``, ``=1``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    for arg in args:
        if arg.startswith("-"):
            continue
        try:
            override = parser.parse_override(arg)
        except HydraException:
            continue  # Hydra reports a malformed override itself, briefly
        key = override.key_or_group
        if not key:
            return f"{arg} has no key: write key=value, e.g. batch_size=64"
        if (key in GROUPS or "/" in key) and not override.is_delete() and not override.is_sweep_override():
            if not isinstance(override.value(), str):
                return f"{arg}: {key} takes the name of one of its options (python -m green_mlflow --help lists them)"
    return None


def run() -> int:
    from green_mlflow.app import main
    from green_mlflow.tracking import runs
    from green_mlflow.tracking.callback import STATE
    from green_mlflow.tracking.store import open_store
    from green_mlflow.tracking.summary import read_parent

    problem = unreportable_override(sys.argv[1:])
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    interrupted: KeyboardInterrupt | None = None
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        main()
    except KeyboardInterrupt as err:
        interrupted = err
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
        # Hydra skips on_multirun_end after a job raised; never leave the parent RUNNING
        folder = STATE.get("folder")
        if folder is not None and not STATE.get("closed"):
            parent = read_parent(folder)
            if parent and not parent.get("adopted"):
                store = open_store(parent["tracking_uri"], parent["experiment_name"])
                runs.finish(store, parent["run_id"], "KILLED" if interrupted is not None else "FAILED")
            STATE["failed"] = STATE.get("failed") or 1
    if interrupted is not None:
        terminated = isinstance(interrupted, Terminated)
        print("terminated (SIGTERM)" if terminated else "interrupted", file=sys.stderr)
        return 143 if terminated else 130
    if "exit_code" in STATE:
        return STATE["exit_code"]
    return 1 if STATE.get("failed") else 0


if __name__ == "__main__":
    sys.exit(run())
