"""Which room and which request a log line belongs to, carried in context variables.

The web layer sets the request id (and the room id of a room route); a room sets its own id
in its media thread and its director task, so every line they log names the room without
passing it around. `web/logs.py` writes both into each JSON log line."""

from __future__ import annotations

import contextvars
import logging

room_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("room_id", default=None)
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def room_context(rid: str) -> contextvars.Context:
    """A copy of the current context with the room id set (for a room's tasks)."""
    ctx = contextvars.copy_context()
    ctx.run(room_id.set, rid)
    return ctx


class ContextFilter(logging.Filter):
    """Adds `room_id` and `request_id` to every record (an explicit `extra` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "room_id", None) is None:
            record.room_id = room_id.get()
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True
