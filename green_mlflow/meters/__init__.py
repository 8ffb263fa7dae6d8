"""Energy meters behind one interface (``base.EnergyMeter``); ``discover`` picks what this host can read."""

from green_mlflow.meters.base import EnergyMeter, MeterStatus, Trace
from green_mlflow.meters.discover import discover_meters

__all__ = ["EnergyMeter", "MeterStatus", "Trace", "discover_meters"]
