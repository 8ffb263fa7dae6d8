"""An adaptive sweep's settings and its design: the looks it took, which every verdict on its data replays.

``AdaptiveSettings`` is the one place the sweep's statistical settings live (``hydra.sweeper.*`` fills it;
defaults from ``defaults``). ``Design`` records, per round, the finished runs of each configuration when the
questions were evaluated; it is logged to the parent run as ``adaptive/design.json``, and the report decides
each question from the same looks, so a verdict is valid under the stopping that collected its data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from green_mlflow.study.boundaries import SPENDING
from green_mlflow.study.defaults import ALPHA, MARGIN_REL
from green_mlflow.study.defaults import SPENDING as SPENDING_DEFAULT


@dataclass(frozen=True)
class AdaptiveSettings:
    """``hydra.sweeper.*`` of an adaptive sweep."""

    min_repetitions: int = 3
    max_repetitions: int = 10
    max_per_round: int = 4
    budget_s: float | None = None
    budget_wh: float | None = None
    margin_rel: float = MARGIN_REL
    alpha: float = ALPHA
    spending: str = SPENDING_DEFAULT

    def check(self) -> None:
        """Refuse settings that cannot work, saying what is allowed."""
        if not 2 <= self.min_repetitions <= self.max_repetitions:
            raise ValueError(
                f"hydra.sweeper.min_repetitions={self.min_repetitions} and max_repetitions={self.max_repetitions}: "
                "allowed 2 <= min_repetitions <= max_repetitions (a look needs 2 runs per series for a variance)"
            )
        if self.max_per_round < 1:
            raise ValueError(f"hydra.sweeper.max_per_round={self.max_per_round}: allowed 1 or more")
        for name in ("budget_s", "budget_wh"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"hydra.sweeper.{name}={value}: allowed a positive number, or null for no budget")
        if self.spending not in SPENDING:
            raise ValueError(
                f"hydra.sweeper.spending={self.spending}: allowed {', '.join(SPENDING)} (Pocock decides clear "
                "differences at the first look; O'Brien-Fleming keeps more power for the last one)"
            )
        if not 0 < self.margin_rel < 1:
            raise ValueError(f"hydra.sweeper.margin={self.margin_rel}: allowed between 0 and 1 (0.05 is ±5 %)")


@dataclass
class Design:
    """An adaptive sweep's design and the looks it took: per round, the finished runs of each configuration
    when the questions were evaluated. ``family_size``: the questions of the sweep's family at the first look
    (each is decided at alpha / family_size)."""

    min_repetitions: int
    max_repetitions: int
    margin_rel: float
    alpha: float
    method: str
    rounds: list[dict[str, int]] = field(default_factory=list)  # config hash -> finished runs at that look
    stopped: str = ""  # why the sweep stopped: all decided, cap, budget
    spending: str = SPENDING_DEFAULT
    family_size: int = 0  # 0: not fixed yet (before the first look)

    @classmethod
    def of(cls, settings: AdaptiveSettings, method: str) -> Design:
        s = settings
        return cls(s.min_repetitions, s.max_repetitions, s.margin_rel, s.alpha, method, spending=s.spending)

    def to_dict(self) -> dict:
        return {
            "min_repetitions": self.min_repetitions,
            "max_repetitions": self.max_repetitions,
            "margin_rel": self.margin_rel,
            "alpha": self.alpha,
            "method": self.method,
            "rounds": self.rounds,
            "stopped": self.stopped,
            "spending": self.spending,
            "family_size": self.family_size,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Design:
        return cls(
            int(data["min_repetitions"]),
            int(data["max_repetitions"]),
            float(data["margin_rel"]),
            float(data["alpha"]),
            str(data["method"]),
            [{str(k): int(v) for k, v in r.items()} for r in data.get("rounds", [])],
            str(data.get("stopped", "")),
            str(data.get("spending", "obf")),  # designs written before the choice existed used O'Brien-Fleming
            int(data.get("family_size", 0)),  # designs written before families decided each question at alpha
        )

    def looks(self, hashes_a: tuple[str, ...], hashes_b: tuple[str, ...], n_now: tuple[int, int]):
        """The (n_a, n_b) at each look the sweep took at a pair of series (their configurations' hashes),
        ending with the data there is now."""
        looks: list[tuple[int, int]] = []
        for counts in self.rounds:
            pair = (
                min(sum(counts.get(h, 0) for h in hashes_a), n_now[0]),
                min(sum(counts.get(h, 0) for h in hashes_b), n_now[1]),
            )
            if min(pair) >= 1 and (not looks or pair != looks[-1]):
                looks.append(pair)
        if min(n_now) >= 1 and (not looks or looks[-1] != n_now):
            looks.append(n_now)
        return tuple(looks)
