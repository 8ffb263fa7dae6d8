"""The cool-down between runs, against a fake thermometer and a fake clock (no real waiting)."""

from __future__ import annotations

from green_mlflow.worker.cooldown import cool_down


class FakeTime:
    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class CoolingGpu:
    """Starts hot and loses ``rate_c_per_s`` degrees per second of (fake) time, down to ``floor_c``."""

    def __init__(self, fake: FakeTime, start_c: float, rate_c_per_s: float, floor_c: float):
        self.fake, self.start_c, self.rate, self.floor_c = fake, start_c, rate_c_per_s, floor_c
        self.t0 = fake.now

    def __call__(self) -> float:
        return max(self.floor_c, self.start_c - self.rate * (self.fake.now - self.t0))


def test_waits_until_within_n_degrees_of_idle():
    fake = FakeTime()
    gpu = CoolingGpu(fake, start_c=70.0, rate_c_per_s=1.0, floor_c=40.0)
    rest = cool_down(
        5.0, within_c=3.0, idle_temp_c=45.0, max_s=600, read_temp_c=gpu, sleep=fake.sleep, clock=fake.clock
    )
    assert rest.start_temp_c == 70.0
    assert rest.end_temp_c <= 48.0 and rest.target_temp_c == 48.0
    assert 22.0 <= rest.waited_s <= 23.0, "70 → 48 °C at 1 °C/s takes 22 s (5 s of them fixed)"
    assert fake.slept[0] == 5.0, "the fixed rest comes first"
    assert rest.outcome.startswith("reached")


def test_cap_ends_a_wait_that_would_never_finish():
    fake = FakeTime()
    gpu = CoolingGpu(fake, start_c=80.0, rate_c_per_s=0.1, floor_c=75.0)
    rest = cool_down(
        0.0, within_c=2.0, idle_temp_c=40.0, max_s=30.0, read_temp_c=gpu, sleep=fake.sleep, clock=fake.clock
    )
    assert 30.0 <= rest.waited_s <= 30.0 + 1e-9
    assert rest.end_temp_c == 77.0
    assert "cap of 30 s reached" in rest.outcome


def test_already_cool_means_only_the_fixed_rest():
    fake = FakeTime()
    rest = cool_down(2.0, 5.0, 40.0, 60.0, read_temp_c=lambda: 41.0, sleep=fake.sleep, clock=fake.clock)
    assert fake.slept == [2.0] and rest.waited_s == 2.0 and rest.outcome.startswith("reached")


def test_without_thermometer_or_idle_temperature_the_rest_is_fixed_and_says_so():
    fake = FakeTime()
    rest = cool_down(3.0, 5.0, None, 60.0, read_temp_c=lambda: 60.0, sleep=fake.sleep, clock=fake.clock)
    assert fake.slept == [3.0] and "no idle temperature" in rest.outcome
    fake = FakeTime()
    rest = cool_down(3.0, 5.0, 40.0, 60.0, read_temp_c=lambda: None, sleep=fake.sleep, clock=fake.clock)
    assert fake.slept == [3.0] and "could not be read" in rest.outcome and rest.end_temp_c is None


def test_no_cool_down_configured_does_not_sleep():
    fake = FakeTime()
    rest = cool_down(0.0, None, 40.0, 60.0, read_temp_c=lambda: 50.0, sleep=fake.sleep, clock=fake.clock)
    assert fake.slept == [] and rest.waited_s == 0.0 and rest.outcome == "none"
