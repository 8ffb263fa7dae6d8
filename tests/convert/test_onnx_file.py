"""``model=onnx_file`` on the orchestrator's side: the file is recognised as ONNX (or refused in one line) without
the onnx package, its inputs are read from the graph, and ``user_onnx`` hands it over unconverted, keyed by content."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from green_mlflow.convert import user_onnx
from green_mlflow.convert.onnx_file import onnx_file_problem, read_header
from tests.helpers.own_models import TEXT_INPUTS, model_proto, write_onnx_file


@pytest.fixture(scope="module")
def real_file(tmp_path_factory) -> Path:
    """An ONNX file made by onnx.helper (in the torch environment), with weights, nodes and a checker pass."""
    return write_onnx_file(tmp_path_factory.mktemp("onnx") / "own.onnx")


def test_the_graph_inputs_of_a_real_file_are_read_with_their_symbolic_dims_and_dtypes(real_file: Path):
    header = read_header(real_file)
    assert (header.ir_version, header.opset, header.producer) == (8, 17, "green_mlflow tests")
    assert header.inputs == [
        ("input_ids", "int64", ["batch", "sequence"]),
        ("attention_mask", "int64", ["batch", "sequence"]),
        ("features", "float32", ["batch", 4]),
    ], "initializers (the embedding table) are not inputs"


def test_weights_listed_as_inputs_by_older_exporters_are_not_inputs(tmp_path: Path):
    path = tmp_path / "m.onnx"
    path.write_bytes(model_proto([*TEXT_INPUTS, ("table", 1, [4])], weights=("table",)))
    assert [name for name, _, _ in read_header(path).inputs] == ["input_ids", "attention_mask"]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "the file is empty"),
        (b"hello, this is a text file\n", "are not a field of an ONNX ModelProto"),
        (b"\x08\x08", "it has no graph"),
        (model_proto(TEXT_INPUTS)[:-9], "(truncated?)"),
    ],
)
def test_a_file_that_is_not_onnx_is_refused_in_one_line(tmp_path: Path, content: bytes, says: str):
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    problem = onnx_file_problem(path)
    assert problem is not None and problem.startswith(f"model.path={path} is not an ONNX model: ")
    assert says in problem and "\n" not in problem


def test_a_pytorch_checkpoint_a_folder_and_a_missing_file_are_refused(tmp_path: Path):
    checkpoint = tmp_path / "model.pt"
    with zipfile.ZipFile(checkpoint, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    assert "is not an ONNX model" in onnx_file_problem(checkpoint)
    assert onnx_file_problem(tmp_path) == f"model.path={tmp_path} is not a file"
    assert onnx_file_problem(tmp_path / "nope.onnx") == f"model.path={tmp_path / 'nope.onnx'} does not exist"


def test_an_unreadable_file_is_refused(tmp_path: Path):
    path = tmp_path / "locked.onnx"
    path.write_bytes(model_proto(TEXT_INPUTS))
    path.chmod(0)
    try:
        if path.open("rb"):  # root reads anything: nothing to test
            pytest.skip("running as root: permissions do not stop reading")
    except PermissionError:
        assert onnx_file_problem(path) == f"model.path={path} cannot be read (permission denied)"
    finally:
        path.chmod(0o600)


def test_user_onnx_hands_over_the_file_unconverted_keyed_by_its_content(real_file: Path, tmp_path: Path):
    said = []
    got = user_onnx({"path": str(real_file)}, said.append)
    assert got.ok and got.onnx_path == real_file and not got.cached
    assert len(got.key) == 20 and got.report.source is None and got.report.parity is None
    assert got.report.exporter.startswith("none: the user's own ONNX file, not converted (made by green_mlflow tests)")
    assert got.report.onnx_bytes == real_file.stat().st_size and got.report.opset == 17
    assert str(real_file) in said[0]
    copy = tmp_path / "elsewhere.onnx"
    copy.write_bytes(real_file.read_bytes())
    assert user_onnx({"path": str(copy)}, said.append).key == got.key, "the same file is recognised anywhere"
    other = tmp_path / "other.onnx"
    other.write_bytes(model_proto(TEXT_INPUTS))
    assert user_onnx({"path": str(other)}, said.append).key != got.key


def test_user_onnx_refuses_a_file_that_changed_since_the_plan_or_is_not_onnx(tmp_path: Path):
    path = tmp_path / "m.onnx"
    path.write_bytes(model_proto(TEXT_INPUTS))
    changed = user_onnx({"path": str(path), "sha256": "0" * 64}, lambda _: None)
    assert not changed.ok and changed.onnx_path is None
    assert "changed after the sweep was planned" in changed.report.error
    path.write_text("not onnx")
    broken = user_onnx({"path": str(path)}, lambda _: None)
    assert not broken.ok and "is not an ONNX model" in broken.report.error
