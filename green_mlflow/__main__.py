"""``python -m green_mlflow``: run the Hydra app, close a parent run left open, exit non-zero on failures."""

from __future__ import annotations

import sys


def run() -> int:
    from green_mlflow.app import main
    from green_mlflow.tracking import runs
    from green_mlflow.tracking.callback import STATE
    from green_mlflow.tracking.store import open_store
    from green_mlflow.tracking.summary import read_parent

    interrupted = False
    try:
        main()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        # Hydra skips on_multirun_end after a job raised; never leave the parent RUNNING
        folder = STATE.get("folder")
        if folder is not None and not STATE.get("closed"):
            parent = read_parent(folder)
            if parent and not parent.get("adopted"):
                store = open_store(parent["tracking_uri"], parent["experiment_name"])
                runs.finish(store, parent["run_id"], "KILLED" if interrupted else "FAILED")
            STATE["failed"] = STATE.get("failed") or 1
    if interrupted:
        print("interrupted", file=sys.stderr)
        return 130
    if "exit_code" in STATE:
        return STATE["exit_code"]
    return 1 if STATE.get("failed") else 0


if __name__ == "__main__":
    sys.exit(run())
