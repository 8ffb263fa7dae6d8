"""The paper's matrix in one sweep: native runtimes once, ONNX once per source framework."""

from __future__ import annotations

from green_mlflow.sweep.matrix import without_native_sources


def _runtime(combination: list[str]) -> str:
    return next((o.split("=", 1)[1] for o in combination if o.startswith("runtime=")), "torch")  # torch: the default


def test_native_runtimes_drop_the_source_and_run_once_onnx_runs_once_per_source():
    combinations = [
        [f"runtime={r}", f"runtime.source={s}", "batch_size=1"]
        for r in ("torch", "tf", "onnx")
        for s in ("torch", "tf")
    ]
    assert without_native_sources(combinations, _runtime) == [
        ["runtime=torch", "batch_size=1"],
        ["runtime=tf", "batch_size=1"],
        ["runtime=onnx", "runtime.source=torch", "batch_size=1"],
        ["runtime=onnx", "runtime.source=tf", "batch_size=1"],
    ]


def test_a_runtime_from_the_defaults_is_asked_for_and_other_combinations_are_untouched():
    asked = []

    def runtime_of(combination):
        asked.append(combination)
        return _runtime(combination)

    combinations = [["runtime.source=tf", "seed=1"], ["runtime.source=mxnet", "seed=1"], ["seed=2"]]
    assert without_native_sources(combinations, runtime_of) == [["seed=1"], ["seed=2"]]
    assert asked == combinations[:2], "only combinations with a source are composed"
    onnx = [["runtime=onnx", "+runtime.source=tf"], ["runtime=onnx", "~runtime.source"]]
    assert without_native_sources(onnx, _runtime) == onnx
