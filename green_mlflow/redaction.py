"""The one redaction of credentials, applied wherever text leaves the process (standard library only).

Two things are removed from any text: the ``user:password@`` part of a URI (also in Hydra's escaped form
``http\\://user\\:pw@host``), and every secret this process knows — the password of a tracking URI, and
``$MLFLOW_TRACKING_PASSWORD`` / ``$MLFLOW_TRACKING_TOKEN`` — wherever it appears, so that an error text
MLflow or a driver builds from a URL or a request cannot carry it either.

Tags, params, text artifacts (``tracking.runs``), the ledger (``sweep.ledger``), log records, stdout and
stderr (``__main__``) all pass through :func:`redact_text`.

``lift_credentials`` goes further for the command line: a password written in ``tracking.uri=…`` (or in
``$MLFLOW_TRACKING_URI``) is moved into this process's ``MLFLOW_TRACKING_USERNAME`` /
``MLFLOW_TRACKING_PASSWORD`` before Hydra starts, so Hydra's own files of the sweep (``multirun.yaml``,
``.hydra/*.yaml``, its logs) never hold it. Workers get no MLflow variable at all (``launch.worker_env``).
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
from collections.abc import MutableMapping
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
# a secret shorter than this is not searched for in free text (it would mask ordinary words); inside a
# URI it is still removed by the pattern
MIN_SECRET_CHARS = 6
SECRET_VARIABLES = ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")
CREDENTIALS_IN_URI = re.compile(r"(\\?://)[^\s/@'\"]+@")

_known: set[str] = set()


def remember(secret: str | None) -> None:
    """Mask ``secret`` (and its percent-encoded form) in every text redacted from now on."""
    if secret and len(secret) >= MIN_SECRET_CHARS:
        _known.update({secret, quote(secret, safe=""), quote(secret)})


def remember_environment(environ: MutableMapping[str, str] | None = None) -> None:
    environ = os.environ if environ is None else environ
    for name in SECRET_VARIABLES:
        remember(environ.get(name))


def redact_text(text: str) -> str:
    """``text`` without any credentials inside a URI and without any secret this process knows."""
    text = CREDENTIALS_IN_URI.sub(rf"\1{MASK}@", text)
    for secret in sorted(_known, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def redact_uri(uri: str) -> str:
    """A URI for messages: its ``user:password@`` part masked."""
    return redact_text(uri)


def redact_overrides(overrides: list[str]) -> str:
    """Command-line overrides as one string, credentials removed (for tags and logs)."""
    return " ".join(redact_text(override) for override in overrides)


class CredentialsError(ValueError):
    """Two different credentials on one command line (which of them should MLflow use?)."""


def _split(uri: str) -> tuple[str, str, str] | None:
    """``(uri without credentials, user, password)`` for ``scheme://user:password@host…``, else None."""
    bare = uri.strip("'\"")
    if "://" not in bare or "@" not in bare.split("://", 1)[1].split("/", 1)[0]:
        return None
    parts = urlsplit(bare)
    if parts.password is None:
        return None
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=host).geturl(), unquote(parts.username or ""), unquote(parts.password)


def lift_credentials(argv: list[str], environ: MutableMapping[str, str] | None = None) -> tuple[list[str], list[str]]:
    """Move ``user:password@`` out of URIs on the command line and in ``$MLFLOW_TRACKING_URI`` into
    ``environ``'s ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` (which MLflow's client reads).

    Returns the new argv and one note per place changed (for the user, without the password).
    """
    environ = os.environ if environ is None else environ
    given: set[tuple[str, str]] = set()
    notes: list[str] = []
    lifted = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        split = _split(value) if sep and not arg.startswith("-") else None
        if split is None:
            lifted.append(arg)
            continue
        bare, user, password = split
        given.add((user, password))
        lifted.append(f"{key}={bare}")
        notes.append(f"{key}: user name and password taken out of the URI ({bare})")
    if len(given) > 1:
        raise CredentialsError(
            "the command line holds URIs with different user names or passwords: give one pair, "
            "preferably in $MLFLOW_TRACKING_USERNAME and $MLFLOW_TRACKING_PASSWORD (docs/server.md)"
        )
    env_split = _split(environ.get("MLFLOW_TRACKING_URI", ""))
    if env_split is not None:
        bare, user, password = env_split
        remember(password)
        environ["MLFLOW_TRACKING_URI"] = bare
        if not given:  # tracking.uri, when given, is the store used (docs/server.md): its credentials win
            given.add((user, password))
        notes.append(f"$MLFLOW_TRACKING_URI: user name and password taken out of the URI ({bare})")
    if given:
        user, password = given.pop()
        remember(password)
        if user:
            environ["MLFLOW_TRACKING_USERNAME"] = user
        environ["MLFLOW_TRACKING_PASSWORD"] = password
        notes = [f"{n}; MLflow gets them from MLFLOW_TRACKING_USERNAME/PASSWORD in this process only" for n in notes]
    remember_environment(environ)
    return lifted, notes


class RedactingStream(io.TextIOBase):
    """A text stream (stdout, stderr) that redacts everything written through it."""

    def __init__(self, inner):
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(redact_text(text))
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def encoding(self):
        return self._inner.encoding

    def writable(self) -> bool:
        return True


def _redacting_records(factory):
    def make(*args, **kwargs):
        record = factory(*args, **kwargs)
        try:
            record.msg, record.args = redact_text(record.getMessage()), ()
        except (TypeError, ValueError):  # a malformed record: logging reports it when it is emitted
            pass
        return record

    make.redacting = True
    return make


def redact_log_records() -> None:
    """Every log record (Hydra's launchers log each job's overrides verbatim, MLflow its request errors)
    is redacted when it is made, before any handler writes it to the console or a log file."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "redacting", False):
        logging.setLogRecordFactory(_redacting_records(factory))


def redact_process_output() -> None:
    """This process's log records, stdout and stderr pass through the redaction from now on."""
    redact_log_records()
    remember_environment()
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)
