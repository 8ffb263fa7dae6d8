"""``+experiment=paper`` and ``+experiment=paper_cpu``: the paper's study as one preset, composed as Hydra does."""

from __future__ import annotations

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from green_mlflow.config import register_schemas
from tests.helpers.project import CONF


def _compose(overrides: list[str]):
    register_schemas()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose(config_name="config", overrides=overrides, return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()


PAPER_MATRIX = {
    "runtime": "torch,tf,mxnet,onnx",
    "runtime.source": "torch,tf,mxnet",
    "model": "resnet50,mobilenet_v2,bert_base",
    "batch_size": "1,64",
}


def test_the_paper_preset_is_the_papers_matrix_protocol_and_claims_on_a_gpu():
    cfg = _compose(["+experiment=paper"])
    sweeper = cfg.hydra.sweeper
    assert dict(sweeper.params) == {**PAPER_MATRIX, "provider": "cuda,tensorrt"}
    assert sweeper.adaptive is True and sweeper.max_repetitions == cfg.measure.repetitions == 30
    assert cfg.measure.name == "paper" and cfg.measure.idle_s == 600.0
    assert cfg.hypotheses == "paper" and cfg.hydra.mode.name == "MULTIRUN"


def test_the_cpu_variant_changes_only_the_provider_and_a_command_line_override_still_wins():
    cpu = _compose(["+experiment=paper_cpu"])
    assert dict(cpu.hydra.sweeper.params) == {**PAPER_MATRIX, "provider": "cpu"}
    assert cpu.measure.name == "paper" and cpu.hypotheses == "paper" and cpu.hydra.sweeper.adaptive is True
    quick = _compose(["+experiment=paper_cpu", "measure=quick", "hydra.sweeper.max_repetitions=5"])
    assert quick.measure.name == "quick" and quick.hydra.sweeper.max_repetitions == 5
