"""Config composition: real conf/ tree, structured schemas, and the plan's validation."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError

from green_mlflow.plan import PlanError, plan_job


def test_defaults_compose_to_torch_mobilenet_on_cpu(compose_config):
    cfg = compose_config()
    assert (cfg.runtime.name, cfg.model.name, cfg.provider.name, cfg.mode.name) == (
        "torch",
        "mobilenet_v2",
        "cpu",
        "default",
    )
    assert cfg.batch_size == 1 and cfg.seed == 0
    assert cfg.measure.name == "default" and cfg.measure.window_min_s == 5.0


def test_default_mode_resolves_per_runtime(compose_config):
    expected = {"torch": "eager", "tf": "function", "mxnet": "hybrid", "onnx": "ort_all"}
    assert {r: plan_job(compose_config([f"runtime={r}"])).mode for r in expected} == expected


def test_bert_base_has_bert_base_uncased_sizes(compose_config):
    model = compose_config(["model=bert_base"]).model
    assert (model.num_layers, model.hidden_size, model.num_heads, model.intermediate_size) == (12, 768, 12, 3072)
    assert (model.vocab_size, model.seq_len, model.kind) == (30522, 128, "text")


def test_unknown_option_lists_the_allowed_ones(compose_config):
    with pytest.raises(ConfigCompositionException) as err:
        compose_config(["runtime=jax"])
    assert "runtime/jax" in str(err.value) and "onnx" in str(err.value) and "torch" in str(err.value)


def test_wrong_type_is_rejected_by_the_schema(compose_config):
    with pytest.raises((ConfigCompositionException, ValidationError)) as err:
        compose_config(["batch_size=big"])
    assert "batch_size" in str(err.value)


def test_unknown_key_is_rejected_by_the_schema(compose_config):
    with pytest.raises((ConfigCompositionException, ValidationError)):
        compose_config(["measure.windowz=3"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["runtime=torch", "provider=tensorrt"],
            "provider=tensorrt is not available with runtime=torch; allowed: cpu, cuda",
        ),
        (
            ["runtime=torch", "mode=ort_all"],
            "mode=ort_all is not available with runtime=torch; allowed: eager, compile, cuda_graph",
        ),
        (
            ["runtime=torch", "mode=cuda_graph"],
            "provider=cpu is not available with runtime=torch mode=cuda_graph; allowed: cuda",
        ),
        (["measure.repetitions=0"], "measure.repetitions=0 is out of range; allowed: 1 to 1000"),
        (["measure.repetitions=3", "repetition=3"], "repetition=3 is out of range; allowed: 0 to 2"),
        (["measure.idle_s=-1"], "measure.idle_s=-1.0 is out of range; allowed: 0 to 86400 seconds"),
        (["measure.cooldown_within_c=0"], "measure.cooldown_within_c=0.0 is out of range"),
        (["runtime=tf", "mode=hybrid"], "mode=hybrid is not available with runtime=tf; allowed: function, eager, xla"),
        (["runtime=mxnet", "provider=tensorrt"], "provider=tensorrt is not available with runtime=mxnet"),
        (["runtime=onnx", "mode=eager"], "allowed: ort_all, ort_extended, ort_basic, ort_disabled"),
        (
            ["runtime=onnx", "runtime.source=jax"],
            "runtime.source=jax is not available for runtime=onnx; allowed: torch, tf, mxnet",
        ),
        (["runtime=torch", "runtime.source=torch"], "runtime.source is only for runtime=onnx"),
        (["batch_size=0"], "batch_size=0 is out of range; allowed: 1 to 4096"),
        (["batch_size=100000"], "allowed: 1 to 4096"),
        (["measure.windows=0"], "measure.windows=0 must be at least 1"),
        (["measure.cpu_tdp_w=-5"], "measure.cpu_tdp_w=-5.0 must be positive"),
        (["provider=cuda", "measure=quick", "measure.window_min_s=0.5"], "too short for GPU energy"),
    ],
)
def test_invalid_combinations_are_refused_with_what_is_allowed(compose_config, overrides, message):
    with pytest.raises(PlanError) as err:
        plan_job(compose_config(overrides))
    assert message in str(err.value)


@pytest.fixture
def one_gpu(monkeypatch):
    """This host as a GPU host (NVML cannot exist here): what the plan sees of its GPUs."""
    monkeypatch.setattr("green_mlflow.plan.visible_gpus", lambda: (["NVIDIA H200"], None))


def test_job_environment_follows_runtime_and_provider(compose_config, one_gpu):
    assert plan_job(compose_config(["runtime=torch", "provider=cuda"])).env_name == "torch"
    assert plan_job(compose_config(["runtime=onnx"])).env_name == "onnx"
    assert plan_job(compose_config(["runtime=onnx", "provider=cuda"])).env_name == "onnx-gpu"
    assert plan_job(compose_config(["runtime=onnx", "provider=tensorrt"])).env_name == "onnx-tensorrt"
    assert plan_job(compose_config(["runtime=tf", "provider=cuda"])).env_name == "tf-gpu"
    assert plan_job(compose_config(["runtime=mxnet"])).env_name == "mxnet"


def test_config_hash_changes_with_the_measurement_not_the_interpreter(compose_config):
    base = plan_job(compose_config()).config_hash()
    assert plan_job(compose_config(["batch_size=2"])).config_hash() != base
    assert plan_job(compose_config(["runtime.python=/usr/bin/python3"])).config_hash() == base
    assert plan_job(compose_config()).config_hash() == base
    assert plan_job(compose_config(["measure.repetitions=3", "repetition=2"])).config_hash() == base, (
        "every repetition of a configuration shares its hash (resume matches hash and repetition)"
    )
    assert plan_job(compose_config(["measure.idle_s=1"])).config_hash() == base


def test_a_gpu_provider_on_a_host_without_a_gpu_is_refused_saying_why(compose_config):
    """This host has no NVIDIA driver: the real probe answers, in milliseconds."""
    for provider in ("cuda", "tensorrt"):
        with pytest.raises(PlanError) as err:
            plan_job(compose_config(["runtime=onnx", f"provider={provider}"]))
        message = str(err.value)
        assert f"provider={provider} needs an NVIDIA GPU, but this host shows none (NVML" in message
        assert "use provider=cpu here" in message and "python -m green_mlflow.envs doctor" in message


def test_a_gpu_the_host_does_not_have_is_refused_with_those_it_has(compose_config, one_gpu):
    with pytest.raises(
        PlanError, match=r"provider.device_id=1 is not a GPU of this host; allowed: 0 to 0 \(NVIDIA H200\)"
    ):
        plan_job(compose_config(["runtime=torch", "provider=cuda", "provider.device_id=1"]))


def test_configuration_errors_are_reported_before_the_missing_gpu(compose_config):
    with pytest.raises(PlanError, match="too short for GPU energy"):
        plan_job(compose_config(["provider=cuda", "measure=quick", "measure.window_min_s=0.5"]))


def test_paper_preset_is_the_seed_studys_protocol(compose_config, one_gpu):
    measure = compose_config(["measure=paper"]).measure
    assert (measure.repetitions, measure.idle_s, measure.windows, measure.window_min_s) == (30, 600.0, 5, 5.0)
    assert measure.cooldown_s > 0 and measure.cooldown_within_c is not None
    assert plan_job(compose_config(["measure=paper", "runtime=torch", "provider=cuda", "mode=cuda_graph"]))
