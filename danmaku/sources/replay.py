"""Replay a recorded room from JSONL, one message an object a line, with the original spacing.

Line shapes (`ts` unix seconds; `id` optional, becomes the dedup id):
  {"type": "comment", "user_id", "nickname", "text", "ts"}
  {"type": "gift", ..., "gift", "count", "value_fen"}   {"type": "like", ..., "count"}
  {"type": "enter", ...}   {"type": "follow", ...}   {"type": "purchase", ..., "sku", "quantity"}
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

from danmaku.messages import Comment, Enter, Follow, Gift, Like, Purchase, RoomMessage

MAX_LINE = 64 * 1024  # longer lines are skipped unread
TYPES: dict[str, type] = {
    "comment": Comment,
    "gift": Gift,
    "like": Like,
    "enter": Enter,
    "follow": Follow,
    "purchase": Purchase,
}
_TYPE_NAMES = {cls: name for name, cls in TYPES.items()}
_EXTRA: dict[str, dict[str, type]] = {  # per-type fields and their JSON types
    "comment": {"text": str},
    "gift": {"gift": str, "count": int, "value_fen": int},
    "like": {"count": int},
    "enter": {},
    "follow": {},
    "purchase": {"sku": str, "quantity": int},
}


def message_to_dict(msg: RoomMessage) -> dict[str, Any]:
    """The JSONL object for one message (room_id and source are left out)."""
    out: dict[str, Any] = {"type": _TYPE_NAMES[type(msg)]}
    for f in fields(msg):
        if f.name not in ("room_id", "source"):
            out["id" if f.name == "dedup_id" else f.name] = getattr(msg, f.name)
    return out


def message_from_dict(data: Any, room_id: str, source: str = "replay") -> RoomMessage:
    """Build a message from a JSONL object; ValueError says what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("line is not a JSON object")
    kind = data.get("type")
    if kind not in TYPES:
        raise ValueError(f"unknown type {kind!r}")
    user_id = data.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("user_id must be a non-empty string")
    ts = data.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
        raise ValueError("ts must be a number")
    nickname = data.get("nickname", "")
    if not isinstance(nickname, str):
        raise ValueError("nickname must be a string")
    kwargs: dict[str, Any] = {
        "room_id": room_id,
        "user_id": user_id,
        "nickname": nickname,
        "source": source,
        "ts": float(ts),
    }
    msg_id = data.get("id")
    if msg_id is not None:
        if not isinstance(msg_id, str):
            raise ValueError("id must be a string")
        kwargs["dedup_id"] = msg_id
    for name, typ in _EXTRA[kind].items():
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, typ):
            raise ValueError(f"{name} must be {typ.__name__}")
        kwargs[name] = value
    return TYPES[kind](**kwargs)


def write_jsonl(messages: Iterable[RoomMessage], path: str | Path) -> int:
    """Write messages as JSONL (UTF-8); returns how many lines were written."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for msg in messages:
            f.write(json.dumps(message_to_dict(msg), ensure_ascii=False) + "\n")
            n += 1
    return n


class ReplaySource:
    """Replays a JSONL recording into room `room_id`, keeping the original spacing between
    messages divided by `speed` (0 = as fast as possible). Gaps longer than `max_gap` seconds
    (after scaling) are shortened to it. Malformed lines are skipped and counted in
    `skipped`; the original `ts` values are kept."""

    name = "replay"

    def __init__(
        self,
        path: str | Path,
        room_id: str,
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        max_gap: float = 10.0,
    ) -> None:
        if speed < 0 or not math.isfinite(speed):
            raise ValueError("speed must be a finite number >= 0")
        self.path = Path(path)
        self.room_id = room_id
        self.speed = speed
        self.max_gap = max_gap
        self._clock = clock
        self._sleep = sleep
        self._closed = False
        self.emitted = 0
        self.skipped = 0

    def close(self) -> None:
        self._closed = True

    def _lines(self) -> Iterable[bytes | None]:
        """Raw lines; None for a line over MAX_LINE (skipped without holding it in memory)."""
        with open(self.path, "rb") as f:
            while True:
                line = f.readline(MAX_LINE)
                if not line:
                    return
                if len(line) == MAX_LINE and not line.endswith(b"\n"):
                    while True:  # drain the rest of the oversize line
                        rest = f.readline(MAX_LINE)
                        if not rest or rest.endswith(b"\n"):
                            break
                    yield None
                    continue
                yield line

    async def messages(self) -> AsyncIterator[RoomMessage]:
        last_ts: float | None = None
        due = self._clock()
        for raw in self._lines():
            if self._closed:
                return
            msg = self._parse(raw)
            if msg is None:
                continue
            if self.speed > 0 and last_ts is not None:
                gap = max(0.0, msg.ts - last_ts) / self.speed
                due += min(gap, self.max_gap)
                wait = due - self._clock()
                if wait > 0:
                    await self._sleep(wait)
                    if self._closed:
                        return
            elif self.emitted % 200 == 199:
                await self._sleep(0)  # as fast as possible, but let the loop breathe
            last_ts = msg.ts if last_ts is None else max(last_ts, msg.ts)
            self.emitted += 1
            yield msg

    def _parse(self, raw: bytes | None) -> RoomMessage | None:
        if raw is None:
            self.skipped += 1
            return None
        if not raw.strip():
            return None  # blank lines are not errors
        try:
            return message_from_dict(json.loads(raw.decode("utf-8")), self.room_id)
        except (UnicodeDecodeError, ValueError, RecursionError, TypeError):
            self.skipped += 1
            return None
