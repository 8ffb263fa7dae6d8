"""The one place MXNet is imported: restore the numpy aliases MXNet 1.9.1 still uses.

MXNet 1.9.1 (the last release; Apache retired MXNet in 2023) calls ``np.bool``, ``np.int``,
``np.float``, ``np.complex``, ``np.object`` and ``np.str``, which numpy 1.24 removed; numpy 2 breaks
it further (``np.PZERO``), so the mxnet environment pins numpy<2. Each alias is set only if absent,
to the builtin it used to stand for.
"""

from __future__ import annotations

import builtins

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


def import_mxnet():
    """Import and return ``mxnet`` with the aliases in place."""
    if int(np.__version__.split(".")[0]) >= 2:
        raise ImportError(f"mxnet 1.9.1 needs numpy<2, found numpy {np.__version__}; use the managed mxnet environment")
    restore_numpy_aliases()
    import mxnet

    return mxnet
