"""The bus between `yunlian serve` nodes: Redis pub/sub, JSON messages signed with a shared
secret (HMAC-SHA256). Nothing from Redis is unpickled, and a message whose signature does
not verify is dropped and counted.

Each node listens on its own channel (`yl:node:<id>`: calls for rooms it holds, results of
its own calls) and on the cluster channel (`yl:all`: room events, shop events). Redis going
away is survived: the listener reconnects with a bounded pause, and sends fail at once with
`BusDown` instead of waiting.

The codec turns the engine's plain data (room events, `Heard`, room messages, configs,
tuples) into JSON and back, for an allowlist of dataclasses only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from danmaku import messages as danmaku_messages
from streamer import events as room_events
from streamer.listener import Heard
from streamer.room import RoomConfig

log = logging.getLogger(__name__)

ALL = "yl:all"
SEND_TIMEOUT = 3.0  # seconds for one publish; Redis slower than this counts as down
RECONNECT_MIN, RECONNECT_MAX = 0.2, 2.0  # the listener's pause between reconnects
MAX_MESSAGE_BYTES = 1024 * 1024
MIN_SECRET_CHARS = 16
# a signed message older or newer than this is refused, and a call is served once: someone
# who can publish on Redis cannot replay a node's old command (node clocks may differ by
# less than this)
REPLAY_WINDOW = 120.0
SEEN_CALLS = 10_000


class BusDown(RuntimeError):
    """Redis cannot be reached: the message was not sent."""


def _registry() -> dict[str, type]:
    classes: dict[str, type] = {"RoomConfig": RoomConfig, "Heard": Heard}
    for module in (room_events, danmaku_messages):
        for name, obj in vars(module).items():
            if isinstance(obj, type) and dataclasses.is_dataclass(obj):
                classes[name] = obj
    return classes


CLASSES = _registry()


def encode(value):
    """Plain data for JSON: allowlisted dataclasses and tuples are tagged."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if CLASSES.get(name) is not type(value):
            raise TypeError(f"{name} cannot cross the node bus")
        return {
            "__dc__": name,
            "f": {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)},
        }
    if isinstance(value, tuple):
        return {"__t__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"{type(value).__name__} cannot cross the node bus")


def decode(value):
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "__t__" in value:
            return tuple(decode(v) for v in value["__t__"])
        if "__dc__" in value:
            cls = CLASSES.get(value["__dc__"])
            if cls is None:
                raise ValueError(f"unknown type {value['__dc__']!r} on the node bus")
            names = {f.name for f in dataclasses.fields(cls) if f.init}
            fields = {k: decode(v) for k, v in (value.get("f") or {}).items() if k in names}
            return cls(**fields)
        return {k: decode(v) for k, v in value.items()}
    return value


class NodeBus:
    """One node's connection to the others."""

    def __init__(
        self, url: str, node_id: str, secret: str, on_message: Callable[[dict], None]
    ) -> None:
        if not secret or len(secret) < MIN_SECRET_CHARS:
            raise ValueError(
                f"the node bus needs a shared secret of at least {MIN_SECRET_CHARS} characters "
                "(YUNLIAN_NODE_SECRET)"
            )
        self.node_id = node_id
        self.channel = f"yl:node:{node_id}"
        self._key = secret.encode()
        self._on_message = on_message
        # imported here: a server on one machine never needs the Redis client
        import redis.asyncio as aioredis
        from redis.exceptions import RedisError

        self._errors = (RedisError, OSError, TimeoutError)
        self.redis = aioredis.Redis.from_url(
            url,
            socket_timeout=SEND_TIMEOUT,
            socket_connect_timeout=SEND_TIMEOUT,
            retry_on_timeout=False,
        )
        self.connected = False
        self.stats = {"sent": 0, "received": 0, "bad_signature": 0, "send_failed": 0}
        self.reconnects = 0
        self._seen: OrderedDict[tuple, None] = OrderedDict()
        self._task: asyncio.Task | None = None
        self._up = asyncio.Event()

    # --- signing ------------------------------------------------------------------
    def _sign(self, body: bytes) -> str:
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()

    def seal(self, message: dict) -> bytes:
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        return json.dumps({"b": body, "s": self._sign(body.encode())}).encode()

    def open(self, raw: bytes) -> dict | None:
        """The message inside a sealed envelope; None (counted) when it is not ours."""
        try:
            if len(raw) > MAX_MESSAGE_BYTES:
                raise ValueError("too large")
            envelope = json.loads(raw)
            body = envelope["b"].encode()
            if not hmac.compare_digest(self._sign(body), str(envelope["s"])):
                raise ValueError("bad signature")
            message = json.loads(body)
            if not isinstance(message, dict):
                raise ValueError("not an object")
            ts = message.get("ts")
            if not isinstance(ts, int | float) or abs(time.time() - ts) > REPLAY_WINDOW:
                raise ValueError("stale or undated (a replay?)")
            key = (str(message.get("from")), message.get("t"), message.get("id"), ts)
            if message.get("t") == "call":
                if key in self._seen:
                    raise ValueError("a call seen before (a replay)")
                self._seen[key] = None
                while len(self._seen) > SEEN_CALLS:
                    self._seen.popitem(last=False)
        except Exception as exc:  # anything hostile (deep nesting too): dropped, counted
            self.stats["bad_signature"] += 1
            log.warning("node bus: message dropped (%s)", str(exc)[:200])
            return None
        return message

    # --- sending --------------------------------------------------------------------
    async def send(self, node_id: str | None, message: dict) -> None:
        """To one node's channel, or to all (node_id None). Raises BusDown."""
        channel = ALL if node_id is None else f"yl:node:{node_id}"
        payload = self.seal({**message, "from": self.node_id, "ts": time.time()})
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await self.redis.publish(channel, payload)
        except self._errors as exc:
            self.stats["send_failed"] += 1
            raise BusDown(f"node bus (Redis) unavailable: {type(exc).__name__}") from None
        self.stats["sent"] += 1

    # --- listening ------------------------------------------------------------------
    async def start(self, wait: float = 10.0) -> None:
        self._task = asyncio.create_task(self._listen(), name="node-bus")
        try:
            async with asyncio.timeout(wait):
                await self._up.wait()
        except TimeoutError:
            log.error("node bus: Redis not reachable within %.0f s; retrying meanwhile", wait)

    async def _listen(self) -> None:
        pause = RECONNECT_MIN
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel, ALL)
                if not self.connected:
                    log.info("node bus: subscribed on %s as %s", ALL, self.channel)
                self.connected = True
                self._up.set()
                pause = RECONNECT_MIN
                while True:
                    item = await pubsub.get_message(timeout=1.0)
                    if item is None or item.get("type") != "message":
                        continue
                    message = self.open(item["data"])
                    if message is None or message.get("from") == self.node_id:
                        continue
                    self.stats["received"] += 1
                    try:
                        self._on_message(message)
                    except Exception:
                        log.exception("node bus: message handler failed")
            except asyncio.CancelledError:
                raise
            except self._errors as exc:
                if self.connected:
                    log.error("node bus: lost Redis (%s); reconnecting", type(exc).__name__)
                self.connected = False
                self.reconnects += 1
            finally:
                try:
                    async with asyncio.timeout(1.0):
                        await pubsub.aclose()
                except Exception:
                    pass
            await asyncio.sleep(pause)
            pause = min(RECONNECT_MAX, pause * 2)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        try:
            async with asyncio.timeout(2.0):
                await self.redis.aclose()
        except Exception:
            pass
