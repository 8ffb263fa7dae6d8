"""Is a file an ONNX model? A check of its protobuf structure, standard library only.

``model=onnx_file`` measures the user's own file. The orchestrator has no ``onnx`` package and neither has
the ``onnx`` environment (ONNX Runtime only), so the file is read as what an ONNX model is on disk: a
serialised ``ModelProto``. Its top-level fields are walked (lengths are skipped, not read: a model of
gigabytes costs milliseconds) and must end exactly at the end of the file, with an ``ir_version``, a
``graph`` and the wire types ``onnx.proto`` gives them. A text file, a PyTorch checkpoint (a zip), an
archive or a truncated download fails that within its first bytes. The graph's inputs (names, element types,
shapes) are read the same way, so that the plan can size them before anything runs. ONNX Runtime, which
loads the graph in the worker, is the full check.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

VARINT, I64, LEN, I32 = 0, 1, 2, 5
# ModelProto (onnx/onnx.proto): field number -> (name, wire type); later fields are skipped if well formed
MODEL_FIELDS = {
    1: ("ir_version", VARINT),
    2: ("producer_name", LEN),
    3: ("producer_version", LEN),
    4: ("domain", LEN),
    5: ("model_version", VARINT),
    6: ("doc_string", LEN),
    7: ("graph", LEN),
    8: ("opset_import", LEN),
    14: ("metadata_props", LEN),
    20: ("training_info", LEN),
    25: ("functions", LEN),
}
# TensorProto.DataType -> numpy dtype name, for the element types an input can be filled with
ELEM_TYPES = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 9: "bool",
    10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
}  # fmt: skip
OTHER_TYPES = {8: "string", 14: "complex64", 15: "complex128", 16: "bfloat16"}


class NotOnnx(ValueError):
    """The file is not an ONNX model; the message says what was found."""


@dataclass
class OnnxHeader:
    ir_version: int
    producer: str
    opsets: dict[str, int] = field(default_factory=dict)  # domain ("" is ai.onnx) -> version
    graph_bytes: int = 0
    inputs: list[tuple[str, str, list]] = field(default_factory=list)  # (name, numpy dtype, shape) to feed

    @property
    def opset(self) -> int | None:
        return self.opsets.get("", self.opsets.get("ai.onnx"))


def _varint(fh: BinaryIO) -> int | None:
    """The next varint, None at the end of the file; NotOnnx if it is cut off or longer than 10 bytes."""
    value = 0
    for shift in range(0, 70, 7):
        byte = fh.read(1)
        if not byte:
            if shift == 0:
                return None
            raise NotOnnx("it ends in the middle of a field (truncated?)")
        value |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return value
    raise NotOnnx("it holds a malformed number (not a protobuf message)")


def _walk(fh: BinaryIO, end: int, what: str = "ModelProto"):
    """The fields from ``fh``'s position to ``end``: (number, wire type, value), where a length-delimited value is
    its (offset, length) in the file, left unread (the caller may read it; the walk goes on after it)."""
    while (start := fh.tell()) < end:
        tag = _varint(fh)
        number, wire = (tag or 0) >> 3, (tag or 0) & 7
        if number == 0 or wire not in (VARINT, I64, LEN, I32):
            raise NotOnnx(f"its bytes at offset {start} are not a field of an ONNX {what}")
        if wire == VARINT:
            value = _varint(fh)
            if value is None:
                raise NotOnnx("it ends in the middle of a field (truncated?)")
            yield number, wire, value
        elif wire == LEN:
            length = _varint(fh)
            offset = fh.tell()
            if length is None or offset + length > end:
                raise NotOnnx(f"a field of its {what} runs past its end (truncated?)")
            yield number, wire, (offset, length)
            fh.seek(offset + length)
        else:
            fh.seek(8 if wire == I64 else 4, 1)


def _read(fh: BinaryIO, region: tuple[int, int]) -> bytes:
    fh.seek(region[0])
    return fh.read(region[1])


def _message(data: bytes, what: str) -> dict[int, list]:
    """A small embedded message's fields: number -> values (ints, or bytes for length-delimited ones)."""
    fh, found = io.BytesIO(data), {}
    for number, wire, value in list(_walk(fh, len(data), what)):
        found.setdefault(number, []).append(_read(fh, value) if wire == LEN else value)
    return found


def _text(data: object) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else ""


def _value_info(data: bytes) -> tuple[str, str, list]:
    """ValueInfoProto → (name, numpy dtype name or the ONNX type's name, shape: ints, names, or None)."""
    info = _message(data, "ValueInfoProto")
    name = _text(info.get(1, [b""])[0])
    kind = _message(info.get(2, [b""])[0], "TypeProto")
    if 1 not in kind:  # sequence, map, optional, sparse tensor
        return name, "a non-tensor type", []
    tensor = _message(kind[1][0], "TypeProto.Tensor")
    elem = (tensor.get(1) or [0])[0]
    dims: list = []
    for dim in _message((tensor.get(2) or [b""])[0], "TensorShapeProto").get(1, []):
        fields = _message(dim, "Dimension")
        dims.append(fields[1][0] if 1 in fields else (_text(fields[2][0]) or None) if 2 in fields else None)
    return name, ELEM_TYPES.get(elem, OTHER_TYPES.get(elem, f"ONNX element type {elem}")), dims


def read_header(path: Path) -> OnnxHeader:
    """The model's IR version, producer, opsets and graph inputs; NotOnnx saying why the file is not an ONNX model."""
    size = path.stat().st_size
    if size == 0:
        raise NotOnnx("the file is empty")
    seen: dict[int, object] = {}
    opsets: dict[str, int] = {}
    with open(path, "rb") as fh:
        for number, wire, value in _walk(fh, size):
            name, expected = MODEL_FIELDS.get(number, (None, wire))
            if wire != expected:
                raise NotOnnx(f"its field {number} ({name}) has the wrong wire type: not an ONNX ModelProto")
            if number == 8:
                entry = _message(_read(fh, value), "OperatorSetIdProto")
                opsets[_text((entry.get(1) or [b""])[0])] = int((entry.get(2) or [0])[0])
            elif number in (1, 2, 3, 7):
                seen[number] = _read(fh, value) if number in (2, 3) else value
        if 1 not in seen or 7 not in seen:
            missing = " and no ".join(n for k, n in ((1, "ir_version"), (7, "graph")) if k not in seen)
            raise NotOnnx(f"it has no {missing} (a protobuf message, but not an ONNX model)")
        graph_offset, graph_length = seen[7]
        fh.seek(graph_offset)
        declared, weights = [], set()
        for number, _, value in _walk(fh, graph_offset + graph_length, "GraphProto"):
            if number == 11:
                declared.append(_value_info(_read(fh, value)))
            elif number == 5:  # an initializer: only its name (field 8), its data is skipped
                here = fh.tell()
                fh.seek(value[0])
                for field_number, _, region in _walk(fh, value[0] + value[1], "TensorProto"):
                    if field_number == 8:
                        weights.add(_text(_read(fh, region)))
                fh.seek(here)
    producer = " ".join(p for p in (_text(seen.get(2)), _text(seen.get(3))) if p)
    inputs = [item for item in declared if item[0] not in weights]  # older IRs list weights as inputs too
    return OnnxHeader(int(seen[1]), producer, opsets, graph_length, inputs)


def onnx_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be measured as an ONNX model (one line), or None when it can."""
    shown = f"model.path={path}"
    if not path.exists():
        return f"{shown} does not exist"
    if not path.is_file():
        return f"{shown} is not a file"
    try:
        read_header(path)
    except PermissionError:
        return f"{shown} cannot be read (permission denied)"
    except OSError as err:
        return f"{shown} cannot be read ({err.strerror or err})"
    except NotOnnx as err:
        return f"{shown} is not an ONNX model: {err}; model=onnx_file takes a .onnx file (ModelProto)"
    return None
