"""What this process's sweep came to, for ``python -m green_mlflow``'s exit code.

Hydra owns the call stack between the entry point, the callback and each job, so they cannot pass
a value to each other; they share this one typed record instead. ``begin()`` makes a fresh one at
the start of a command, ``current()`` returns it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class SweepOutcome:
    folder: Path | None = None  # the sweep (or run) folder holding parent_run.json and the ledger
    closed: bool = False  # the parent run was closed (or there is none to close)
    failed: int = 0  # jobs that did not finish (or 1 when nothing ran)
    exit_code: int | None = None  # set when a command is refused outright (2: bad configuration or store)
    store_lost: str | None = None  # why the tracking store stopped answering mid-sweep: later jobs are not measured

    def refuse(self, exit_code: int = 2) -> None:
        """The command was refused before anything ran."""
        self.failed, self.closed, self.exit_code = 1, True, exit_code

    def code(self) -> int:
        if self.exit_code is not None:
            return self.exit_code
        return 1 if self.failed else 0


_outcome = SweepOutcome()


def begin() -> SweepOutcome:
    """A fresh outcome for a new command in this process (tests run many in one process)."""
    global _outcome
    _outcome = SweepOutcome()
    return _outcome


def current() -> SweepOutcome:
    return _outcome
