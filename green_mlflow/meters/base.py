"""The energy-meter protocol, written once.

A meter is read at the two edges of a measurement window (``mark``); ``energy_j`` turns two marks
into joules. Counter meters read a hardware counter at each mark; the polled meter integrates the
power trace that the out-of-process sampler recorded between the two marks; the estimating meter
applies a named model. Every meter states its ``method`` — ``counter``, ``polled`` or ``estimated`` —
and what its number covers. A domain that cannot be read gets a ``MeterStatus`` with method
``unavailable`` and the reason, never a meter that returns 0.
"""

from __future__ import annotations

import bisect
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

METHODS = ("counter", "polled", "estimated", "unavailable")
MEASURED = ("counter", "polled")  # methods that are measurements; "estimated" never counts as one


class MeterError(RuntimeError):
    """A reading failed or made no physical sense (a counter going backwards, a driver error)."""


@dataclass
class Trace:
    """Columns recorded by the sampler: ``t_s`` is ``time.monotonic()`` seconds, shared by all processes."""

    columns: dict[str, list[float]] = field(default_factory=dict)

    @property
    def t_s(self) -> list[float]:
        return self.columns.get("t_s", [])

    def between(self, name: str, t0_s: float, t1_s: float) -> tuple[list[float], list[float]]:
        """Times and values of column ``name`` with ``t0_s <= t <= t1_s`` (values that are None dropped)."""
        times = self.t_s
        lo, hi = bisect.bisect_left(times, t0_s), bisect.bisect_right(times, t1_s)
        pairs = [(t, v) for t, v in zip(times[lo:hi], self.columns.get(name, [])[lo:hi]) if v is not None]
        return [t for t, _ in pairs], [v for _, v in pairs]


@dataclass(frozen=True)
class MeterStatus:
    """How one energy domain is (or is not) measured on this host."""

    domain: str  # "gpu", "cpu" (package) or "dram"
    method: str  # one of METHODS
    detail: str  # what the number covers, the model of an estimate, or why it is unavailable

    def as_tags(self) -> dict[str, str]:
        return {f"energy.{self.domain}.method": self.method, f"energy.{self.domain}.detail": self.detail}


class EnergyMeter(ABC):
    """One energy domain read at window edges. Subclasses set ``domain``, ``method`` and ``covers``."""

    domain: str
    method: str
    covers: str
    needs_power_trace_interval_s: float | None = None  # polled meters ask the sampler for this interval

    @abstractmethod
    def mark(self) -> Any:
        """Read whatever the meter needs at a window edge. Cheap; called right after a device sync."""

    @abstractmethod
    def energy_j(self, start: Any, end: Any, trace: Trace | None) -> float:
        """Energy in joules between two marks. Raises MeterError if it cannot be known."""

    def status(self) -> MeterStatus:
        return MeterStatus(self.domain, self.method, self.covers)
