"""Redaction of secret values and credential-shaped text from error text."""

from __future__ import annotations

import json

import pytest

from graphwright.redaction import REDACTED, Redactor, redact


@pytest.mark.parametrize(
    ("context", "credential"),
    [
        ("HTTP 401 with Authorization: Bearer {}", "abcdefgh12345678"),
        ("Authorization: Basic {}", "dXNlcjpwYXNzd29yZA=="),
        ("upstream refused bearer {}", "tok_9f8e7d6c5b4a"),
        ("invalid key {}", "sk-proj-AbCdEf0123456789xyz"),
        ("anthropic: {}", "sk-ant-api03-abcdefghijklmnop"),
        ("AWS key {} rejected", "AKIAIOSFODNN7EXAMPLE"),
        ("github {}", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        ("slack {}", "xoxb-1234567890-abcdefghij"),
        ("google {}", "AIzaSyA-abcdefghijklmnopqrstuvwxyz12345"),
        ("jwt {}", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"),
        ("request failed: api_key={}&x=1", "abc123456"),
        ('{{"password": "{}"}}', "pa55word-xyz"),
        ("postgresql://app:{}@db:5432/app", "s3cr3t-pw"),
        ("got {} back", "Xk9mP2qR7sT4vW8yZ1aB3cD5eF6gH0jK2lM4nN6pP8"),
    ],
    ids=[
        "authorization-bearer",
        "authorization-basic",
        "bearer-anywhere",
        "openai-key",
        "anthropic-key",
        "aws-access-key",
        "github-token",
        "slack-token",
        "google-key",
        "jwt",
        "query-assignment",
        "json-password",
        "url-password",
        "high-entropy-token",
    ],
)
def test_credential_shapes_are_redacted(context: str, credential: str) -> None:
    """A credential-shaped part becomes [redacted]; the text around it stays."""
    out = redact(context.format(credential))
    assert credential not in out
    assert out == context.format(REDACTED)


@pytest.mark.parametrize(
    "text",
    [
        "run 59b7c1e2-1111-2222-3333-444455556666 failed",
        "content hash 3f786850e387550fdab836ed7e6dc881de23001b0f3c4d5e6a7b8c9d0e1f2a3b",
        "basic validation failed for field client_identifier_with_a_long_name",
        "ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 5432)",
        "unexpected token: '}' at line 3",
        "KeyError: 'CRM_TOKEN'",
    ],
    ids=["uuid", "hex-digest", "english", "errno", "parser-token", "secret-name"],
)
def test_ordinary_text_is_kept(text: str) -> None:
    """Ids, digests, words and names of secrets are not mistaken for credentials."""
    assert redact(text) == text


def test_known_values_are_redacted_raw_quoted_and_json_escaped() -> None:
    """A known value is replaced as written, inside a repr and inside a JSON string."""
    value = 'horse "battery" \\ staple'
    redactor = Redactor([value])
    for text in (f"saw {value}!", f"saw {value!r}!", f"saw {json.dumps(value)}!"):
        out = redactor.text(text)
        assert "battery" not in out, text
        assert out.startswith("saw ")
        assert out.endswith("!")


def test_a_value_containing_another_is_replaced_whole() -> None:
    """Longer known values win, so no part of one is left behind."""
    redactor = Redactor(["abcd", "abcdefgh-longer"])
    assert redactor.text("x abcdefgh-longer y") == f"x {REDACTED} y"


def test_values_too_short_to_tell_apart_are_not_replaced() -> None:
    """Known values under 4 characters would mangle ordinary text and are skipped."""
    redactor = Redactor(["abc"])
    assert not redactor.knows_values
    assert redactor.text("abc abc") == "abc abc"


def test_value_redacts_every_string_of_nested_data() -> None:
    """Dicts and lists are walked; keys and non-strings are kept."""
    redactor = Redactor(["hunter22-pw"])
    data = {"message": "bad hunter22-pw", "items": ["hunter22-pw", 3], "n": None}
    assert redactor.value(data) == {
        "message": f"bad {REDACTED}",
        "items": [REDACTED, 3],
        "n": None,
    }


def test_error_keeps_its_code() -> None:
    """An error's code is an identifier: it is never rewritten, its message and details are."""
    redactor = Redactor(["token-value-1"])
    error = {
        "code": "crm.denied",
        "message": "token-value-1 denied",
        "details": {"t": "token-value-1"},
    }
    assert redactor.error(error) == {
        "code": "crm.denied",
        "message": f"{REDACTED} denied",
        "details": {"t": REDACTED},
    }


def test_known_only_leaves_credential_shapes_in_data() -> None:
    """For event data only known values go: a random-looking id in data stays."""
    token = "Xk9mP2qR7sT4vW8yZ1aB3cD5eF6gH0jK2lM4nN6pP8"
    redactor = Redactor(["hunter22-pw"])
    assert redactor.known_only({"a": [f"{token} hunter22-pw"]}) == {"a": [f"{token} {REDACTED}"]}


def test_find_known_points_at_the_first_string_holding_a_value() -> None:
    """find_known answers with an escaped JSON pointer, or None when nothing matches."""
    redactor = Redactor(["hunter22-pw"])
    assert redactor.find_known({"a/b": [1, {"c": "x hunter22-pw"}]}) == "/a~1b/1/c"
    assert redactor.find_known({"a": ["nothing"]}) is None
    assert Redactor().find_known({"a": "hunter22-pw"}) is None
