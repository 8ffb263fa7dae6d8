"""ONNX conversion through the orchestrator: real export in the torch environment, parity, cache."""

from __future__ import annotations

import pytest

from green_mlflow.convert import cache_key, ensure_onnx
from tests.helpers.project import SMALL_BERT, SMALL_IMAGE, require_env

pytestmark = pytest.mark.slow

SMALL = SMALL_IMAGE


def _torch_small(tmp_path) -> dict:
    """``ensure_onnx`` arguments for the small MobileNetV2 from torch, cached in ``tmp_path``."""
    return dict(
        python=require_env("torch"),
        source="torch",
        model=SMALL,
        batch_size=1,
        seed=0,
        opset=17,
        cache_dir=tmp_path / "cache",
        timeout_s=300,
        progress=lambda _: None,
    )


def test_conversion_is_validated_then_served_from_the_cache(tmp_path):
    kwargs = _torch_small(tmp_path)
    first = ensure_onnx(workdir=tmp_path / "a", **kwargs)
    assert first.ok and not first.cached
    assert first.report.checker == "passed" and first.report.parity["passed"]
    assert first.report.parity["outputs"]["logits"]["max_rel_err"] < 1e-5
    assert first.report.source_parameters == 3_504_872
    second = ensure_onnx(workdir=tmp_path / "b", **kwargs)
    assert second.cached and second.key == first.key and second.onnx_path == first.onnx_path
    assert not (tmp_path / "b" / "model.onnx").exists(), "a cache hit does not convert again"


def test_a_parity_failure_fails_the_conversion_and_is_not_cached(tmp_path):
    python = require_env("torch")
    # a tolerance no float32 conversion can meet: the same path that catches a wrong export
    strict = {**SMALL, "parity_tol": 1e-30, "image_size": 64}
    result = ensure_onnx(
        python=python,
        source="torch",
        model=strict,
        batch_size=1,
        seed=0,
        opset=17,
        cache_dir=tmp_path / "cache",
        workdir=tmp_path / "w",
        timeout_s=300,
        progress=lambda _: None,
    )
    if ((result.report.parity or {}).get("outputs", {}).get("logits", {})).get("max_abs_err") == 0.0:
        pytest.fail("ORT matched torch bit for bit; this test needs a model with rounding differences")
    assert not result.ok
    assert "ONNX output differs from the source model beyond tolerance" in result.report.error
    assert not any((tmp_path / "cache").glob("*/model.onnx"))


def test_cache_key_covers_everything_that_changes_the_graph():
    base = cache_key(SMALL, "torch", "2.14.1", 17, 1, 0)
    assert cache_key(SMALL, "torch", "2.14.1", 17, 1, 0) == base
    assert cache_key(SMALL, "torch", "2.15.0", 17, 1, 0) != base
    assert cache_key(SMALL, "torch", "2.14.1", 18, 1, 0) != base
    assert cache_key(SMALL, "torch", "2.14.1", 17, 64, 0) != base
    assert cache_key({**SMALL, "image_size": 64}, "torch", "2.14.1", 17, 1, 0) != base


@pytest.mark.parametrize("source", ["torch", "tf", "mxnet"])
@pytest.mark.parametrize("model", [SMALL, SMALL_BERT], ids=["mobilenet_v2", "bert"])
def test_every_source_framework_converts_with_parity(source, model, tmp_path):
    python = require_env(source)
    result = ensure_onnx(
        python=python,
        source=source,
        model=model,
        batch_size=2,
        seed=0,
        opset=17,
        cache_dir=tmp_path / "cache",
        workdir=tmp_path / "w",
        timeout_s=600,
        progress=lambda _: None,
    )
    assert result.ok, result.report.error or result.report.traceback
    outputs = result.report.parity["outputs"]
    assert set(outputs) == ({"logits"} if model["kind"] == "image" else {"last_hidden_state", "pooler_output"})
    assert all(o["max_rel_err"] <= model["parity_tol"] for o in outputs.values())
    assert result.report.source == source and result.report.checker == "passed"


def test_a_damaged_cache_entry_is_converted_again_not_trusted(tmp_path):
    """A conversion.json of another contract version (or garbage) is not a cache hit: the model is exported again."""
    kwargs = _torch_small(tmp_path)
    first = ensure_onnx(workdir=tmp_path / "a", **kwargs)
    (first.onnx_path.parent / "conversion.json").write_text('{"status": "ok"}')
    said = []
    again = ensure_onnx(workdir=tmp_path / "b", **{**kwargs, "progress": said.append})
    assert again.ok and not again.cached and again.key == first.key
    assert any("ignoring the cache entry" in line and "schema version None" in line for line in said), said
    assert (tmp_path / "b" / "model.onnx").exists(), "converted again"
    assert again.onnx_path.exists() and again.report.checker == "passed"


def test_a_truncated_cached_model_fails_its_checksum_and_is_rebuilt_with_a_warning(tmp_path):
    kwargs = _torch_small(tmp_path)
    first = ensure_onnx(workdir=tmp_path / "a", **kwargs)
    size = first.onnx_path.stat().st_size
    with open(first.onnx_path, "r+b") as fh:
        fh.truncate(size // 2)  # as a full disk or a killed copy would leave it
    said = []
    again = ensure_onnx(workdir=tmp_path / "b", **{**kwargs, "progress": said.append})
    assert again.ok and not again.cached and again.onnx_path.stat().st_size == size
    assert any(line.startswith("warning: ignoring the cache entry") and "checksum" in line for line in said), said
    third = ensure_onnx(workdir=tmp_path / "c", **kwargs)
    assert third.cached, "the rebuilt entry is trusted again"
