"""`NodeEngine`: the `Engine` interface over several `yunlian serve` nodes.

Each node runs its own rooms in a local engine (`Engine`, or `WorkerEngine` with room
workers). Which node runs a room is its lease row in PostgreSQL (`streamer.leases`); calls
for a room held elsewhere (WHEP offers, danmaku, commands) and every room event cross the
Redis node bus (`streamer.node_bus`), so a viewer on node B watches and chats with a room
on node A.

Failover is two small loops that never depend on each other or on earlier errors:
- renew, every ttl/3: extend this node's leases and save each room's resume position; a
  lease found taken over means the room runs elsewhere now, and the local copy stops;
- scan, every second: refresh the cluster's room list and take over expired leases (up to
  the free room slots), starting each taken room from its saved position. A room this node
  cannot start is handed back (its lease left expired) for the next scan, here or elsewhere.
After the database was unreachable, a node takes over nothing for two ttls, so holders
renew their leases before anyone takes rooms that only look dead because the database was.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import time
from collections.abc import Callable

from streamer.engine_base import (
    ENGINE_ERRORS,
    GLOBAL_SHOP_EVENTS,
    EngineBase,
    EngineError,
    NotConfigured,
    RoomExists,
    RoomNotFound,
    RoomUnavailable,
    check_comment,
    check_offer,
    check_simulation,
)
from streamer.events import RoomEvent, RoomStarted, RoomStopped
from streamer.janus import JanusError
from streamer.leases import Lease, Leases
from streamer.listener import Heard
from streamer.node_bus import BusDown, NodeBus, decode, encode
from streamer.room import RoomConfig

log = logging.getLogger(__name__)

CALL_TIMEOUT = 10.0  # a remote node that does not answer within this is unavailable
SCAN_EVERY = 1.0
STEP_TIMEOUT = 8.0  # one scan or one renewal, whatever the database does
ROOM_START_TIMEOUT = 60.0
OUTBOX = 2000  # room events waiting for the bus; older ones are dropped past this
# what another node may ask of this one, for a room this node holds
REMOTE_OPS = frozenset(
    {
        "whep_offer",
        "whep_delete",
        "danmaku",
        "hear_all",
        "simulate_viewers",
        "room_stats",
        "room_info",
        "banned_words",
        "ban_word",
        "unban_word",
        "stop_room",
        "janus_where",
    }
)
JANUS_TIMEOUT = 5.0  # GET /api/rooms/{id}/janus: the holder answers within this or 503


SECRET_KEYS = ("api_key",)  # never written to the lease table: each node has its own


def config_data(config: RoomConfig) -> dict:
    """A room's config for its lease row: no resume position, no writer secrets."""
    data = dataclasses.asdict(config)
    data.pop("resume", None)
    if isinstance(data.get("writer"), dict):
        data["writer"] = {k: v for k, v in data["writer"].items() if k not in SECRET_KEYS}
    return data


def with_secrets(config: RoomConfig, writers: dict[str, dict]) -> RoomConfig:
    """Put back a writer's secrets from this node's own configured backends (the one with
    the same backend, URL and model)."""
    writer = config.writer
    if not writer or any(k in writer for k in SECRET_KEYS):
        return config
    same = ("backend", "base_url", "model", "model_dir")
    for conf in writers.values():
        if all(conf.get(k) == writer.get(k) for k in same):
            return dataclasses.replace(config, writer={**writer, **conf})
    return config


def config_from(data: dict, resume: dict | None = None) -> RoomConfig:
    names = {f.name for f in dataclasses.fields(RoomConfig)}
    return RoomConfig(
        **{k: v for k, v in data.items() if k in names and k != "resume"}, resume=resume
    )


class NodeEngine(EngineBase):
    """Rooms on this node (through `local`) and on every other node sharing the database."""

    def __init__(
        self,
        local,
        db_url: str,
        redis_url: str,
        node_id: str,
        secret: str,
        lease_ttl: float = 10.0,
        store=None,
        writers: dict[str, dict] | None = None,
        **limits,
    ) -> None:
        super().__init__(**limits)
        self.local = local
        self.writers = dict(writers or {})  # this node's script backends, secrets included
        self.node_id = node_id
        self.store = store
        self.leases = Leases(db_url, node_id, lease_ttl)
        self.ttl = self.leases.ttl
        self.bus = NodeBus(redis_url, node_id, secret, self._on_bus)
        self.rooms: dict[str, RoomConfig] = {}  # every live room of the cluster
        self.holders: dict[str, str] = {}  # room id -> node id
        self.held: dict[str, int] = {}  # rooms this node holds -> lease epoch
        self.adopting: set[str] = set()  # taken over, still starting here
        self.moving: set[str] = set()  # rooms whose lease expired, not yet taken over
        self.takeovers: list[dict] = []  # the last 100
        self.takeover_count = 0
        # called with a room's id once a taken-over room runs here (the web layer's hook:
        # its HLS push and saved outputs)
        self.on_adopted: Callable[[str], None] | None = None
        self._releases: dict[str, int] = {}  # stopped rooms whose lease delete failed
        self._pending: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._outbox: asyncio.Queue | None = None
        self._tasks: list[asyncio.Task] = []
        self._jobs: set[asyncio.Task] = set()
        self._closing = False
        self.db_ok = False
        self._db_ok_since: float | None = None
        self.bus_events_dropped = 0
        local_publish = local.publish

        def publish(room_id: str, event: RoomEvent) -> None:  # the local rooms' events
            local_publish(room_id, event)
            self._local_event(room_id, event)

        local.publish = publish

    # --- life ----------------------------------------------------------------------
    async def start(self) -> None:
        from scripts_gen import make_writer

        # the first room's writer loads its dictionaries (~2 s): done now, so a room taken
        # over from a dead node does not wait for it (room workers do it themselves)
        if not hasattr(self.local, "workers"):
            make_writer(None)
        self._outbox = asyncio.Queue(OUTBOX)
        await self.bus.start()
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                await self._refresh()
            self._db_ok()
            # a node that starts takes expired leases at once: the grace below is for
            # holders that lost the database, and this node held nothing
            self._db_ok_since = time.monotonic() - 2 * self.ttl
        except Exception as exc:
            self._db_failed("first room list", exc)
        self._tasks = [
            asyncio.create_task(self._every(SCAN_EVERY, self._scan, "scan"), name="lease-scan"),
            asyncio.create_task(self._every(self.ttl / 3, self._renew, "renew"), name="renew"),
            asyncio.create_task(self._send_events(), name="node-events"),
        ]
        log.info("node %s: up (lease ttl %.0f s)", self.node_id, self.ttl)

    async def close(self) -> None:
        """Hand this node's rooms over: leases left expired (another node takes them at its
        next scan), then the local rooms stop."""
        self._closing = True
        for task in [*self._tasks, *self._jobs]:
            task.cancel()
        for room_id, epoch in list(self.held.items()):
            try:
                async with asyncio.timeout(3.0):
                    await self.leases.release(room_id, epoch, expire=True)
                log.info("node %s: room %s handed over", self.node_id, room_id)
            except Exception as exc:
                log.warning("room %s: lease not handed over (%s)", room_id, exc)
        self.held.clear()
        await self.local.close()
        await self.bus.close()
        await self.leases.close()

    async def _every(self, period: float, step, name: str) -> None:
        """Run `step` every `period` seconds, each run bounded, whatever the last one did."""
        while not self._closing:
            began = time.monotonic()
            try:
                async with asyncio.timeout(STEP_TIMEOUT):
                    touched = await step()
                if touched is not False:  # False: the step did not need the database
                    self._db_ok()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._db_failed(name, exc)
            await asyncio.sleep(max(0.05, period - (time.monotonic() - began)))

    def _db_ok(self) -> None:
        if not self.db_ok:
            self._db_ok_since = time.monotonic()
            log.info("node %s: database reachable", self.node_id)
        self.db_ok = True

    def _db_failed(self, what: str, exc: BaseException) -> None:
        if self.db_ok:
            log.error("node %s: %s failed: %s: %s", self.node_id, what, type(exc).__name__, exc)
        self.db_ok = False
        self._db_ok_since = None

    # --- leases ----------------------------------------------------------------------
    def _positions(self) -> dict[str, dict]:
        if hasattr(self.local, "positions"):  # a WorkerEngine: reported by its workers
            return {rid: p for rid, p in self.local.positions.items() if rid in self.held}
        out = {}
        for rid, room in list(getattr(self.local, "rooms", {}).items()):
            if rid in self.held:
                try:
                    out[rid] = room.director.position() | {
                        "banned": room.listener.moderator.banned_words()
                    }
                except Exception:
                    log.exception("room %s: position not read", rid)
        return out

    async def _renew(self) -> bool:
        released = bool(self._releases)
        for room_id, epoch in list(self._releases.items()):
            await self.leases.release(room_id, epoch)
            self._releases.pop(room_id, None)
        if not self.held:
            return released
        held = dict(self.held)
        kept = await self.leases.renew(held, self._positions())
        for room_id in set(held) - kept:
            if self.held.get(room_id) != held[room_id]:
                continue  # stopped or re-taken meanwhile
            log.error(
                "node %s: lease on room %s lost (taken over elsewhere): stopping it here",
                self.node_id,
                room_id,
            )
            self.held.pop(room_id, None)
            self.holders.pop(room_id, None)
            self._spawn(self._stop_local(room_id), f"fence-{room_id}")
        return True

    async def _stop_local(self, room_id: str) -> None:
        try:
            async with asyncio.timeout(ROOM_START_TIMEOUT):
                await self.local.stop_room(room_id)
        except Exception as exc:
            log.warning("room %s: local stop failed: %s", room_id, exc)

    async def _refresh(self) -> None:
        leases = await self.leases.rooms()
        rooms, holders = {}, {}
        self.moving = {lease.room_id for lease in leases if lease.expired}
        for lease in leases:
            # an expired lease's room is moving: calls still go to its last node, which
            # answers if it was only late to renew
            holders[lease.room_id] = lease.node_id
            rooms[lease.room_id] = self.rooms.get(lease.room_id) or config_from(lease.config)
        for rid in self.held:  # ours, whatever the last read said
            if rid in self.rooms:
                rooms[rid], holders[rid] = self.rooms[rid], self.node_id
        self.rooms, self.holders = rooms, holders

    async def _scan(self) -> None:
        await self._refresh()
        if self._closing or self._db_ok_since is None:
            return
        if time.monotonic() - self._db_ok_since < 2 * self.ttl:
            return  # the database just came back: holders renew first
        free = self.local.max_rooms - len(self.local.configs()) - len(self.adopting)
        taken = await self.leases.take_expired(free)
        for lease in taken:
            if lease.room_id in self.held and lease.room_id in self.local.configs():
                # our own room, which only looked dead (renewals late): keep it running
                log.warning("node %s: room %s retaken by its own node", self.node_id, lease.room_id)
                self.held[lease.room_id] = lease.epoch
                continue
            log.info(
                "node %s: took over room %s (epoch %d, was expired)",
                self.node_id,
                lease.room_id,
                lease.epoch,
            )
            self.held[lease.room_id] = lease.epoch
            self.holders[lease.room_id] = self.node_id
            self.adopting.add(lease.room_id)
            self._spawn(self._adopt(lease, time.time()), f"adopt-{lease.room_id}")

    async def _adopt(self, lease: Lease, took_at: float) -> None:
        """Start a taken-over room here from its saved position (bounded); on failure give
        the lease back for the next scan."""
        room_id = lease.room_id
        resume = dict(lease.resume or {})
        banned = list(resume.pop("banned", ()) or ())
        config = with_secrets(config_from(lease.config, resume=resume), self.writers)
        try:
            if self.store is not None and not resume.get("sku"):
                from streamer.shop_feed import pinned_sku

                try:
                    async with asyncio.timeout(5.0):
                        pinned = await pinned_sku(self.store, room_id)
                except Exception as exc:
                    log.warning("room %s: pinned product not read (%s)", room_id, exc)
                    pinned = None
                if pinned:
                    config = dataclasses.replace(config, resume={**resume, "sku": pinned})
            log.info("node %s: starting taken-over room %s", self.node_id, room_id)
            async with asyncio.timeout(ROOM_START_TIMEOUT):
                if room_id in self.local.configs():  # a stale copy (lost, then retaken)
                    await self.local.stop_room(room_id)
                await self.local.start_room(config)
                for word in banned:
                    await self.local.ban_word(room_id, word)
        except Exception as exc:
            log.error(
                "node %s: room %s did not start here (%s): handing it back",
                self.node_id,
                room_id,
                exc,
            )
            self.adopting.discard(room_id)
            epoch = self.held.pop(room_id, None)
            self.holders.pop(room_id, None)
            try:
                async with asyncio.timeout(STEP_TIMEOUT):
                    await self.leases.release(room_id, epoch, expire=True)
            except Exception as exc2:
                log.error(
                    "room %s: lease not handed back (%s); it expires by itself", room_id, exc2
                )
            return
        self.adopting.discard(room_id)
        self.rooms[room_id] = config
        seconds = round(time.time() - took_at, 2)
        self.takeover_count += 1
        self.takeovers = [
            *self.takeovers[-99:],
            {"room_id": room_id, "epoch": lease.epoch, "took_at": took_at, "start_s": seconds},
        ]
        log.info(
            "node %s: room %s running here %.1f s after takeover", self.node_id, room_id, seconds
        )
        if self.on_adopted is not None:
            try:
                self.on_adopted(room_id)
            except Exception:
                log.exception("room %s: after-takeover hook failed", room_id)

    def _spawn(self, coro, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    # --- rooms ---------------------------------------------------------------------------
    def configs(self) -> dict[str, RoomConfig]:
        return self.rooms

    @property
    def max_local_rooms(self) -> int:
        return self.local.max_rooms

    async def start_room(self, config: RoomConfig) -> dict:
        """Start a room on this node; refused when any node holds a live lease on it."""
        self.local.check_start(config)
        if config.room_id in self.rooms:
            raise RoomExists(f"room {config.room_id} is already live")
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                lease = await self.leases.acquire(config.room_id, config_data(config))
        except TimeoutError:
            raise RoomUnavailable("数据库暂不可用，请稍后再开播") from None
        except Exception as exc:
            log.error("room %s: lease not written: %s", config.room_id, exc)
            raise RoomUnavailable("数据库暂不可用，请稍后再开播") from None
        if lease is None:
            raise RoomExists(f"room {config.room_id} is already live on another node")
        self.held[config.room_id] = lease.epoch
        self.holders[config.room_id] = self.node_id
        self.rooms[config.room_id] = config
        try:
            info = await self.local.start_room(config)
        except BaseException:
            self.held.pop(config.room_id, None)
            self.holders.pop(config.room_id, None)
            self.rooms.pop(config.room_id, None)
            self._releases[config.room_id] = lease.epoch
            raise
        log.info(
            "node %s: room %s started here (epoch %d)", self.node_id, config.room_id, lease.epoch
        )
        return info

    async def stop_room(self, room_id: str) -> None:
        if room_id in self.held:
            epoch = self.held.pop(room_id)
            try:
                await self.local.stop_room(room_id)
            finally:
                self.rooms.pop(room_id, None)
                self.holders.pop(room_id, None)
                try:
                    async with asyncio.timeout(STEP_TIMEOUT):
                        await self.leases.release(room_id, epoch)
                except Exception as exc:  # retried by the renew loop: it must not come back
                    log.error("room %s: lease not released yet (%s)", room_id, exc)
                    self._releases[room_id] = epoch
            return
        await self._room_call(room_id, "stop_room")
        self.rooms.pop(room_id, None)
        self.holders.pop(room_id, None)

    def holds_room(self, room_id: str) -> bool:
        """Whether this node runs `room_id` now (holds its lease): what records its session."""
        return room_id in self.held and room_id not in self.adopting

    def list_rooms(self) -> list[dict]:
        local = {r["room_id"]: r for r in self.local.list_rooms()}
        out = []
        for rid, config in self.rooms.items():
            node = self.holders.get(rid)
            info = local.get(rid) or {
                "room_id": rid,
                "title": config.title,
                "persona": config.persona,
                "width": config.width,
                "height": config.height,
                "live": node is not None and rid not in self.adopting and rid not in self.moving,
                "viewers": 0,
            }
            out.append(info | {"node": node})
        return out

    def metrics(self) -> dict:
        out = self.local.metrics()
        out["node"] = {
            "id": self.node_id,
            "held": sorted(self.held),
            "adopting": sorted(self.adopting),
            "moving": sorted(self.moving),
            "cluster_rooms": {rid: self.holders.get(rid) for rid in sorted(self.rooms)},
            "database": self.db_ok,
            "bus": {
                "connected": self.bus.connected,
                "reconnects": self.bus.reconnects,
                **self.bus.stats,
                "events_dropped": self.bus_events_dropped,
            },
            "takeovers": list(self.takeovers[-10:]),
            "takeovers_total": self.takeover_count,
        }
        return out

    # --- routing ---------------------------------------------------------------------------
    async def _holder(self, room_id: str) -> str:
        node = self.holders.get(room_id)
        if node is not None:
            return node
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                lease = await self.leases.holder(room_id)
        except Exception:
            raise RoomUnavailable("房间位置暂时无法确认，请稍后重试") from None
        if lease is None:
            raise RoomNotFound(f"no live room {room_id!r}")
        self.holders[room_id] = lease.node_id
        self.rooms.setdefault(room_id, config_from(lease.config))
        return lease.node_id

    async def _room_call(self, room_id: str, op: str, *args, timeout: float = CALL_TIMEOUT):
        if room_id in self.held:
            if room_id in self.adopting:
                raise RoomUnavailable("房间正在本节点恢复，请稍后重试")
            return await getattr(self.local, op)(room_id, *args)
        node = await self._holder(room_id)
        if node == self.node_id:
            raise RoomUnavailable("房间正在恢复，请稍后重试")
        call_id = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[call_id] = fut
        try:
            await self.bus.send(
                node, {"t": "call", "id": call_id, "op": op, "room": room_id, "args": encode(args)}
            )
            async with asyncio.timeout(timeout):
                reply = await fut
        except BusDown:
            raise RoomUnavailable("节点总线暂不可用，请稍后重试") from None
        except TimeoutError:
            self.holders.pop(room_id, None)  # ask the database again next time
            raise RoomUnavailable(f"房间所在节点 {timeout:g} 秒内未响应，请稍后重试") from None
        finally:
            self._pending.pop(call_id, None)
        if reply.get("error") is not None:
            raise ENGINE_ERRORS.get(reply.get("error_type"), EngineError)(str(reply["error"]))
        return decode(reply.get("value"))

    def _on_bus(self, message: dict) -> None:
        kind = message.get("t")
        if kind == "event":
            room_id = message.get("room")
            if not isinstance(room_id, str) or room_id in self.held:
                return
            try:
                event = decode(message.get("ev"))
            except Exception as exc:
                log.warning("node bus: bad event dropped (%s)", exc)
                return
            if not isinstance(event, RoomEvent):
                return
            sender, known = str(message.get("from")), self.holders.get(room_id)
            if known not in (None, sender) and not isinstance(event, RoomStarted):
                return  # from a node that lost the room (a fenced copy stopping): stale
            if isinstance(event, RoomStopped):
                self.rooms.pop(room_id, None)
                self.holders.pop(room_id, None)
            elif isinstance(event, RoomStarted):
                self.holders[room_id] = sender
            self.publish(room_id, event)
        elif kind == "call":
            self._spawn(self._serve_call(message), "serve-call")
        elif kind == "result":
            fut = self._pending.get(message.get("id"))
            if fut is not None and not fut.done():
                fut.set_result(message)
        elif kind == "shop":
            try:
                self.local.shop_event(
                    message.get("room"),
                    str(message.get("kind")),
                    message.get("sku"),
                    dict(message.get("data") or {}),
                )
            except Exception:
                log.exception("shop event from the bus failed")

    async def _serve_call(self, message: dict) -> None:
        reply = {"t": "result", "id": message.get("id")}
        op, room_id = message.get("op"), message.get("room")
        try:
            if op not in REMOTE_OPS or not isinstance(room_id, str):
                raise EngineError(f"unknown node operation {op!r}")
            if room_id not in self.held:
                raise RoomUnavailable("房间已不在该节点，请稍后重试")
            args = decode(message.get("args") or ())
            if op == "stop_room":
                await self.stop_room(room_id)
                value = None
            elif op == "janus_where":
                value = await self.janus_where(room_id)
            else:
                value = await self._room_call(room_id, op, *args)
            reply["value"] = encode(value)
        except Exception as exc:
            if not isinstance(exc, EngineError):
                log.exception("node call %s failed", op)
            name = type(exc).__name__
            reply["error"] = str(exc)[:500] or name
            reply["error_type"] = name if name in ENGINE_ERRORS else "RoomUnavailable"
        try:
            await self.bus.send(str(message.get("from")), reply)
        except BusDown:
            log.warning("node call %s: result not sent (bus down)", op)

    # --- events ------------------------------------------------------------------------
    def _local_event(self, room_id: str, event: RoomEvent) -> None:
        self.publish(room_id, event)
        if self._outbox is None or self._closing:
            return
        if self._outbox.full():
            self._outbox.get_nowait()
            self.bus_events_dropped += 1
        self._outbox.put_nowait((room_id, event))

    async def _send_events(self) -> None:
        while True:
            room_id, event = await self._outbox.get()
            try:
                await self.bus.send(None, {"t": "event", "room": room_id, "ev": encode(event)})
            except BusDown:
                self.bus_events_dropped += 1
            except TypeError as exc:
                log.warning("room %s: event not sent to other nodes (%s)", room_id, exc)

    def shop_event(self, room_id: str | None, kind: str, sku: str | None, data: dict) -> None:
        self.local.shop_event(room_id, kind, sku, data)
        if room_id is not None and room_id in self.held and kind not in GLOBAL_SHOP_EVENTS:
            return  # this room's own event, and the room is here
        self._spawn(self._send_shop(room_id, kind, sku, data), "shop-event")

    async def _send_shop(self, room_id, kind, sku, data) -> None:
        try:
            await self.bus.send(
                None, {"t": "shop", "room": room_id, "kind": kind, "sku": sku, "data": encode(data)}
            )
        except (BusDown, TypeError) as exc:
            log.warning("shop event %s not sent to other nodes (%s)", kind, exc)

    # --- the engine interface, routed ------------------------------------------------------
    async def room_info(self, room_id: str) -> dict:
        return await self._room_call(room_id, "room_info")

    async def room_stats(self, room_id: str) -> dict:
        return await self._room_call(room_id, "room_stats")

    async def whep_offer(self, room_id: str, sdp: str) -> tuple[str, str]:
        check_offer(sdp)  # refused here: a bad offer never crosses the bus
        return tuple(await self._room_call(room_id, "whep_offer", sdp))

    async def whep_delete(self, room_id: str, session_id: str) -> None:
        await self._room_call(room_id, "whep_delete", session_id)

    async def danmaku(
        self,
        room_id: str,
        user_id: str,
        nickname: str,
        text: str,
        source: str = "viewer",
        as_question: bool = False,
    ) -> Heard:
        check_comment(text)
        return await self._room_call(
            room_id, "danmaku", user_id, nickname, text, source, as_question
        )

    async def hear_all(self, room_id: str, messages: list) -> list[Heard]:
        return await self._room_call(room_id, "hear_all", list(messages))

    async def simulate_viewers(
        self, room_id: str, rate: float, mood: str = "mixed", duration: float | None = None
    ) -> dict:
        check_simulation(rate, mood)
        return await self._room_call(room_id, "simulate_viewers", rate, mood, duration)

    async def banned_words(self, room_id: str) -> list[str]:
        return await self._room_call(room_id, "banned_words")

    async def ban_word(self, room_id: str, word: str) -> bool:
        return await self._room_call(room_id, "ban_word", word)

    async def unban_word(self, room_id: str, word: str) -> bool:
        return await self._room_call(room_id, "unban_word", word)

    # RTMP/HLS outputs run beside the room's encoder: only on the node that holds it
    def add_output(
        self,
        room_id: str,
        url: str,
        key: str,
        name: str = "",
        internal: bool = False,
        output_id: str | None = None,
    ) -> dict:
        if room_id not in self.held:
            raise NotConfigured("推流设置请在房间所在节点操作")
        return self.local.add_output(room_id, url, key, name, internal, output_id=output_id)

    def list_outputs(self, room_id: str) -> list[dict]:
        return self.local.list_outputs(room_id) if room_id in self.held else []

    def remove_output(self, room_id: str, output_id: str) -> None:
        if room_id not in self.held:
            raise NotConfigured("推流设置请在房间所在节点操作")
        self.local.remove_output(room_id, output_id)

    # Janus (streamer/janus.py): the node holding a room forwards it to its own janus_url
    janus_public_url: str | None = None  # where browsers reach this node's Janus

    async def attach_janus(self, room_id: str) -> dict:
        if room_id not in self.held:
            raise JanusError(f"room {room_id} runs on another node: it forwards from there")
        return await self.local.attach_janus(room_id)

    def janus_mount(self, room_id: str) -> dict | None:
        return self.local.janus_mount(room_id) if room_id in self.held else None

    async def janus_where(self, room_id: str) -> dict | None:
        """Where to watch the room through Janus: asked of the node holding it (each node
        names its own Janus); None when that node does not forward it (yet)."""
        if room_id not in self.held:
            return await self._room_call(room_id, "janus_where", timeout=JANUS_TIMEOUT)
        if room_id in self.adopting:
            raise RoomUnavailable("房间正在本节点恢复，请稍后重试")
        mount = self.local.janus_mount(room_id)
        if mount is None or not self.janus_public_url:
            return None
        return {
            "url": self.janus_public_url,
            "mountpoint": mount["mountpoint"],
            "live": mount["frames"]["video"] > 0,
            "node": self.node_id,
        }
