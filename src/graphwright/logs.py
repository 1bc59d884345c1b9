"""Log lines of the ``graphwright`` processes: one line per record, JSON or text.

Records may carry structured fields as ``extra={"fields": {...}}``. The JSON form
(``GW_LOG_FORMAT=json``) puts them next to ``ts``, ``level``, ``logger`` and
``message`` in one object per line; the text form appends them as ``key=value``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

__all__ = ["JsonFormatter", "TextFormatter", "configure_logging", "fields_of"]


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields of a record (empty when it has none)."""
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``message``, the fields
    and, with an exception, ``exception`` (its traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in fields_of(record).items():
            line.setdefault(name, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger message key=value ...``; values with spaces or quotes are quoted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as readable text (a traceback follows on its own lines)."""
        text = super().format(record)
        fields = fields_of(record)
        if not fields:
            return text
        head, newline, rest = text.partition("\n")
        pairs = " ".join(f"{name}={_text_value(value)}" for name, value in fields.items())
        return f"{head} {pairs}{newline}{rest}"


def _text_value(value: Any) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if not text or any(c.isspace() or c in "\"'=" or not c.isprintable() for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


def configure_logging(log_format: str) -> None:
    """Send log records to stderr as ``json`` or ``text`` lines.

    graphwright's own loggers log from INFO; other libraries (and uvicorn) from WARNING.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("graphwright").setLevel(logging.INFO)
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
