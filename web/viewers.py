"""Who an anonymous viewer is, and how much of the server one viewer may use.

A viewer's identity is issued by the server, never chosen by the client: a signed cookie
(`yl_viewer`) for HTTP chat, the socket's own id (or that cookie) for the events WebSocket.
Moderation's per-viewer rate limits key on it, so nobody can get another viewer muted by
posting under their `user_id`. Without a valid cookie, HTTP chat counts against the
caller's address, and the cookies one address may obtain are themselves rate-limited, so
fresh identities cannot be minted faster than the per-viewer limits allow.

Event sockets are capped per room and per address, and each socket has a message budget:
past it the socket's messages are read later (TCP holds the sender back), and HTTP chat
over budget waits a second for its 429, so a flood costs timers, not the request path.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from web.security import client_ip

VIEWER_COOKIE = "yl_viewer"
COOKIE_MAX_AGE = 30 * 24 * 3600
MAX_TRACKED_ADDRESSES = 50_000  # per-address buckets kept (LRU)

# close codes of the events WebSocket (4000 + the HTTP status they stand for)
CLOSE_ROOM_FULL = 4503
CLOSE_TOO_MANY_FROM_ADDRESS = 4429
REASON_ROOM_FULL = "直播间连接已满，请稍后再试 (room is full)"
REASON_TOO_MANY = "同一网络的连接太多了 (too many connections from this address)"
MAX_PACE = 5.0  # longest a socket's next message waits for its budget
TARPIT = 1.0  # seconds an HTTP chat post over its budget waits for its 429
MAX_TARPITTED = 64  # posts held per key; past it they get their 429 at once
CHAT_PATH = re.compile(r"^/api/rooms/[^/]+/(?:danmaku|questions)$")


@dataclass(frozen=True)
class ViewerLimits:
    """The viewer's budget. `enabled=False` restores the old, unlimited behaviour (the
    flood benchmark's baseline); identity stays server-issued either way."""

    enabled: bool = True
    ws_per_room: int = 2000
    ws_per_address: int = 16
    ws_rate: float = 5.0  # chat messages a second per socket, sustained
    ws_burst: float = 20.0
    chat_rate: float = 2.0  # HTTP chat posts a second per viewer (or address without one)
    chat_burst: float = 6.0
    new_ids_rate: float = 0.2  # viewer cookies one address may obtain a second
    new_ids_burst: float = 30.0


class Bucket:
    """Token bucket: `rate` tokens a second, at most `burst` saved."""

    __slots__ = ("tokens", "last")

    def __init__(self, burst: float, now: float) -> None:
        self.tokens = burst
        self.last = now

    def take(self, rate: float, burst: float, now: float) -> bool:
        self.tokens = min(burst, self.tokens + max(now - self.last, 0.0) * rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class ViewerIds:
    """Signed viewer ids: `v-<12 hex>.<mac>`. The key lives for the process, so a restart
    only means viewers get new ids (their rate limits start afresh)."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def _mac(self, vid: str) -> str:
        return hmac.new(self._key, vid.encode(), hashlib.sha256).hexdigest()[:24]

    def issue(self) -> tuple[str, str]:
        """A new (viewer id, cookie value)."""
        vid = "v-" + secrets.token_hex(6)
        return vid, f"{vid}.{self._mac(vid)}"

    def verify(self, cookie: str | None) -> str | None:
        """The viewer id a cookie carries, or None when it is absent, malformed or forged."""
        if not cookie or len(cookie) > 64 or "." not in cookie:
            return None
        vid, _, mac = cookie.partition(".")
        if not vid.startswith("v-") or not hmac.compare_digest(mac, self._mac(vid)):
            return None
        return vid


class ViewerGuard:
    """Identity for anonymous chat and the budgets of the events WebSocket. Used from the
    event loop only."""

    def __init__(self, limits: ViewerLimits | None = None, clock=time.monotonic) -> None:
        self.limits = limits or ViewerLimits()
        self.ids = ViewerIds()
        self._clock = clock
        self._minting: OrderedDict[str, Bucket] = OrderedDict()
        self._sockets_by_room: dict[str, int] = {}
        self._sockets_by_address: dict[str, int] = {}
        self._chat: OrderedDict[str, Bucket] = OrderedDict()  # HTTP chat budget per key
        self._held: dict[str, int] = {}  # HTTP chat posts waiting for their 429, per key
        self.refused = {"room_full": 0, "address_full": 0, "chat_posts": 0, "ids_withheld": 0}

    # --- identity ---------------------------------------------------------------------
    def chat_identity(self, cookie: str | None, address: str) -> tuple[str, str | None]:
        """(moderation key, a new cookie to set or None). A valid cookie is the viewer;
        without one the caller is their address, and gets a cookie if the address may
        still obtain one."""
        vid = self.ids.verify(cookie)
        if vid is not None:
            return vid, None
        key = f"ip:{address or 'unknown'}"
        if not self.limits.enabled:
            return key, self.ids.issue()[1]
        bucket = self._minting.get(address)
        now = self._clock()
        if bucket is None:
            bucket = self._minting[address] = Bucket(self.limits.new_ids_burst, now)
            if len(self._minting) > MAX_TRACKED_ADDRESSES:
                self._minting.popitem(last=False)
        else:
            self._minting.move_to_end(address)
        if not bucket.take(self.limits.new_ids_rate, self.limits.new_ids_burst, now):
            self.refused["ids_withheld"] += 1
            return key, None
        return key, self.ids.issue()[1]

    def chat_allowed(self, cookie: str | None, address: str) -> tuple[bool, str]:
        """(within budget, key): HTTP chat posts a viewer (or an address without a viewer
        cookie) may make, checked before the request costs any routing or parsing."""
        vid = self.ids.verify(cookie)
        key = vid or f"ip:{address or 'unknown'}"
        if not self.limits.enabled:
            return True, key
        now = self._clock()
        bucket = self._chat.get(key)
        if bucket is None:
            bucket = self._chat[key] = Bucket(self.limits.chat_burst, now)
            if len(self._chat) > MAX_TRACKED_ADDRESSES:
                self._chat.popitem(last=False)
        else:
            self._chat.move_to_end(key)
        return bucket.take(self.limits.chat_rate, self.limits.chat_burst, now), key

    async def tarpit(self, key: str) -> bool:
        """Hold a refused caller for `TARPIT` seconds before its refusal, so one in a loop
        makes one attempt a second; False (no wait) once `MAX_TARPITTED` are held."""
        held = self._held
        if held.get(key, 0) >= MAX_TARPITTED:
            return False
        held[key] = held.get(key, 0) + 1
        try:
            await asyncio.sleep(TARPIT)
        finally:
            held[key] -= 1
            if not held[key]:
                del held[key]
        return True

    # --- event sockets ----------------------------------------------------------------
    def open_socket(self, room_id: str, address: str) -> tuple[int, str] | None:
        """Take a socket slot; returns (close code, reason) when the socket must be refused."""
        lim = self.limits
        if lim.enabled:
            if self._sockets_by_room.get(room_id, 0) >= lim.ws_per_room:
                self.refused["room_full"] += 1
                return CLOSE_ROOM_FULL, REASON_ROOM_FULL
            if self._sockets_by_address.get(address, 0) >= lim.ws_per_address:
                self.refused["address_full"] += 1
                return CLOSE_TOO_MANY_FROM_ADDRESS, REASON_TOO_MANY
        self._sockets_by_room[room_id] = self._sockets_by_room.get(room_id, 0) + 1
        self._sockets_by_address[address] = self._sockets_by_address.get(address, 0) + 1
        return None

    def close_socket(self, room_id: str, address: str) -> None:
        for table, key in ((self._sockets_by_room, room_id), (self._sockets_by_address, address)):
            left = table.get(key, 0) - 1
            if left > 0:
                table[key] = left
            else:
                table.pop(key, None)

    def socket_budget(self) -> SocketBudget:
        return SocketBudget(self.limits, self._clock)

    def info(self) -> dict:
        return {
            "sockets": sum(self._sockets_by_room.values()),
            "addresses": len(self._sockets_by_address),
            "refused": dict(self.refused),
            "limits_enabled": self.limits.enabled,
        }


class SocketBudget:
    """One socket's message budget. Past it the socket's next message is simply read
    later: the server stops reading, TCP pushes back on the sender, and the excess costs
    the server nothing (uvicorn reads no further frames until the app takes one)."""

    def __init__(self, limits: ViewerLimits, clock=time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._bucket = Bucket(limits.ws_burst, clock())
        self.paced = 0  # messages that had to wait

    def delay(self) -> float:
        """Seconds to wait before reading the next message (0 within budget); takes the
        token that message will use."""
        lim = self.limits
        if not lim.enabled:
            return 0.0
        now = self._clock()
        if self._bucket.take(lim.ws_rate, lim.ws_burst, now):
            return 0.0
        self.paced += 1
        wait = (1.0 - self._bucket.tokens) / lim.ws_rate
        self._bucket.tokens -= 1.0  # spent in advance: the wait pays it back
        return min(wait, MAX_PACE)


class ChatGate:
    """Refuses HTTP chat posts over their budget before routing, parsing or moderation.

    The 429 comes after `TARPIT` seconds (see `ViewerGuard.tarpit`): a client posting in
    a loop gets one answer a second per connection, so a flood costs the server a timer
    per connection instead of the whole request path per post. Past `MAX_TARPITTED` held
    posts the 429 comes at once and closes the connection."""

    def __init__(self, app, guard: ViewerGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope, receive, send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not CHAT_PATH.match(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        address = client_ip(HTTPConnection(scope))  # the proxy's client when it is trusted
        ok, key = self.guard.chat_allowed(_cookie(scope, VIEWER_COOKIE), address)
        if ok:
            await self.app(scope, receive, send)
            return
        self.guard.refused["chat_posts"] += 1
        close = not await self.guard.tarpit(key)
        await _too_fast(send, close)


def _cookie(scope, name: str) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    return v
    return None


async def _too_fast(send, close: bool) -> None:
    body = json.dumps(
        {"detail": "发言太快了，请稍后再试", "reason": "rate_limited"}, ensure_ascii=False
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        (b"retry-after", b"1"),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
