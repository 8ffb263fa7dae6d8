"""The one interface the measurement loop sees: it never knows which framework runs."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Session(Protocol):
    """A model loaded in a runtime, bound to fixed inputs of one batch."""

    batch_size: int
    # run() may return before the work is done (CUDA streams, MXNet's engine): only then can the throughput
    # scenario queue iterations; elsewhere it does the latency scenario's work (docs/method.md rule 18)
    queues_work: bool

    def run(self) -> None:
        """Run one inference on the bound batch (may return before the device is done)."""

    def sync(self) -> None:
        """Block until all queued device work is finished (docs/method.md rule 6)."""

    def outputs(self) -> dict[str, np.ndarray]:
        """Run once and return the outputs as host arrays, for parity checks."""

    def info(self) -> dict:
        """Facts about the loaded model: parameter count, versions, provider actually in use."""
