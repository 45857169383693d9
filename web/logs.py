"""Structured logs: one JSON object a line, each naming its room and request.

Opt-in with the `log_json` setting (`YUNLIAN_LOG_JSON=1`); off, logging stays as Python and
uvicorn set it up. The request id comes from a well-formed `X-Request-ID` header, else a
fresh one; it goes back in the response's `X-Request-ID` and into every line logged while
the request runs (and, with `log_requests`, one access line when it ends)."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streamer import log_context
from streamer.log_context import ContextFilter, JsonFormatter

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
ROOM_PATH = re.compile(r"^/(?:api/(?:shop/)?)?rooms/([A-Za-z0-9_-]{1,64})(?:/|$)")
access = logging.getLogger("yunlian.access")
MARK = "_yunlian_json"  # set on the handler this module installs


def configure(enabled: bool, level: str = "INFO", stream=None) -> logging.Handler | None:
    """Install (or, disabled, remove) the JSON handler on the root logger. Idempotent."""
    root = logging.getLogger()
    for h in [h for h in root.handlers if hasattr(h, MARK)]:
        root.removeHandler(h)
        root.setLevel(getattr(h, MARK))  # the level before JSON logging was on
    if not enabled:
        return None
    previous = root.level
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, MARK, previous)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # one format, one stream
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    return handler


class RequestContext:
    """ASGI layer: sets the request id and, on room routes, the room id for the request."""

    def __init__(self, app: ASGIApp, log_requests: bool = False) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        room = ROOM_PATH.match(scope.get("path", ""))
        t_req = log_context.request_id.set(rid)
        t_room = log_context.room_id.set(room.group(1) if room else None)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)
        finally:
            if self.log_requests and scope["type"] == "http":
                access.info(
                    "%s %s %s",
                    scope["method"],
                    scope.get("path", ""),
                    status,
                    extra={
                        "method": scope["method"],
                        "path": scope.get("path", "")[:200],
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
            log_context.room_id.reset(t_room)
            log_context.request_id.reset(t_req)
