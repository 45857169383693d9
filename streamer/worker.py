"""A room worker process: its own event loop, `Engine`, shop connection, voice, analyser
and aiortc peers. It serves `Call`s from the web process over the bus and sends back
results, every room event, and a `Report` each second. It ends when the bus closes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection

from avatars.voice import make_voice_chain
from scripts_gen import make_writer
from streamer.bus import OPS, Call, Published, Ready, Report, Result, check_args
from streamer.engine import Engine, EngineError, check_offer
from streamer.events import RoomEvent
from streamer.heap import settle_heap
from streamer.janus import JanusApi, JanusError, Mount
from streamer.log_context import json_handler
from streamer.outputs import OutputError
from streamer.room import RoomConfig

log = logging.getLogger(__name__)

REPORT_EVERY = 1.0
CLOSE_TIMEOUT = 10.0  # seconds the worker's rooms get to stop when the bus closes


@dataclass(frozen=True)
class WorkerSpec:
    """How to build a worker's engine: plain data, so it crosses into the new process."""

    db_url: str | None = None
    online_voice: bool = False
    max_rooms: int = 64
    max_viewers_per_room: int = 200
    log_level: int = logging.INFO
    log_json: bool = False  # JSON lines with room ids (streamer/log_context.py)
    # Janus (streamer/janus.py): the worker's rooms forward to mountpoints made through it
    janus_url: str | None = None
    janus_admin_key: str | None = None
    janus_rtp_host: str = "127.0.0.1"


class BusEngine(Engine):
    """An `Engine` whose every room event also goes out over the bus."""

    def __init__(self, send, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._send = send

    def publish(self, room_id: str, event: RoomEvent) -> None:
        super().publish(room_id, event)
        self._send(Published(room_id, event))


class RoomWorker:
    def __init__(self, conn: Connection, spec: WorkerSpec) -> None:
        self.conn = conn
        self.spec = spec
        self.engine: BusEngine | None = None
        self.store = None
        self._closed = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._send_lock = threading.Lock()
        self.loop_lag_ms = 0.0

    def send(self, message) -> None:
        try:
            with self._send_lock:
                self.conn.send(message)
        except (OSError, ValueError):  # the web process is gone: this worker ends too
            self._closed.set()

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        """Reader thread: every message onto the event loop; EOF ends the worker."""
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                break
            except Exception as exc:  # an unreadable message: say so, keep serving
                log.error("unreadable bus message: %s", exc)
                continue
            loop.call_soon_threadsafe(self._on_message, message)
        loop.call_soon_threadsafe(self._closed.set)

    def _on_message(self, message) -> None:
        if not isinstance(message, Call):
            log.error("bus message of type %s ignored", type(message).__name__)
            return
        task = asyncio.ensure_future(self._serve_call(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve_call(self, call: Call) -> None:
        try:
            result = Result(call.id, await self._dispatch(call.op, tuple(call.args)))
        except Exception as exc:
            if not isinstance(exc, EngineError):
                log.exception("bus call %s failed", call.op)
            result = Result.failed(call.id, exc, call.op)
        if call.id:  # id 0: nobody waits for the answer
            self.send(result)

    async def _dispatch(self, op: str, args: tuple):
        engine = self.engine
        if op not in OPS:
            raise EngineError(f"unknown bus operation {op!r}")
        check_args(op, args)
        if op == "ping":
            return os.getpid()
        if op == "start_room":
            (config,) = args
            if not isinstance(config, RoomConfig):
                raise EngineError("start_room takes a RoomConfig")
            return await self._start_room(config)
        if op == "whep_offer":
            room_id, sdp = args
            engine.config_of(room_id)  # an unknown room first, then the offer's own faults
            check_offer(sdp)
            return await engine.whep_offer(room_id, sdp)
        if op == "shop_event":
            engine.shop_event(*args)
            return None
        if op == "attach_janus":
            room_id, mount_id, video_port, audio_port = args
            previous = Mount(mount_id, video_port, audio_port) if mount_id > 0 else None
            try:
                return await engine.attach_janus(room_id, previous)
            except JanusError as exc:  # named across the bus, never a traceback
                raise EngineError(f"attach_janus: {exc}") from None
        if op in ("add_output", "remove_output"):  # checked by the web process already
            try:
                if op == "remove_output":
                    return engine.remove_output(*args)
                room_id, url, key, name, internal, output_id = args
                return engine.add_output(room_id, url, key, name, internal, output_id)
            except OutputError as exc:  # named across the bus, never a traceback
                raise EngineError(f"{op}: {exc}") from None
        return await getattr(engine, op)(*args)

    async def _start_room(self, config: RoomConfig) -> dict:
        resume = config.resume
        banned = []
        if resume is not None:  # a restored room: the shop's pin wins over a stale position
            from streamer.shop_feed import pinned_sku

            banned = list(resume.get("banned", ()))
            try:
                pinned = await asyncio.wait_for(pinned_sku(self.store, config.room_id), 5.0)
            except Exception:
                log.exception("room %s: pinned product not read", config.room_id)
                pinned = None
            if not resume.get("sku") and pinned:
                config = replace(config, resume={**resume, "sku": pinned})
        info = await self.engine.start_room(config)
        for word in banned:
            await self.engine.ban_word(config.room_id, word)
        return info

    def report(self) -> Report:
        engine = self.engine
        stats, positions, load = {}, {}, 0.0
        for rid, room in list(engine.rooms.items()):
            try:
                s = room.stats()
            except Exception:
                log.exception("room %s: stats failed", rid)
                continue
            load += s["cpu"].get("cpu_share", 0.0)
            mount = engine.janus_mount(rid)
            if mount is not None:
                s = {**s, "janus": mount}
            stats[rid] = s
            positions[rid] = room.director.position() | {
                "banned": room.listener.moderator.banned_words()
            }
        voice = engine.voice.stats
        return Report(
            os.getpid(),
            round(load, 4),
            stats,
            positions,
            viewers=len(engine.sessions),
            voice={
                "calls": voice.calls,
                "fallbacks": voice.fallbacks,
                "failures": dict(voice.failures),
            },
            events_dropped=engine.events_dropped,
            loop_lag_ms=self.loop_lag_ms,
        )

    async def serve(self) -> None:
        from commerce.store import open_store
        from streamer.shop_feed import shop_catalog, ticket_desk

        loop = asyncio.get_running_loop()
        self.store = await open_store(self.spec.db_url, seed_demo=False, background=False)
        self.engine = BusEngine(
            self.send,
            shop_catalog(self.store),
            voice=make_voice_chain(online=self.spec.online_voice),
            open_ticket=ticket_desk(self.store),
            max_rooms=self.spec.max_rooms,
            max_rooms_per_owner=self.spec.max_rooms,
            max_viewers_per_room=self.spec.max_viewers_per_room,
        )
        if self.spec.janus_url:
            self.engine.janus_api = JanusApi(self.spec.janus_url, self.spec.janus_admin_key)
            self.engine.janus_rtp_host = self.spec.janus_rtp_host
        # the first room's writer loads its dictionaries (~2 s): done before Ready, so a
        # room restored here after a crash does not wait for it
        make_writer(None)
        settle_heap()
        threading.Thread(target=self._read, args=(loop,), name="bus-reader", daemon=True).start()
        self.send(Ready(os.getpid()))
        try:
            while not self._closed.is_set():
                due = loop.time() + REPORT_EVERY
                try:
                    async with asyncio.timeout(REPORT_EVERY):
                        await self._closed.wait()
                except TimeoutError:
                    self.loop_lag_ms = round(max(0.0, loop.time() - due) * 1000, 1)
                    self.send(self.report())
        finally:
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await self.engine.close()
            except TimeoutError:
                log.error("rooms did not stop within %.0f s", CLOSE_TIMEOUT)
            await self.store.close()


def run_worker(conn: Connection, spec: WorkerSpec) -> None:
    """The worker process's entry point (a `spawn` target)."""
    # Ctrl-C and a service manager's SIGTERM reach the whole process group: the web process
    # closes the bus and we follow (a worker killed first would be "restarted" mid-shutdown)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if spec.log_json:
        logging.basicConfig(level=spec.log_level, handlers=[json_handler(sys.stderr)])
    else:
        logging.basicConfig(
            level=spec.log_level,
            format=f"%(asctime)s %(levelname)s worker-{os.getpid()} %(name)s: %(message)s",
        )
    try:
        asyncio.run(RoomWorker(conn, spec).serve())
    finally:
        conn.close()
