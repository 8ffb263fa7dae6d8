"""The one place MXNet is imported: restore the numpy aliases MXNet 1.9.1 still uses.

MXNet 1.9.1 (the last release; Apache retired MXNet in 2023) calls ``np.bool``, ``np.int``,
``np.float``, ``np.complex``, ``np.object`` and ``np.str``, which numpy 1.24 removed; numpy 2 breaks
it further (``np.PZERO``), so the mxnet environment pins numpy<2. Each alias is set only if absent,
to the builtin it used to stand for.
"""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np

ALIASES = ("bool", "int", "float", "complex", "object", "str")


def restore_numpy_aliases() -> list[str]:
    """Set the removed aliases that are missing; return the names set."""
    restored = []
    for name in ALIASES:
        if name not in np.__dict__:
            setattr(np, name, getattr(builtins, name))
            restored.append(name)
    return restored


# The CUDA 11 libraries of the mxnet-gpu environment (pip packages under site-packages/nvidia/), in the order
# libmxnet.so's dependencies need them. The loader does not look there, and LD_LIBRARY_PATH is read only when a
# process starts: loading them by path first, with RTLD_GLOBAL, lets libmxnet.so find them.
CUDA_LIBRARY_PACKAGES = ("cuda_runtime", "cublas", "cufft", "curand", "cusolver", "cuda_nvrtc", "nvtx", "nccl", "cudnn")


def load_cuda_libraries() -> list[str]:
    """Load the pip-installed CUDA 11 libraries where this environment has them; return the files loaded."""
    import ctypes
    import importlib.util

    spec = importlib.util.find_spec("nvidia")
    if spec is None or not spec.submodule_search_locations:
        return []  # the CPU build, or CUDA from the system
    loaded = []
    for root in map(Path, spec.submodule_search_locations):
        for package in CUDA_LIBRARY_PACKAGES:
            for library in sorted((root / package / "lib").glob("lib*.so*")):
                try:
                    ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
                    loaded.append(library.name)
                except OSError:
                    pass  # a library another one needs first is retried by libmxnet.so's own loading
    return loaded


def import_mxnet():
    """Import and return ``mxnet`` with the aliases in place (and its CUDA libraries loadable)."""
    if int(np.__version__.split(".")[0]) >= 2:
        raise ImportError(f"mxnet 1.9.1 needs numpy<2, found numpy {np.__version__}; use the managed mxnet environment")
    restore_numpy_aliases()
    load_cuda_libraries()
    import mxnet

    return mxnet
