"""MLproject entry ``doctor``: what can run on this host, per runtime × provider, and how to fix the rest.

``mlflow run . -e doctor`` checks everything; ``-P runtime=onnx -P provider=cuda,tensorrt`` only those (comma or
space separated). Its exit status is the doctor's: 0 when every combination asked for can run, 1 otherwise.
"""

from __future__ import annotations

import argparse

from _project import exec_module, fail

RUNTIMES = ("torch", "tf", "mxnet", "onnx")  # green_mlflow.registry (not importable before the project is on the path)
PROVIDERS = ("cpu", "cuda", "tensorrt")


def doctor_args(argv: list[str] | None = None) -> list[str]:
    """The arguments of ``python -m green_mlflow.envs doctor`` for these entry-point arguments (exits 2 on a mistake)."""
    parser = argparse.ArgumentParser(prog="entrypoints/doctor.py", description=__doc__)
    parser.add_argument("--runtime", default="", help="runtimes to check (default: all)")
    parser.add_argument("--provider", default="", help="providers to check (default: all)")
    args = parser.parse_args(argv)
    out = ["doctor"]
    for flag, given, allowed in (("--runtime", args.runtime, RUNTIMES), ("--provider", args.provider, PROVIDERS)):
        for name in given.replace(",", " ").split():
            if name not in allowed:
                fail(f"parameter {flag[2:]}={name!r} is not known; allowed: {', '.join(allowed)}")
            out += [flag, name]
    return out


if __name__ == "__main__":
    exec_module("green_mlflow.envs", doctor_args())
