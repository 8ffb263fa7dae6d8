"""Rest between runs (docs/method.md rule 10): a fixed pause, then optionally wait for the GPU to cool.

The wait ends when the temperature is within ``within_c`` of the idle temperature measured before
the sweep, or when ``max_s`` has passed — whichever comes first; the outcome says which. It runs in
the worker before the model is loaded and before the sampler starts, so it is never inside a
measured phase.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from green_mlflow.contract import CoolDown

POLL_S = 1.0


def cool_down(
    fixed_s: float,
    within_c: float | None,
    idle_temp_c: float | None,
    max_s: float,
    read_temp_c: Callable[[], float | None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    poll_s: float = POLL_S,
) -> CoolDown:
    """Rest ``fixed_s`` seconds, then until ``read_temp_c() <= idle_temp_c + within_c`` (at most ``max_s``)."""
    began = clock()
    start_temp = read_temp_c()
    if fixed_s > 0:
        sleep(fixed_s)
    if within_c is None:
        outcome = f"fixed {fixed_s:g} s" if fixed_s > 0 else "none"
        return CoolDown(clock() - began, start_temp, read_temp_c(), None, outcome)
    if idle_temp_c is None:
        outcome = (
            f"fixed {fixed_s:g} s only: no idle temperature to cool down to (no GPU thermometer or no idle baseline)"
        )
        return CoolDown(clock() - began, start_temp, read_temp_c(), None, outcome)
    target = idle_temp_c + within_c
    waited_from = clock()
    temp = read_temp_c()
    while temp is not None and temp > target and clock() - waited_from < max_s:
        sleep(min(poll_s, max(0.0, max_s - (clock() - waited_from))))
        temp = read_temp_c()
    if temp is None:
        outcome = f"fixed {fixed_s:g} s only: the temperature could not be read"
    elif temp <= target:
        outcome = f"reached {temp:g} °C <= idle {idle_temp_c:g} + {within_c:g} °C"
    else:
        outcome = f"cap of {max_s:g} s reached at {temp:g} °C (target {target:g} °C)"
    return CoolDown(clock() - began, start_temp, temp, target, outcome)
