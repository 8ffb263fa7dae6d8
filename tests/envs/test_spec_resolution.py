"""Every environment spec resolves on the public index: pip's dry run, nothing installed or downloaded.

Resolution ignores this machine's pip configuration (``isolated=True``): a local wheel directory or a cap on torch must
not make a spec look installable, or not, where CI and users resolve against PyPI alone. Each resolution waits mostly
on the network (hundreds of small range requests for wheel metadata; torch's wheel alone takes some 15 s), so the
specs are resolved a few at a time, the slowest first, started by the first test that asks: about a minute for the whole
file here (50-70 s), against some 120 s one after the other. More at once than the CPUs allow only slows each pip down.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

import green_mlflow.envs.resolve as resolve

SPECS = sorted((Path(resolve.__file__).parent / "specs").glob("*.txt"))
SLOWEST_FIRST = ("torch", "tf-gpu", "tf")  # the largest dependency trees; any other spec after them


@pytest.fixture(scope="module")
def resolutions():
    """spec -> Future of resolve_spec(spec), one more at a time than there are CPUs."""
    resolve.pip_command(isolated=True)  # fetch a current pip once, if this interpreter's is too old, before the crowd
    order = sorted(SPECS, key=lambda p: SLOWEST_FIRST.index(p.stem) if p.stem in SLOWEST_FIRST else len(SLOWEST_FIRST))
    with ThreadPoolExecutor(max_workers=(os.cpu_count() or 1) + 1) as pool:
        futures: dict[Path, Future] = {}
        for spec in order:
            if not any(resolve.index_unreachable(url) for url in resolve.spec_indexes(spec)):
                futures[spec] = pool.submit(resolve.resolve_spec, spec, isolated=True)
        yield futures
        for future in futures.values():
            future.cancel()


@pytest.mark.parametrize("spec", SPECS, ids=lambda path: path.stem)
def test_spec_resolves(spec: Path, resolutions):
    for url in resolve.spec_indexes(spec):
        why = resolve.index_unreachable(url)
        if why:
            pytest.skip(f"{spec.name} needs its extra index: {why}")
    ok, detail = resolutions[spec].result()
    assert ok, detail


def test_a_pin_that_does_not_exist_is_unresolvable(tmp_path: Path):
    bad = tmp_path / "bad.txt"
    bad.write_text("# onnxruntime-gpu stops at 1.31; 1.32 exists for the CPU build only\nonnxruntime-gpu==1.32.*\n")
    ok, detail = resolve.resolve_spec(bad, isolated=True)
    assert not ok
    assert "bad.txt does not resolve" in detail
    assert "onnxruntime-gpu==1.32" in detail, "pip's own words say which pin failed"


def test_a_spec_declares_its_extra_index_on_a_comment_line(tmp_path: Path):
    spec = tmp_path / "extra.txt"
    spec.write_text("# index: https://pypi.nvidia.com\n# what it pulls\n#index:http://example.invalid/simple\nsix\n")
    assert resolve.spec_indexes(spec) == ["https://pypi.nvidia.com", "http://example.invalid/simple"]
    tensorrt = Path(resolve.__file__).parent / "specs" / "onnx-tensorrt.txt"
    assert tensorrt.read_text().splitlines()[0] == "# index: https://pypi.nvidia.com"


def test_an_unreachable_index_is_reported_not_resolved(tmp_path: Path):
    spec = tmp_path / "closed.txt"
    spec.write_text("# index: http://127.0.0.1:9/simple\nsix\n")
    ok, detail = resolve.resolve_spec(spec, isolated=True)
    assert not ok
    assert "http://127.0.0.1:9/simple is unreachable from this machine" in detail
