"""MLproject entry ``envs``: create or update the runtime environments (idempotent: a second call only checks).

``mlflow run . -e envs`` makes the CPU set; ``-P names="torch onnx"`` only those; ``-P gpu=true`` adds the GPU
builds (onnx-gpu, tf-gpu, mxnet-gpu).
"""

from __future__ import annotations

import argparse

from _project import exec_module, fail

TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


def setup_args(argv: list[str] | None = None) -> list[str]:
    """The arguments of ``python -m green_mlflow.envs`` for these entry-point arguments (exits 2 on a mistake)."""
    parser = argparse.ArgumentParser(prog="entrypoints/envs.py", description=__doc__)
    parser.add_argument("--names", default="", help="environments to make, space or comma separated (default: all CPU)")
    parser.add_argument("--gpu", default="false", help="true: also the GPU builds")
    args = parser.parse_args(argv)
    gpu = args.gpu.strip().lower()
    if gpu not in TRUE + FALSE:
        fail(f"parameter gpu={args.gpu!r}: use true or false")
    names = args.names.replace(",", " ").split()
    return ["setup", *names, *(["--gpu"] if gpu in TRUE else [])]


if __name__ == "__main__":
    exec_module("green_mlflow.envs", setup_args())
