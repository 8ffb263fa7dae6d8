"""``python -m green_mlflow``: run the Hydra app, close a parent run left open, exit non-zero on failures."""

from __future__ import annotations

import signal
import sys


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the current job's run is marked KILLED, the worker is stopped."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


GROUPS = ("runtime", "model", "provider", "mode", "measure", "tracking", "carbon", "allocator")


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
    from green_mlflow import redaction

    redaction.redact_process_output()
    try:  # before Hydra records the overrides in multirun.yaml and .hydra/ (docs/server.md)
        sys.argv[1:], notes = redaction.lift_credentials(sys.argv[1:])
    except redaction.CredentialsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for note in notes:
        print(note, file=sys.stderr)

    from green_mlflow.app import main
    from green_mlflow.sweep import outcome as sweep_outcome
    from green_mlflow.sweep.lifecycle import close_abandoned

    problem = unreportable_override(sys.argv[1:])
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    outcome = sweep_outcome.begin()
    interrupted: KeyboardInterrupt | None = None
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        main()
    except KeyboardInterrupt as err:
        interrupted = err
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
        close_abandoned(interrupted is not None)
    if interrupted is not None:
        terminated = isinstance(interrupted, Terminated)
        print("terminated (SIGTERM)" if terminated else "interrupted", file=sys.stderr)
        return 143 if terminated else 130
    return outcome.code()


if __name__ == "__main__":
    sys.exit(run())
