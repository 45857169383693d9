"""Two ASGI layers every request passes: one body-size limit for every route, and the
audit log (操作日志) of every change a signed-in user makes."""

from __future__ import annotations

import json
import logging
import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)
AUDIT_BODY_BYTES = 16 * 1024
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
SECRET_KEYS = {"password", "api_key", "token", "secret", "phone", "address", "stream_key"}


class BodyTooLarge(HTTPException):
    """Raised from `receive` mid-stream; an HTTPException so every layer answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"请求体超过 {limit} 字节 (body too large)")


def _scrub(value):
    if isinstance(value, dict):
        return {k: ("***" if k in SECRET_KEYS else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value[:50]]
    return value


class Guard:
    """Refuse bodies over `limit` bytes (declared or streamed) with 413, and after each
    successful change by staff, append who/what/after/when/where to the audit log."""

    def __init__(self, app: ASGIApp, limit: int, audit=None) -> None:
        self.app = app
        self.limit = limit
        self.audit = audit  # async (scope, status, body bytes) -> None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        seen = 0
        kept = bytearray()
        status = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
                if len(kept) < AUDIT_BODY_BYTES:
                    kept.extend(chunk[: AUDIT_BODY_BYTES - len(kept)])
            return message

        async def watching_send(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if not started:
                await _too_large(send, self.limit)
            return
        if self.audit is not None and scope.get("method") in UNSAFE and 200 <= status < 400:
            try:
                await self.audit(scope, status, bytes(kept))
            except Exception:  # the change happened; a failed log line is reported, not raised
                log.exception("audit record failed")


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"请求体超过 {limit} 字节 (body too large)"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


VERBS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
ACTION_WORDS = {"stop", "close", "pin", "apply", "confirm", "logout", "login", "simulator"}


ACTION_PARAMS = {"transition"}  # path parameters that name the action itself


def action_name(method: str, template: str, params: dict | None = None) -> str:
    """ "POST /api/rooms/{room_id}/stop" -> "rooms.stop"; "PATCH /api/shop/products/{sku}" ->
    "shop.products.update": the audit log's action names. A parameter that names the action
    ("POST /api/shop/orders/{order_id}/{transition}" with "approve_refund") gives its value,
    so each staff action has its own name: "shop.orders.approve_refund"."""
    params = params or {}
    segments = []
    for seg in template.split("/"):
        name = seg[1:-1] if seg.startswith("{") and seg.endswith("}") else None
        if name in ACTION_PARAMS and isinstance(params.get(name), str):
            segments.append(params[name][:32])
        elif seg and seg != "api" and name is None:
            segments.append(seg)
    parts = [re.sub(r"[^a-z0-9_]", "_", seg.lower()) for seg in segments]
    parts = [p if p[0].isalpha() else "x" + p for p in parts if p][-3:] or ["root"]
    if parts[-1] not in ACTION_WORDS and not _names_action(template, params):
        parts.append(VERBS.get(method, method.lower()))
    return ".".join(parts[-4:])


def _names_action(template: str, params: dict) -> bool:
    last = template.rstrip("/").rsplit("/", 1)[-1]
    return last[1:-1] in ACTION_PARAMS and isinstance(params.get(last[1:-1]), str)


def audit_after(body: bytes):
    """The request body as the change's "after", secrets masked; text when not JSON."""
    if not body:
        return None
    try:
        return _scrub(json.loads(body))
    except ValueError:
        return {"body": body[:200].decode("utf-8", "replace")}
