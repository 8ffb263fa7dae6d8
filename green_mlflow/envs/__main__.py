"""``python -m green_mlflow.envs setup [NAME ...]`` creates or updates runtime environments.

``status`` lists them. With no names, ``setup`` makes the CPU set (torch, tf, mxnet, onnx); ``--gpu``
adds the GPU builds the runtime registry names (tf-gpu, mxnet-gpu, onnx-gpu, onnx-tensorrt). A spec whose
packages come from an extra index says so on a ``# index: URL`` line (TensorRT: NVIDIA's index);
``--extra-index-url`` replaces it, e.g. with a mirror. ``doctor`` tells what can run on this host.
"""

from __future__ import annotations

import argparse
import sys

from green_mlflow.envs import (
    EnvironmentError_,
    available,
    env_python,
    envs_dir,
    is_current,
    setup,
    spec_path,
)
from green_mlflow.registry import PROVIDERS, RUNTIMES, environments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m green_mlflow.envs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("setup", help="create or update environments (idempotent)")
    make.add_argument("names", nargs="*", metavar="NAME", help=f"one of {', '.join(available())}")
    make.add_argument("--gpu", action="store_true", help="also make the GPU environments")
    make.add_argument(
        "--extra-index-url",
        action="append",
        metavar="URL",
        help="an index for the packages a spec does not find on PyPI (default: the spec's own '# index:' line)",
    )
    sub.add_parser("status", help="list environments and whether they are up to date")
    doctor = sub.add_parser(
        "doctor", help="what can run on this host, per runtime and provider, and how to fix the rest"
    )
    doctor.add_argument("--runtime", action="append", choices=list(RUNTIMES), help="only this runtime (repeatable)")
    doctor.add_argument("--provider", action="append", choices=list(PROVIDERS), help="only this provider (repeatable)")
    doctor.add_argument("--json", action="store_true", help="the answer as JSON")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        from green_mlflow.envs import doctor as doctor_module

        return doctor_module.main(args.runtime, args.provider, args.json)
    if args.command == "status":
        print(f"environments in {envs_dir()}")
        for name in available():
            state = "up to date" if is_current(name) else "missing or outdated"
            print(f"  {name:10s} {state:20s} {env_python(name)}")
        return 0
    names = list(args.names) or list(environments(gpu=args.gpu))
    try:
        for name in names:
            spec_path(name)  # refuse unknown names before installing anything
        for index, name in enumerate(names, 1):
            print(f"[{index}/{len(names)}] environment {name}", flush=True)
            setup(name, lambda msg: print(f"  {msg}", flush=True), extra_index_urls=args.extra_index_url)
    except EnvironmentError_ as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
