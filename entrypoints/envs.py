"""MLproject entry ``envs``: create or update the runtime environments."""

from __future__ import annotations

import sys

from _project import exec_module

if __name__ == "__main__":
    exec_module("green_mlflow.envs", ["setup", *" ".join(sys.argv[1:]).split()])
