"""Does an environment spec resolve? Asked of pip without installing, or downloading, what it names.

``resolve_spec(path)`` runs ``pip install --dry-run --ignore-installed -r path`` for the interpreter that would build
the environment, plus the extra index a spec declares on a ``# index: URL`` comment line (TensorRT's libraries come
from https://pypi.nvidia.com, for instance). The GPU specs name several GB of CUDA wheels, and a dry run must not fetch
them, so two things hold here:

* pip >= 25.3 (pypa/pip#13482): older pips download every wheel they resolved, even in ``--dry-run``. When the
  interpreter's own pip is older, a current pip wheel is fetched once (about 2 MB, kept in the user's cache) and
  run from the wheel file, which pip supports (``python pip-X.whl/pip ...``); the interpreter's pip is left alone.
* ``--use-feature=fast-deps``: where an index serves no PEP 658 metadata files, pip reads a wheel's metadata with HTTP
  range requests (some hundred kB) instead of downloading the wheel. Where the index serves them, pip uses those.

``isolated=True`` ignores pip's configuration files and PIP_* settings that change what resolves (local wheel
directories, extra indexes, constraints such as a local cap on torch), so the answer is about the public index alone.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

MIN_PIP = (25, 3)
_INDEX_LINE = re.compile(r"^#\s*index:\s*(\S+)\s*$")
# PIP_* settings that change the answer; left out with isolated=True (certificates, proxies and timeouts stay)
_RESOLUTION_SETTINGS = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_NO_INDEX",
    "PIP_CONSTRAINT",
    "PIP_REQUIREMENT",
    "PIP_PRE",
    "PIP_ONLY_BINARY",
    "PIP_NO_BINARY",
    "PIP_PREFER_BINARY",
    "PIP_USE_FEATURE",
    "PIP_USE_DEPRECATED",
)


def spec_indexes(path: str | os.PathLike) -> list[str]:
    """The extra indexes a spec declares, one ``# index: URL`` comment line each."""
    found = []
    for line in Path(path).read_text().splitlines():
        match = _INDEX_LINE.match(line.strip())
        if match:
            found.append(match.group(1))
    return found


def index_unreachable(url: str, timeout: float = 5.0) -> str | None:
    """None when ``url`` answers over HTTP (any status); else why it cannot be reached."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None  # it answered
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        return f"{url} is unreachable from this machine ({reason})"


def _environ(isolated: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    if isolated:
        env["PIP_CONFIG_FILE"] = os.devnull  # pip then reads no configuration file at all
        for key in _RESOLUTION_SETTINGS:
            env.pop(key, None)
    return env


def _pip_version(python: str, env: dict[str, str]) -> tuple[int, ...]:
    proc = subprocess.run([python, "-c", "import pip; print(pip.__version__)"], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return (0,)
    return tuple(int(part) for part in re.findall(r"\d+", proc.stdout)[:2])


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "green_mlflow" / "pip"


def pip_command(python: str = sys.executable, isolated: bool = False) -> list[str]:
    """How to run a pip that resolves without downloading: the interpreter's own if recent enough, else a wheel."""
    env = _environ(isolated)
    if _pip_version(python, env) >= MIN_PIP:
        return [python, "-m", "pip"]
    cache = _cache_dir()
    wheels = sorted(cache.glob("pip-*-py3-none-any.whl"))
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        need = f"pip>={MIN_PIP[0]}.{MIN_PIP[1]}"
        with tempfile.TemporaryDirectory(dir=cache) as staging:  # a wheel appears in the cache whole or not at all
            fetch = [python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", staging, need]
            proc = subprocess.run(fetch, capture_output=True, text=True, env=env)
            fetched = sorted(Path(staging).glob("pip-*-py3-none-any.whl"))
            if proc.returncode != 0 or not fetched:
                raise RuntimeError(f"could not fetch {need} to resolve specs with:\n{proc.stderr.strip()}")
            os.replace(fetched[-1], cache / fetched[-1].name)
        wheels = sorted(cache.glob("pip-*-py3-none-any.whl"))
    return [python, str(wheels[-1] / "pip")]


def resolve_spec(
    path: str | os.PathLike,
    *,
    python: str = sys.executable,
    isolated: bool = False,
    report: str | os.PathLike | None = None,
    timeout: float = 600,
) -> tuple[bool, str]:
    """(True, what pip would install) when ``path`` resolves for ``python``; else (False, why, pip's own words).

    Nothing is installed, and wheels are not downloaded (see the module's doc). ``report``, if given, receives pip's
    JSON installation report. An extra index the spec declares that cannot be reached makes the answer False.
    """
    path = Path(path)
    indexes = spec_indexes(path)
    for url in indexes:
        why = index_unreachable(url)
        if why:
            return False, f"{path.name}: {why}"
    try:
        pip = pip_command(python, isolated)
    except RuntimeError as err:
        return False, f"{path.name}: {err}"
    command = [
        *pip,
        "install",
        "--dry-run",
        "--ignore-installed",
        "--quiet",
        "--use-feature=fast-deps",
        "--progress-bar=off",
        "-r",
        str(path),
    ]
    for url in indexes:
        command += ["--extra-index-url", url]
    with tempfile.TemporaryDirectory() as scratch:
        report_path = Path(report) if report is not None else Path(scratch) / "report.json"
        command += ["--report", str(report_path)]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, env=_environ(isolated), timeout=timeout)
        except subprocess.TimeoutExpired:
            return False, f"{path.name}: pip did not finish within {timeout:.0f} s"
        # fast-deps announces itself as experimental on every run; that line is not news
        stderr = "\n".join(line for line in proc.stderr.splitlines() if "fast-deps" not in line).strip()
        if proc.returncode != 0:
            return False, f"{path.name} does not resolve (pip exit {proc.returncode}):\n{stderr}"
        items = json.loads(report_path.read_text()).get("install", []) if report_path.exists() else []
    would = " ".join(f"{i['metadata']['name']}=={i['metadata']['version']}" for i in items)
    return True, (f"{path.name} resolves: {would}" if would else f"{path.name} resolves")
