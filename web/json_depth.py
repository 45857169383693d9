"""Refuse JSON nested deeper than a limit while the body streams in, before any parser sees it.

Python's json and pydantic recurse once per level: a signed webhook nested 5,000 levels
deep raised RecursionError (a 500) from inside the payment code. A body is treated as JSON
when its first non-blank byte is `{` or `[`, whatever its Content-Type claims, because
handlers that read raw bodies (webhooks, platform pushes) parse them as JSON regardless.
"""

from __future__ import annotations

import json
import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_JSON_DEPTH = 32  # the deepest body the API takes (a trace event's details) is 4 levels
_TOKENS = re.compile(rb'[\\"{}\[\]]')
_BLANK = b" \t\r\n"


class JsonTooDeep(HTTPException):
    """Raised from `receive` mid-stream; an HTTPException so every layer answers 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(400, f"JSON 嵌套超过 {limit} 层 (JSON nested too deeply)")


class DepthScanner:
    """Tracks nesting depth across chunks: brackets count only outside strings."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.depth = 0
        self.in_string = False
        self.escaped = False  # the previous chunk ended inside a string on a backslash
        self.decided: bool | None = None  # None until the first non-blank byte is seen

    def feed(self, chunk: bytes) -> None:
        """Raise JsonTooDeep once the depth passes the limit; non-JSON bodies pass as they are."""
        if self.decided is None:
            head = chunk.lstrip(_BLANK)
            if not head:
                return
            self.decided = head[:1] in (b"{", b"[")
        if not self.decided:
            return
        start = 0
        if self.escaped:
            self.escaped, start = False, 1
        for m in _TOKENS.finditer(chunk, start):
            if m.start() < start:  # the byte after a backslash is the escaped character
                continue
            tok = m.group()
            if self.in_string:
                if tok == b"\\":
                    start = m.end() + 1
                    if start > len(chunk):
                        self.escaped = True
                elif tok == b'"':
                    self.in_string = False
            elif tok == b'"':
                self.in_string = True
            elif tok in (b"{", b"["):
                self.depth += 1
                if self.depth > self.limit:
                    raise JsonTooDeep(self.limit)
            elif tok in (b"}", b"]"):
                self.depth -= 1


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `body` (JSON text) nests deeper than `limit`; for bodies read in one piece."""
    try:
        DepthScanner(limit).feed(body)
    except JsonTooDeep:
        return True
    return False


class JsonDepthGuard:
    """ASGI middleware: every HTTP request body passes a DepthScanner as it is received."""

    def __init__(self, app: ASGIApp, limit: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scanner = DepthScanner(self.limit)
        started = False

        async def scanning_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                scanner.feed(message.get("body", b""))
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, scanning_receive, watching_send)
        except JsonTooDeep as exc:
            if not started:
                await _refuse(send, exc.detail)


async def _refuse(send: Send, detail: str) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
