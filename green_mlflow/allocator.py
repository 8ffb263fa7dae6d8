"""The memory allocator of a worker: part of the runtime infrastructure on CPU (docs/method.md rule 16).

``allocator=`` (a config group and a sweep axis) chooses it, for the worker process only:

- ``glibc_pinned`` (default): glibc's malloc with ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``
  pinned (``launch.MALLOC_ENV``), so a worker reuses its memory whatever its history;
- ``glibc``: glibc's malloc with its adaptive defaults;
- ``jemalloc``, ``tcmalloc``: the library preloaded (``LD_PRELOAD``), found on this host: Debian's
  ``libjemalloc2`` and ``libtcmalloc-minimal4``.

Standard library only. A user's own ``MALLOC_*`` or ``LD_PRELOAD`` settings are left alone for ``glibc*``.
"""

from __future__ import annotations

import glob
import os
import subprocess

ALLOCATORS = ("glibc_pinned", "glibc", "jemalloc", "tcmalloc")
DEFAULT = "glibc_pinned"
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(4 * 2**30)}
LIBRARIES = {  # allocator → (file name patterns, the Debian package that ships it)
    "jemalloc": (("libjemalloc.so.2", "libjemalloc.so"), "libjemalloc2"),
    "tcmalloc": (("libtcmalloc_minimal.so.4", "libtcmalloc.so.4", "libtcmalloc_minimal.so"), "libtcmalloc-minimal4"),
}
SEARCH_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib")


class AllocatorError(ValueError):
    """The allocator asked for cannot be used on this host; the message says how to get it."""


def find_library(name: str, search_dirs: tuple[str, ...] | None = None) -> str:
    """The path of ``name``'s shared library on this host, or AllocatorError saying how to install it."""
    search_dirs = SEARCH_DIRS if search_dirs is None else search_dirs
    if name not in LIBRARIES:
        raise AllocatorError(f"allocator={name} has no library to preload; allowed: {', '.join(ALLOCATORS)}")
    patterns, package = LIBRARIES[name]
    for directory in search_dirs:
        for pattern in patterns:
            found = sorted(glob.glob(os.path.join(directory, pattern)))
            if found:
                return os.path.realpath(found[0])
    raise AllocatorError(
        f"allocator={name} needs {patterns[0]}, which is not on this host (looked in {', '.join(search_dirs)}): "
        f"install Debian's {package} (apt-get install {package}), or choose allocator=glibc_pinned"
    )


def allocator_env(name: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) as the worker's, with ``name`` applied."""
    env = dict(os.environ if environ is None else environ)
    if name not in ALLOCATORS:
        raise AllocatorError(f"allocator={name} is not known; allowed: {', '.join(ALLOCATORS)}")
    if name == "glibc_pinned":
        return {**MALLOC_ENV, **env}  # a user's own MALLOC_* settings win
    if name == "glibc":
        return env
    library = find_library(name)
    preload = env.get("LD_PRELOAD", "")
    env["LD_PRELOAD"] = f"{library} {preload}".strip()
    return {k: v for k, v in env.items() if not k.startswith("MALLOC_")}


def in_effect(maps_path: str = "/proc/self/maps") -> dict[str, str]:
    """What this process allocates with: ``name`` (glibc, jemalloc, tcmalloc), ``version``, ``detail``."""
    try:
        with open(maps_path) as fh:
            libraries = {line.split()[-1] for line in fh if line.rstrip().endswith(".so") or ".so." in line}
    except OSError:
        libraries = set()
    for name in ("jemalloc", "tcmalloc"):
        hits = sorted(p for p in libraries if f"lib{name}" in os.path.basename(p))
        if hits:
            return {"name": name, "version": _version_from(hits[0]), "detail": f"preloaded {hits[0]}"}
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION") or "glibc ?"
    except (ValueError, OSError):
        version = "glibc ?"
    settings = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("MALLOC_"))
    return {
        "name": "glibc",
        "version": version.split()[-1],
        "detail": f"{version} malloc, " + (settings or "adaptive defaults (no MALLOC_* settings)"),
    }


def _version_from(path: str) -> str:
    """The library's version from its file name (``libtcmalloc_minimal.so.4.5.10``), else from the Debian
    package that ships it (``dpkg-query``), else ``unknown``."""
    real = os.path.basename(os.path.realpath(path))
    parts = real.split(".so.", 1)
    if len(parts) == 2 and parts[1].count(".") >= 1:
        return parts[1]
    for _, package in LIBRARIES.values():
        try:
            found = subprocess.run(
                ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            break
        if found.returncode == 0 and found.stdout and package.startswith(real.split(".so")[0]):
            return f"{found.stdout.strip()} (Debian {package})"
    return "unknown"
