"""Server-sent events parsing (the WHATWG ``text/event-stream`` rules), one line at a time.

Pure: no I/O. The clients feed it the lines of a response
(``httpx.Response.iter_lines`` splits on ``\\n``, ``\\r\\n`` and ``\\r``).
"""

from __future__ import annotations

import json

from graphwright.client.models import StreamEvent

__all__ = ["SSEDecoder"]


class SSEDecoder:
    """Turns the lines of an event stream into :class:`StreamEvent` values.

    ``data`` is JSON-decoded when it is JSON and kept as text otherwise. Comments
    (``: heartbeat``) dispatch nothing but set :attr:`alive`. An incomplete frame
    (the connection broke before its blank line) is never returned.
    """

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._has_id = False
        self.alive = False
        """Whether any line (event or comment) arrived: the connection was live."""
        self.last_event_id: str | None = None
        """The stream's last event id (set by ``id:`` lines, as the spec says)."""

    def feed(self, line: str) -> StreamEvent | None:
        """Consume one line (without its line break); return the event a blank line completes."""
        self.alive = True
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
            self._has_id = True
        # "retry" and unknown fields are ignored: reconnection timing is the client's.
        return None

    def _dispatch(self) -> StreamEvent | None:
        event, data, event_id, has_id = self._event, self._data, self._id, self._has_id
        self._event, self._data, self._id, self._has_id = "", [], None, False
        if has_id:
            self.last_event_id = event_id or None
        if not data and not event:
            return None
        text = "\n".join(data)
        return StreamEvent(
            event=event or "message",
            data=_decode(text) if data else None,
            id=(event_id or None) if has_id else None,
        )


def _decode(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text
