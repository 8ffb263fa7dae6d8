"""CPU package and DRAM energy from Linux powercap RAPL counters (``energy_uj``).

Follows Zeus's ``zeus/device/cpu/rapl.py``: top-level ``intel-rapl:N`` zones named ``package-N`` are
packages (``psys``, the platform domain that contains them, is not added),
their ``dram`` subzones are memory; ``core``/``uncore`` subzones are inside the package and are
never added to it (no double counting). AMD CPUs expose the same tree since Linux 5.8.

The counters wrap at ``max_energy_range_uj`` (about 262 kJ on recent CPUs: tens of minutes at
full load). A window is read at its two edges, so one wrap per window is corrected exactly; a window
longer than the shortest possible wrap period could hide a second wrap, and is refused.
Since CVE-2020-8694 the files are readable by root only; that refusal is reported, not hidden.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from green_mlflow.meters.base import EnergyMeter, MeterError, MeterStatus

POWERCAP_ROOT = Path("/sys/class/powercap")
# no CPU package draws more than this; bounds how often a counter can wrap
MAX_PLAUSIBLE_POWER_W = 1000.0
PERMISSION_HINT = (
    "RAPL energy files are readable by root only since CVE-2020-8694; run as root or grant read "
    "access (e.g. `sudo chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj "
    "/sys/class/powercap/intel-rapl:*/*/energy_uj`)"
)


@dataclass(frozen=True)
class RaplZone:
    """One powercap zone: a counter in microjoules that wraps at ``max_range_uj``."""

    name: str
    path: Path
    max_range_uj: int

    def read_uj(self) -> int:
        try:
            return int((self.path / "energy_uj").read_text().strip())
        except PermissionError as err:
            raise MeterError(f"{self.path / 'energy_uj'}: permission denied. {PERMISSION_HINT}") from err
        except (OSError, ValueError) as err:
            raise MeterError(f"cannot read {self.path / 'energy_uj'}: {err}") from err


def delta_uj(start_uj: int, end_uj: int, max_range_uj: int) -> int:
    """Energy between two reads of a wrapping counter (at most one wrap in between)."""
    if end_uj >= start_uj:
        return end_uj - start_uj
    return end_uj + max_range_uj - start_uj


def find_zones(root: Path = POWERCAP_ROOT) -> tuple[list[RaplZone], list[RaplZone]]:
    """Package zones and DRAM zones under ``root``. Empty lists where powercap is absent."""
    packages: list[RaplZone] = []
    drams: list[RaplZone] = []
    if not root.is_dir():
        return packages, drams
    for top in sorted(root.glob("intel-rapl:*")):
        if top.name.count(":") != 1:
            continue  # subzones are visited below, through their package
        zone = _zone(top)
        # top-level zones are packages, except psys (platform, which already contains the package)
        if zone.name.startswith("package"):
            packages.append(zone)
        for sub in sorted(top.glob(f"{top.name}:*")):
            if (sub / "name").read_text().strip() == "dram":
                drams.append(_zone(sub))
    return packages, drams


def _zone(path: Path) -> RaplZone:
    name = (path / "name").read_text().strip()
    max_range = int((path / "max_energy_range_uj").read_text().strip())
    return RaplZone(name=name, path=path, max_range_uj=max_range)


class RaplMeter(EnergyMeter):
    """Sum of one domain's zones (all packages, or all DRAM), read at window edges."""

    method = "counter"

    def __init__(self, domain: str, zones: list[RaplZone]):
        if not zones:
            raise ValueError("RaplMeter needs at least one zone")
        self.domain = domain
        self.zones = zones
        names = ", ".join(z.name for z in zones)
        self.covers = (
            f"RAPL {names} via powercap energy_uj (whole {'package' if domain == 'cpu' else 'DRAM'}, all processes)"
        )

    def mark(self) -> tuple[float, list[int]]:
        return time.monotonic(), [z.read_uj() for z in self.zones]

    def energy_j(self, start, end, trace=None) -> float:
        (t0, start_uj), (t1, end_uj) = start, end
        total_uj = 0
        for zone, a, b in zip(self.zones, start_uj, end_uj):
            shortest_wrap_s = zone.max_range_uj / 1e6 / MAX_PLAUSIBLE_POWER_W
            if t1 - t0 > shortest_wrap_s:
                raise MeterError(
                    f"{zone.name}: window of {t1 - t0:.0f} s is longer than the counter's shortest wrap "
                    f"period ({shortest_wrap_s:.0f} s); a second wrap could go unseen — use shorter windows"
                )
            total_uj += delta_uj(a, b, zone.max_range_uj)
        return total_uj / 1e6


def probe_rapl(root: Path = POWERCAP_ROOT) -> tuple[list[RaplMeter], list[MeterStatus]]:
    """RAPL meters for cpu and dram that can really be read now, and statuses for those that cannot."""
    meters: list[RaplMeter] = []
    statuses: list[MeterStatus] = []
    if not root.is_dir():
        reason = f"{root} does not exist (no powercap RAPL on this host: a VM, or a kernel without intel_rapl)"
        return [], [MeterStatus("cpu", "unavailable", reason), MeterStatus("dram", "unavailable", reason)]
    try:
        packages, drams = find_zones(root)
    except OSError as err:
        reason = f"cannot list RAPL zones under {root}: {err}"
        return [], [MeterStatus("cpu", "unavailable", reason), MeterStatus("dram", "unavailable", reason)]
    for domain, zones in (("cpu", packages), ("dram", drams)):
        if not zones:
            statuses.append(MeterStatus(domain, "unavailable", f"no RAPL {domain} zone under {root}"))
            continue
        meter = RaplMeter(domain, zones)
        try:
            meter.mark()
        except MeterError as err:
            statuses.append(MeterStatus(domain, "unavailable", str(err)))
            continue
        meters.append(meter)
    return meters, statuses
