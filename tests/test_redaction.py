"""The one redaction: credentials in URIs and every secret the process knows, wherever text leaves it."""

from __future__ import annotations

import io
import logging

import pytest

from green_mlflow import redaction
from green_mlflow.redaction import CredentialsError, RedactingStream, lift_credentials, redact_text, remember


@pytest.fixture(autouse=True)
def forget_secrets(monkeypatch):
    monkeypatch.setattr(redaction, "_known", set())


def test_a_password_on_the_command_line_moves_into_the_environment_and_out_of_the_overrides():
    environ: dict[str, str] = {}
    argv, notes = lift_credentials(
        ["-m", "tracking=server", "tracking.uri=http://bob:b0b-pa%40ss@db.example:5000/x"], environ
    )
    assert argv == ["-m", "tracking=server", "tracking.uri=http://db.example:5000/x"]
    assert environ == {"MLFLOW_TRACKING_USERNAME": "bob", "MLFLOW_TRACKING_PASSWORD": "b0b-pa@ss"}  # percent-decoded
    assert len(notes) == 1 and "b0b" not in notes[0] and "http://db.example:5000/x" in notes[0]
    # from now on the password is masked in any text, in both spellings
    assert redact_text("failed: b0b-pa@ss and b0b-pa%40ss") == "failed: *** and ***"


def test_the_command_line_credentials_win_over_those_in_the_environment_uri():
    environ = {"MLFLOW_TRACKING_URI": "https://amy:amy-secret-1@other:443"}
    argv, notes = lift_credentials(["tracking.uri=http://bob:bob-secret-2@db:5000"], environ)
    assert environ["MLFLOW_TRACKING_URI"] == "https://other:443", "the variable is cleaned too"
    assert (environ["MLFLOW_TRACKING_USERNAME"], environ["MLFLOW_TRACKING_PASSWORD"]) == ("bob", "bob-secret-2")
    assert redact_text("amy-secret-1 bob-secret-2") == "*** ***", "both are masked"
    assert len(notes) == 2


def test_two_different_passwords_on_one_command_line_are_refused_without_showing_either():
    with pytest.raises(CredentialsError) as refused:
        lift_credentials(["tracking.uri=http://a:first-pass@h", "x.uri=http://a:second-pass@h"], {})
    assert "first-pass" not in str(refused.value) and "second-pass" not in str(refused.value)


def test_nothing_changes_without_credentials():
    environ = {"MLFLOW_TRACKING_URI": "http://db:5000"}
    argv = ["-m", "tracking.uri=http://db:5000", "batch_size=1,64", "--cfg", "job", "model.name=a@b"]
    assert lift_credentials(argv, environ) == (argv, [])
    assert environ == {"MLFLOW_TRACKING_URI": "http://db:5000"}


def test_uri_credentials_are_masked_in_free_text_also_in_hydras_escaped_form():
    assert redact_text("see postgresql://alice:s3cret@db:5432/mlflow now") == "see postgresql://***@db:5432/mlflow now"
    assert redact_text(r"tracking.uri=http\://bob\:pw@host\:5000") == r"tracking.uri=http\://***@host\:5000"
    assert redact_text("mail alice@example.org") == "mail alice@example.org"


def test_short_secrets_are_not_hunted_in_free_text_but_still_leave_uris():
    remember("abc")  # masking every "abc" would garble the output; inside a URI the pattern removes it
    assert redact_text("abc http://u:abc@h") == "abc http://***@h"


def test_environment_secrets_are_known_and_streams_and_log_records_are_redacted(monkeypatch):
    redaction.remember_environment({"MLFLOW_TRACKING_PASSWORD": "env-secret-77", "MLFLOW_TRACKING_TOKEN": "tok-123456"})
    inner = io.StringIO()
    RedactingStream(inner).write("request with env-secret-77 and tok-123456 failed\n")
    assert inner.getvalue() == "request with *** and *** failed\n"

    monkeypatch.setattr(logging, "_logRecordFactory", logging.LogRecord)
    redaction.redact_log_records()
    redaction.redact_log_records()  # installed once
    record = logging.getLogRecordFactory()(
        "mlflow", logging.ERROR, __file__, 1, "API request to %s: %s", ("http://u:pw@h", "env-secret-77"), None
    )
    assert record.getMessage() == "API request to http://***@h: ***"
