"""Douyin open-platform live-data push (直播间数据开放 / 数据推送), as a webhook ingest.

What the developer docs say (developer.open-douyin.com, "数据开放说明" under
interaction/develop/server/live-room-scope/data-open/data-open-desc, and the signing section
of the same family's callback pages, e.g. user-team-select/viewer-data-query-dev):

- The platform POSTs to the developer's URL, `content-type: application/json`, with headers
  `x-nonce-str` (random string), `x-timestamp` (ms), `x-roomid`, `x-msg-type`
  (`live_comment`, `live_gift`, `live_like`; `live_fansclub` is a fourth task type on the
  start-task API) and `x-signature`. The body is the JSON-serialised payload list.
- Signature: take the header parameters other than `x-signature` and `content-type`, sort by
  key, join as `k1=v1&k2=v2`, append the body string and then the secret (UTF-8, no
  separators), MD5 (16 bytes), base64. Docs' vector: headers x-nonce-str=123456,
  x-timestamp=456789, x-roomid=268, x-msg-type=user_group, body "abc123你好", secret "123abc"
  -> "GAkalGmhzqlUGQO/TgvMug==" (tested).
- Messages arrive within seconds, may repeat (deduplicate by `msg_id`), are not strictly
  ordered; comments and likes may be lost. A push answered slower than 2 s (3 s for gifts) or
  with a non-2xx status counts as failed, so parse quickly and answer.
- Payload fields (the client-side message API lists the same names): `msg_id`, `sec_openid`,
  `avatar_url`, `nickname`, `timestamp` (ms); comment `content`; gift `sec_gift_id`,
  `gift_num`, `gift_value` (total value; taken here as fen); like `like_num`; fan club
  `fansclub_reason_type`, `fansclub_level`.

MD5 is the platform's choice, not ours; the comparison is constant-time.

A valid signature alone proves only that the platform once sent these bytes. So a push is
also refused when its signed `x-timestamp` is outside the freshness window (a recorded push
replayed later) or its signed `x-roomid` is not the room it was posted to (a push for one
room replayed into another); message ids are then accepted once (`danmaku.seen`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from danmaku.dedup import Deduper
from danmaku.messages import Comment, Follow, Gift, Like, RoomMessage

MAX_BODY = 256 * 1024
MAX_PAYLOADS = 2_000
MSG_TYPES: tuple[str, ...] = ("live_comment", "live_gift", "live_like", "live_fansclub")
SIGNED_HEADERS: tuple[str, ...] = ("x-msg-type", "x-nonce-str", "x-roomid", "x-timestamp")
_MAX_COUNT = 1_000_000  # a single push never carries more gifts/likes than this
MAX_MSG_ID = 256
FRESHNESS = 300.0  # seconds a signed x-timestamp stays acceptable (configurable per server)
FUTURE_SKEW = 60.0  # seconds a platform clock may run ahead of ours


class BadPush(ValueError):
    """A push that cannot be accepted; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        for key, val in headers.items():
            if key.lower() == name:
                return val
    return value


def sign(headers: Mapping[str, str], body: bytes, secret: str) -> str:
    """The `x-signature` for `body` under `secret`, over whichever of SIGNED_HEADERS are set."""
    pairs = []
    for name in SIGNED_HEADERS:  # already in key order
        value = _header(headers, name)
        if value is not None:
            pairs.append(f"{name}={value}")
    raw = "&".join(pairs).encode("utf-8") + body + secret.encode("utf-8")
    return base64.b64encode(hashlib.md5(raw).digest()).decode("ascii")


def verify_signature(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """True when `x-signature` matches; False when it or any signed header is missing."""
    given = _header(headers, "x-signature")
    if not given or not secret:
        return False
    if any(_header(headers, name) is None for name in SIGNED_HEADERS):
        return False
    expected = sign(headers, body, secret)
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


def check_fresh(
    headers: Mapping[str, str], now: float, window: float = FRESHNESS, skew: float = FUTURE_SKEW
) -> None:
    """Raise BadPush("stale") unless the signed `x-timestamp` (ms) is within `window` seconds
    before `now`, or at most `skew` seconds after it."""
    raw = (_header(headers, "x-timestamp") or "").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 16:
        raise BadPush("stale", "推送时间戳 x-timestamp 缺失或不是毫秒数")
    age = now - int(raw) / 1000.0
    if age > window:
        raise BadPush("stale", f"推送已过期：签名于 {age:.0f} 秒前，超过 {window:.0f} 秒的有效期")
    if age < -skew:
        raise BadPush("stale", f"推送时间戳在 {-age:.0f} 秒之后，超过允许的 {skew:.0f} 秒时钟偏差")


def check_room(headers: Mapping[str, str], platform_room: str) -> None:
    """Raise BadPush("wrong_room") unless the signed `x-roomid` is `platform_room`."""
    given = (_header(headers, "x-roomid") or "").strip()
    if not hmac.compare_digest(given.encode("utf-8", "replace"), platform_room.encode("utf-8")):
        raise BadPush(
            "wrong_room", f"推送属于直播间 {given[:64]!r}，不是本直播间 {platform_room!r}"
        )


def verify_push(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    platform_room: str,
    now: float | None = None,
    window: float = FRESHNESS,
) -> None:
    """Everything a push must prove before its messages are looked at: the signature, then
    the signed time and room. Raises BadPush with reason bad_signature, stale or wrong_room."""
    if not verify_signature(headers, body, secret):
        raise BadPush("bad_signature", "签名不正确")
    check_fresh(headers, time.time() if now is None else now, window)
    check_room(headers, platform_room)


def parse_push(headers: Mapping[str, str], body: bytes, room_id: str) -> list[RoomMessage]:
    """The messages in one push, for our room `room_id`. Raises BadPush for anything off:
    oversize body, bad UTF-8 or JSON, a body that is not a list of objects, missing or
    mistyped fields, an unknown `x-msg-type`. Does not check the signature."""
    if len(body) > MAX_BODY:
        raise BadPush("too_large", f"body is {len(body)} bytes, limit {MAX_BODY}")
    msg_type = (_header(headers, "x-msg-type") or "").strip()
    if msg_type not in MSG_TYPES:
        raise BadPush("unknown_msg_type", msg_type[:40] or "missing x-msg-type")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadPush("bad_json", type(exc).__name__) from None
    if not isinstance(data, list):
        raise BadPush("bad_type", "body must be a JSON list of payloads")
    if len(data) > MAX_PAYLOADS:
        raise BadPush("too_large", f"{len(data)} payloads, limit {MAX_PAYLOADS}")
    out: list[RoomMessage] = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise BadPush("bad_type", f"payload {i} is not an object")
        out.append(_message(msg_type, item, i, room_id))
    return out


def _str(item: dict[str, Any], key: str, i: int, required: bool = True, limit: int = 4096) -> str:
    value = item.get(key)
    if value is None:
        if required:
            raise BadPush("missing_field", f"payload {i}: {key}")
        return ""
    if not isinstance(value, str):
        raise BadPush("bad_type", f"payload {i}: {key} must be a string")
    if required and not value:
        raise BadPush("missing_field", f"payload {i}: {key} is empty")
    return value[:limit]


def _int(item: dict[str, Any], key: str, i: int, required: bool = True) -> int:
    value = item.get(key)
    if value is None:
        if required:
            raise BadPush("missing_field", f"payload {i}: {key}")
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadPush("bad_type", f"payload {i}: {key} must be an integer")
    if value < 0:
        raise BadPush("bad_type", f"payload {i}: {key} must not be negative")
    return value


def _msg_id(item: dict[str, Any], i: int) -> str:
    """The id dedup keys on: refused when too long, never cut (a cut id could collide)."""
    value = _str(item, "msg_id", i, limit=MAX_MSG_ID + 1)
    if len(value) > MAX_MSG_ID:
        raise BadPush("bad_type", f"payload {i}: msg_id longer than {MAX_MSG_ID} characters")
    return value


def _message(msg_type: str, item: dict[str, Any], i: int, room_id: str) -> RoomMessage:
    common = {
        "room_id": room_id,
        "user_id": _str(item, "sec_openid", i, limit=256),
        "nickname": _str(item, "nickname", i, required=False, limit=64),
        "source": "douyin",
        "dedup_id": _msg_id(item, i),
        "ts": _int(item, "timestamp", i) / 1000.0,
    }
    if msg_type == "live_comment":
        return Comment(**common, text=_str(item, "content", i, required=False, limit=2048))
    if msg_type == "live_gift":
        count = _int(item, "gift_num", i)
        if count == 0 or count > _MAX_COUNT:
            raise BadPush("bad_type", f"payload {i}: gift_num out of range")
        return Gift(
            **common,
            gift=_str(item, "sec_gift_id", i, limit=256),
            count=count,
            value_fen=_int(item, "gift_value", i, required=False),
        )
    if msg_type == "live_like":
        count = _int(item, "like_num", i)
        if count > _MAX_COUNT:
            raise BadPush("bad_type", f"payload {i}: like_num out of range")
        return Like(**common, count=max(1, count))
    # live_fansclub: joined or levelled up; both tell the host a fan is committing
    _int(item, "fansclub_reason_type", i, required=False)
    _int(item, "fansclub_level", i, required=False)
    return Follow(**common)


class DouyinPushSource:
    """The webhook as a `Source`: the web layer hands each POST to `push()`; `messages()`
    yields the verified (signature, freshness, room), parsed, first-seen messages. The queue
    is bounded; when the consumer falls behind, new messages are dropped and counted (the
    webhook never waits). `platform_room` is the Douyin room id bound to our `room_id`."""

    name = "douyin"

    def __init__(
        self,
        room_id: str,
        secret: str,
        deduper: Deduper | None = None,
        max_queue: int = 10_000,
        platform_room: str | None = None,
        window: float = FRESHNESS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.room_id = room_id
        self.platform_room = platform_room or room_id
        self.window = window
        self._clock = clock
        self._secret = secret
        self.deduper = deduper or Deduper()
        self._queue: asyncio.Queue[RoomMessage | None] = asyncio.Queue(max_queue)
        self._closed = False
        self.counts = {"pushes": 0, "bad_signature": 0, "bad_push": 0, "accepted": 0}
        self.counts.update(stale=0, wrong_room=0)
        self.counts.update(duplicates=0, dropped=0)

    def push(self, headers: Mapping[str, str], body: bytes) -> int:
        """Verify and enqueue one push; returns how many new messages it carried.
        Raises BadPush("bad_signature"), BadPush("stale"), BadPush("wrong_room") or another
        BadPush."""
        self.counts["pushes"] += 1
        try:
            verify_push(headers, body, self._secret, self.platform_room, self._clock(), self.window)
        except BadPush as exc:
            self.counts[exc.reason] += 1
            raise
        try:
            messages = parse_push(headers, body, self.room_id)
        except BadPush:
            self.counts["bad_push"] += 1
            raise
        new = 0
        for msg in messages:
            if not self.deduper.first_time(msg.dedup_id):
                self.counts["duplicates"] += 1
                continue
            if self._closed or self._queue.full():
                self.counts["dropped"] += 1
                continue
            self._queue.put_nowait(msg)
            new += 1
        self.counts["accepted"] += new
        return new

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._queue.put_nowait(None)
            except asyncio.QueueFull:
                self._queue.get_nowait()
                self._queue.put_nowait(None)

    async def messages(self) -> AsyncIterator[RoomMessage]:
        while True:
            msg = await self._queue.get()
            if msg is None:
                return
            yield msg
