"""Log lines: one JSON object per record, or readable text with key=value fields."""

from __future__ import annotations

import json
import logging
import sys

from graphwright.logs import JsonFormatter, TextFormatter


def _record(msg: str = "request", fields: dict[str, object] | None = None) -> logging.LogRecord:
    record = logging.LogRecord("graphwright.access", logging.INFO, __file__, 1, msg, None, None)
    if fields is not None:
        record.fields = fields
    return record


def test_json_line_has_the_record_and_its_fields() -> None:
    """The JSON form is one line with ts, level, logger, message and each field."""
    line = JsonFormatter().format(_record(fields={"path": "/threads/{thread_id}", "status": 200}))
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "info"
    assert data["logger"] == "graphwright.access"
    assert data["message"] == "request"
    assert (data["path"], data["status"]) == ("/threads/{thread_id}", 200)
    assert data["ts"].endswith("+00:00")


def test_json_fields_do_not_overwrite_the_record() -> None:
    """A field named like a record key (message) does not replace it."""
    data = json.loads(JsonFormatter().format(_record(fields={"message": "spoofed"})))
    assert data["message"] == "request"


def test_json_line_carries_the_exception() -> None:
    """A record with an exception has its traceback under `exception`, still one line."""
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "ValueError: bad" in json.loads(line)["exception"]


def test_text_line_appends_fields_as_key_value() -> None:
    """The text form appends key=value; None is `-`, values with spaces or quotes are quoted."""
    fields = {"path": "/x", "tenant": None, "note": 'a "b" c', "n": 3}
    line = TextFormatter().format(_record(fields=fields))
    assert line.endswith('request path=/x tenant=- note="a \\"b\\" c" n=3')


def test_text_line_without_fields_is_the_message() -> None:
    """A record without fields is formatted as time, level, logger and message only."""
    line = TextFormatter().format(_record("plain message"))
    assert line.endswith("INFO graphwright.access plain message")
