"""The allocator and scenario axes and precision targeting in the plan: refused when impossible, hashed only when
used."""

from __future__ import annotations

import pytest

from green_mlflow import allocator as allocators
from green_mlflow.plan import PlanError, plan_job


def test_the_default_allocator_and_no_precision_target_leave_the_configuration_hash_alone(compose_config):
    default = plan_job(compose_config([]))
    assert default.allocator == "glibc_pinned" and default.measure.target_ci_rel is None
    assert plan_job(compose_config(["allocator=glibc_pinned"])).config_hash() == default.config_hash()
    others = {
        plan_job(compose_config([f"allocator={name}"])).config_hash() for name in ("glibc", "jemalloc", "tcmalloc")
    }
    assert len(others) == 3 and default.config_hash() not in others, "another allocator is another measurement"
    targeted = plan_job(compose_config(["measure.target_ci_rel=0.02"]))
    assert targeted.config_hash() != default.config_hash()


def test_the_latency_scenario_is_the_default_and_throughput_another_measurement(compose_config):
    default = plan_job(compose_config([]))
    latency = plan_job(compose_config(["scenario=latency"]))
    throughput = plan_job(compose_config(["scenario=throughput"]))
    assert default.scenario == "latency" and latency.config_hash() == default.config_hash()
    assert throughput.config_hash() != default.config_hash()
    assert throughput.label.endswith(" throughput") and not default.label.endswith("latency")
    assert throughput.spec("/tmp/out").scenario == "throughput"


def test_a_preloaded_allocator_is_in_the_run_name(compose_config):
    job = plan_job(compose_config(["allocator=jemalloc"]))
    assert job.allocator == "jemalloc" and job.label.endswith("alloc=jemalloc")


def test_a_missing_allocator_library_is_refused_before_anything_runs(compose_config, monkeypatch, tmp_path):
    monkeypatch.setattr(allocators, "SEARCH_DIRS", (str(tmp_path),))
    with pytest.raises(PlanError, match=r"apt-get install libtcmalloc-minimal4"):
        plan_job(compose_config(["allocator=tcmalloc"]))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("allocator=mimalloc", "allocator"),
        ("scenario.name=offline", "scenario=offline is not available; allowed: latency, throughput"),
        ("measure.target_ci_rel=0.7", "measure.target_ci_rel=0.7 is out of range"),
        ("measure.max_windows=2", "measure.max_windows=2 is out of range"),
    ],
)
def test_wrong_values_say_what_is_allowed(compose_config, override, message):
    with pytest.raises(Exception, match=message):
        plan_job(compose_config([override]))
