"""``python -m green_mlflow``: run the Hydra app, close a parent run left open, exit non-zero on failures."""

from __future__ import annotations

import signal
import sys


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the current job's run is marked KILLED, the worker is stopped."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def run() -> int:
    from green_mlflow.app import main
    from green_mlflow.tracking import runs
    from green_mlflow.tracking.callback import STATE
    from green_mlflow.tracking.store import open_store
    from green_mlflow.tracking.summary import read_parent

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
