"""Which room and which request a log line belongs to, carried in context variables.

The web layer sets the request id (and the room id of a room route); a room sets its own id
in its media thread and its director task, so every line they log names the room without
passing it around. `web/logs.py` writes both into each JSON log line."""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime

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


class JsonFormatter(logging.Formatter):
    """`{"ts","level","logger","msg","room_id","request_id", …extra}`, UTF-8 text kept."""

    FIELDS = ("method", "path", "status", "ms")

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "room_id": getattr(record, "room_id", None),
            "request_id": getattr(record, "request_id", None),
        }
        for key in self.FIELDS:
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def json_handler(stream) -> logging.Handler:
    """A handler writing JSON lines with the context's room and request ids."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    return handler
