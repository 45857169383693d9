"""`WorkerEngine`: the `Engine` interface with every room in a worker process.

The web process holds no room. Each worker (`streamer.worker`) runs its rooms' media
loops, voice, director, danmaku analysis and aiortc peers; this side places rooms on the
least-loaded worker (by the media-loop CPU each worker reports from its rooms' real tick
times), forwards calls with a bounded wait, fans the workers' room events out to local
subscribers, and supervises: a worker that dies or stops reporting is replaced, and its
rooms start again from their saved state (lineup position and banned words reported each
second; the pinned product and promotions from the shop database).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import os
import secrets
import signal
import socket
import threading
import time
import uuid
from dataclasses import replace

from commerce.crypto import Keys
from danmaku.messages import RoomMessage
from danmaku.seen import SeenIds
from danmaku.sources.douyin import FRESHNESS
from streamer.bus import Call, Published, Ready, Report, Result
from streamer.engine_base import (
    GLOBAL_SHOP_EVENTS,
    MAX_VIEWERS_PER_ROOM,
    EngineBase,
    EngineError,
    RoomNotFound,
    RoomUnavailable,
    check_comment,
    check_offer,
    check_simulation,
)
from streamer.events import RoomStopped
from streamer.janus import JanusError
from streamer.listener import Heard
from streamer.outputs import (
    MAX_OUTPUTS,
    BadOutput,
    OutputNotFound,
    TooManyOutputs,
    check_target,
    mask_key,
)
from streamer.room import RoomConfig
from streamer.worker import WorkerSpec, run_worker

log = logging.getLogger(__name__)

CALL_TIMEOUT = 10.0  # a worker that does not answer a call within this is unavailable
# a worker process must be ready within this (imports, shop, voice, writer); a busy
# 2-core machine took 15 s to start three at once
START_TIMEOUT = 60.0
ROOM_START_TIMEOUT = 20.0
STALL_TIMEOUT = 10.0  # a worker silent this long is killed and replaced
STOP_TIMEOUT = 15.0
CRASH_LOOP_PAUSE = 2.0  # seconds before replacing a worker that died while starting
# Cores assumed for a room placed but not yet reported, and the least a reported room counts
# for. A live room costs less (0.07-0.09 cores, `python -m benchmarks.run roomcost`) and one
# just started reports almost nothing (its CPU window has hardly begun), so below this a
# worker's rooms are counted rather than its CPU, and a lagging report cannot draw rooms.
NEW_ROOM_LOAD = 0.1
# an output's state until its worker's report has it
PENDING_OUTPUT = {
    "state": "connecting",
    "kbps": 0.0,
    "connects": 0,
    "reconnects": 0,
    "failures": 0,
    "last_error": "",
    "error_hint": "",
    "last_error_at": None,
    "next_retry_in": None,
    "live_since": None,
    "dropped_ticks": 0,
    "queued_ticks": 0,
    "packets": 0,
    "bytes_sent": 0,
}
INFO_KEYS = (
    "room_id",
    "title",
    "persona",
    "orientation",
    "width",
    "height",
    "persona_name",
    "live",
    "viewers",
    "current_sku",
    "current_product",
)


class WorkerHandle:
    """One worker process as the web process sees it."""

    def __init__(self, index: int, spec: WorkerSpec, loop: asyncio.AbstractEventLoop) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.index = index
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=run_worker, args=(child, spec), name=f"yunlian-worker-{index}", daemon=True
        )
        self.process.start()
        child.close()  # only the worker holds its end: its death is our EOF
        self.loop = loop
        self.ready = asyncio.Event()
        self.exited = asyncio.Event()
        self.pending: dict[int, asyncio.Future] = {}
        self.report: Report | None = None
        self.heard_at = time.monotonic()
        self.placed: set[str] = set()  # rooms placed here and not in a report yet
        self.respawn_after = 0.0  # monotonic time before which it is not replaced
        self._send_lock = threading.Lock()
        self.on_message = None  # set by the engine
        threading.Thread(target=self._read, name=f"bus-{index}", daemon=True).start()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.ready.is_set() and not self.exited.is_set()

    def load(self) -> float:
        reported = self.report.load if self.report else 0.0
        rooms = len(self.report.rooms) if self.report else 0
        return max(reported, NEW_ROOM_LOAD * rooms) + NEW_ROOM_LOAD * len(self.placed)

    def rooms(self) -> int:
        return len(self.report.rooms if self.report else ()) + len(self.placed)

    def send(self, message: Call) -> None:
        with self._send_lock:
            self.conn.send(message)

    def _read(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                break
            except Exception as exc:
                log.error("worker %s: unreadable bus message: %s", self.index, exc)
                continue
            try:
                self.loop.call_soon_threadsafe(self.on_message, self, message)
            except RuntimeError:  # the event loop is closed: the server is going away
                return
        try:
            self.loop.call_soon_threadsafe(self.exited.set)
        except RuntimeError:
            pass

    def hang_up(self) -> None:
        """Close the bus both ways: the worker reads EOF and stops, and so does our reader
        (a plain close() would not wake a thread blocked reading the same socket)."""
        try:
            sock = socket.socket(fileno=os.dup(self.conn.fileno()))
        except OSError:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        finally:
            sock.close()

    def kill(self) -> None:
        if self.process.is_alive() and self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class WorkerEngine(EngineBase):
    """Rooms in `workers` processes behind the same interface as `streamer.engine.Engine`."""

    def __init__(
        self,
        spec: WorkerSpec,
        workers: int = 2,
        platform_secrets: dict[str, str] | None = None,
        seen_ids: SeenIds | None = None,
        push_window: float = FRESHNESS,
        max_rooms: int = 8,
        max_rooms_per_owner: int = 3,
        max_viewers_per_room: int = MAX_VIEWERS_PER_ROOM,
        spare: bool = True,
    ) -> None:
        super().__init__(
            platform_secrets,
            seen_ids,
            push_window,
            max_rooms,
            max_rooms_per_owner,
            max_viewers_per_room,
        )
        if workers < 1:
            raise ValueError("a WorkerEngine needs at least one worker")
        self.spec = replace(spec, max_viewers_per_room=max_viewers_per_room)
        self.size = workers
        self.rooms: dict[str, RoomConfig] = {}  # live rooms, wherever they run
        self.placement: dict[str, WorkerHandle] = {}
        self.positions: dict[str, dict] = {}  # last reported resume state of each room
        self._infos: dict[str, dict] = {}  # info returned by start, until a report has it
        self.workers: list[WorkerHandle] = []
        # a started, idle worker that takes a dead one's place at once (no process start
        # on the way to a restored room); None when spare=False
        self.use_spare = spare
        self.spare: WorkerHandle | None = None
        self.restarts = 0
        self.restored: list[dict] = []  # {"room_id", "seconds", "worker"} per restored room
        self._ids = itertools.count(1)
        self._closing = False
        self._supervisor: asyncio.Task | None = None
        self._recoveries: set[asyncio.Task] = set()
        # room id -> output id -> {"view", "key" (sealed)}: what a restored room pushes to
        self._outputs: dict[str, dict[str, dict]] = {}
        self._output_keys = Keys(secrets.token_bytes(32))
        # room id -> its Janus forward as last seen (attach result or report); a room listed
        # here forwards to Janus, and a restored room takes its mountpoint over
        self._janus: dict[str, dict] = {}

    # --- the pool ----------------------------------------------------------------
    async def start(self) -> None:
        """Start the workers; returns once all are ready (bounded by START_TIMEOUT)."""
        loop = asyncio.get_running_loop()
        self.workers = [self._spawn(i, loop) for i in range(self.size)]
        try:
            async with asyncio.timeout(START_TIMEOUT):
                await asyncio.gather(*(w.ready.wait() for w in self.workers))
        except TimeoutError:
            await self.close()
            raise RuntimeError(f"room workers not ready within {START_TIMEOUT:.0f} s") from None
        if self.use_spare:  # after the workers: it would only slow their start down
            self.spare = self._spawn(-1, loop)
        self._supervisor = asyncio.create_task(self._supervise(), name="worker-supervisor")
        log.info("%d room workers ready: pids %s", self.size, [w.pid for w in self.workers])

    def _spawn(self, index: int, loop: asyncio.AbstractEventLoop) -> WorkerHandle:
        handle = WorkerHandle(index, self.spec, loop)
        handle.on_message = self._on_message
        return handle

    def _on_message(self, handle: WorkerHandle, message) -> None:
        handle.heard_at = time.monotonic()
        if isinstance(message, Published):
            self.publish(message.room_id, message.event)
        elif isinstance(message, Result):
            fut = handle.pending.pop(message.id, None)
            if fut is not None and not fut.done():
                fut.set_result(message)
        elif isinstance(message, Report):
            handle.report = message
            handle.placed -= set(message.rooms)
            for rid, position in message.positions.items():
                if self.placement.get(rid) is handle:
                    self.positions[rid] = position
                    self._infos.pop(rid, None)
                    mount = message.rooms.get(rid, {}).get("janus")
                    if mount is not None and rid in self._janus:
                        self._janus[rid] = mount
        elif isinstance(message, Ready):
            handle.ready.set()

    async def _supervise(self) -> None:
        """Replace a worker that exited or went silent; restore its rooms elsewhere."""
        while not self._closing:
            if self.spare is not None and self.spare.exited.is_set():
                log.error("spare worker (pid %s) died: starting another", self.spare.pid)
                self.spare = self._spawn(-1, asyncio.get_running_loop())
            for handle in list(self.workers):
                if handle.exited.is_set() and time.monotonic() >= handle.respawn_after:
                    self._replace(handle)
                elif handle.ready.is_set() and time.monotonic() - handle.heard_at > STALL_TIMEOUT:
                    log.error("worker %s (pid %s) silent: killing it", handle.index, handle.pid)
                    handle.kill()
            await asyncio.sleep(0.1)

    def _replace(self, dead: WorkerHandle) -> None:
        if self._closing or dead not in self.workers:
            return
        if not dead.ready.is_set() and dead.respawn_after == 0.0:
            # died before it was ever ready (a crash at start): try again after a pause
            # rather than in a tight loop
            dead.respawn_after = time.monotonic() + CRASH_LOOP_PAUSE
            return
        died_at = time.monotonic()
        log.error("worker %s (pid %s) died: restarting it", dead.index, dead.pid)
        dead.process.join(0)
        for fut in dead.pending.values():
            if not fut.done():
                fut.set_result(Result(0, error="room worker died", error_type="RoomUnavailable"))
        dead.pending.clear()
        loop = asyncio.get_running_loop()
        if self.spare is not None and self.spare.alive:
            fresh, self.spare = self.spare, self._spawn(-1, loop)
            fresh.index = dead.index
        else:
            fresh = self._spawn(dead.index, loop)
        self.workers[self.workers.index(dead)] = fresh
        self.restarts += 1
        orphans = [rid for rid, h in self.placement.items() if h is dead]
        for rid in orphans:
            if rid in self._janus:  # not forwarding until its new worker says so
                self._janus[rid] = {**self._janus[rid], "stale": True}
            task = asyncio.create_task(self._restore(rid, died_at), name=f"restore-{rid}")
            self._recoveries.add(task)
            task.add_done_callback(self._recoveries.discard)

    async def _restore(self, room_id: str, died_at: float) -> None:
        """Start a dead worker's room again from its saved state (bounded; retried once)."""
        for attempt in range(2):
            config = self.rooms.get(room_id)
            if config is None or self._closing:  # stopped meanwhile
                return
            handle = None
            try:
                handle = await self._least_loaded()
                resume = dict(self.positions.get(room_id) or {})
                restored = replace(config, resume=resume)
                handle.placed.add(room_id)
                self.placement[room_id] = handle
                await self._call(handle, "start_room", restored, timeout=ROOM_START_TIMEOUT)
            except Exception as exc:
                log.error("room %s: restore attempt %d failed: %s", room_id, attempt + 1, exc)
                if handle is not None:
                    handle.placed.discard(room_id)
                continue
            await self._restore_outputs(handle, room_id)
            await self._restore_janus(handle, room_id)
            seconds = round(time.monotonic() - died_at, 2)
            self.restored.append({"room_id": room_id, "seconds": seconds, "worker": handle.pid})
            self.restored = self.restored[-100:]
            log.info("room %s restored on worker %s in %.1f s", room_id, handle.pid, seconds)
            return
        log.error("room %s could not be restored: it is stopped", room_id)
        if self.rooms.pop(room_id, None) is not None:
            self.placement.pop(room_id, None)
            self.positions.pop(room_id, None)
            self._outputs.pop(room_id, None)
            self._janus.pop(room_id, None)
            self.publish(room_id, RoomStopped(room_id))

    async def _least_loaded(self, wait: float = START_TIMEOUT) -> WorkerHandle:
        """The ready worker with the least media-loop CPU (then the fewest rooms)."""
        try:
            async with asyncio.timeout(wait):
                while True:
                    ready = [w for w in self.workers if w.alive]
                    if ready:
                        return min(ready, key=lambda w: (round(w.load(), 2), w.rooms(), w.index))
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise RoomUnavailable("no room worker is ready; try again shortly") from None

    async def _call(self, handle: WorkerHandle, op: str, *args, timeout: float = CALL_TIMEOUT):
        if not handle.alive:
            raise RoomUnavailable("the room's worker is restarting; try again shortly")
        call_id = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        handle.pending[call_id] = fut
        try:
            handle.send(Call(call_id, op, args))
            async with asyncio.timeout(timeout):
                result: Result = await fut
        except (OSError, ValueError):
            raise RoomUnavailable("the room's worker is gone; it is being restarted") from None
        except TimeoutError:
            raise RoomUnavailable(
                f"the room's worker did not answer within {timeout:g} s"
            ) from None
        finally:
            handle.pending.pop(call_id, None)
        return result.unwrap()

    def _cast(self, handle: WorkerHandle, op: str, *args) -> None:
        """A call nobody waits for (id 0): shop events."""
        if handle.alive:
            try:
                handle.send(Call(0, op, args))
            except (OSError, ValueError):
                pass

    def _worker_of(self, room_id: str) -> WorkerHandle:
        self.config_of(room_id)
        return self.placement[room_id]

    async def _room_call(self, room_id: str, op: str, *args, timeout: float = CALL_TIMEOUT):
        return await self._call(self._worker_of(room_id), op, room_id, *args, timeout=timeout)

    # --- rooms -------------------------------------------------------------------
    def configs(self) -> dict[str, RoomConfig]:
        return self.rooms

    async def start_room(self, config: RoomConfig) -> dict:
        self.check_start(config)
        self.rooms[config.room_id] = config  # taken before the first await: no double start
        try:
            handle = await self._least_loaded()
            handle.placed.add(config.room_id)
            self.placement[config.room_id] = handle
            info = await self._call(handle, "start_room", config, timeout=ROOM_START_TIMEOUT)
        except BaseException:
            self.rooms.pop(config.room_id, None)
            handle = self.placement.pop(config.room_id, None)
            if handle is not None:
                handle.placed.discard(config.room_id)
            raise
        self._infos[config.room_id] = info
        log.info("room %s placed on worker %s (pid %s)", config.room_id, handle.index, handle.pid)
        return info

    async def stop_room(self, room_id: str) -> None:
        handle = self._worker_of(room_id)
        try:
            await self._call(handle, "stop_room", room_id, timeout=STOP_TIMEOUT)
        except (RoomUnavailable, RoomNotFound) as exc:  # its worker died: nothing left to stop
            log.warning("room %s: stop on its worker failed (%s); dropped", room_id, exc)
        finally:
            self.rooms.pop(room_id, None)
            self.placement.pop(room_id, None)
            self.positions.pop(room_id, None)
            self._infos.pop(room_id, None)
            self._outputs.pop(room_id, None)
            self._janus.pop(room_id, None)
            handle.placed.discard(room_id)

    def _stats(self, room_id: str) -> dict | None:
        handle = self.placement.get(room_id)
        if handle is None or handle.report is None:
            return None
        return handle.report.rooms.get(room_id)

    # --- RTMP/HLS outputs: they push from the room's encoder inside its worker. The web
    # process keeps each room's outputs (the key sealed with a key of its own), checks
    # requests here so a bad one never crosses the bus, answers at once and tells the
    # worker; a room restored on a new worker gets its outputs back with the same ids.
    def add_output(
        self,
        room_id: str,
        url: str,
        key: str,
        name: str = "",
        internal: bool = False,
        output_id: str | None = None,
    ) -> dict:
        self.config_of(room_id)
        check_target(url, key, name)
        outputs = self._outputs.setdefault(room_id, {})
        own = sum(1 for o in outputs.values() if not o["view"]["internal"])
        if not internal and own >= MAX_OUTPUTS:
            raise TooManyOutputs(f"a room has at most {MAX_OUTPUTS} outputs")
        output_id = output_id or uuid.uuid4().hex[:12]
        if output_id in outputs:
            raise BadOutput(f"output {output_id!r} exists")
        view = {
            "id": output_id,
            "name": name,
            "url": url,
            "stream_key": mask_key(key),
            "internal": bool(internal),
            "created_at": time.time(),
        }
        outputs[output_id] = {"view": view, "key": self._output_keys.encrypt(key)}
        self._output_call(room_id, "add_output", url, key, name, bool(internal), output_id)
        log.info("room %s: output %s added (%s)", room_id, output_id, url)
        return {**view, **PENDING_OUTPUT}

    def list_outputs(self, room_id: str) -> list[dict]:
        self.config_of(room_id)
        reported = {o["id"]: o for o in (self._stats(room_id) or {}).get("outputs", ())}
        return [
            reported.get(oid) or {**o["view"], **PENDING_OUTPUT}
            for oid, o in self._outputs.get(room_id, {}).items()
        ]

    def remove_output(self, room_id: str, output_id: str) -> None:
        self.config_of(room_id)
        if self._outputs.get(room_id, {}).pop(output_id, None) is None:
            raise OutputNotFound(f"no output {output_id!r} in room {room_id}")
        self._output_call(room_id, "remove_output", output_id)
        log.info("room %s: output %s removed", room_id, output_id)

    def _output_call(self, room_id: str, op: str, *args) -> None:
        """Tell the room's worker (sent now, in order; its answer is awaited off the caller)."""

        async def call() -> None:
            try:
                await self._room_call(room_id, op, *args)
            except Exception as exc:  # a restored room gets its outputs from the record
                log.error("room %s: %s on its worker failed: %s", room_id, op, exc)

        task = asyncio.get_running_loop().create_task(call(), name=f"{op}-{room_id}")
        self._recoveries.add(task)
        task.add_done_callback(self._recoveries.discard)

    async def _restore_outputs(self, handle: WorkerHandle, room_id: str) -> None:
        for oid, o in list(self._outputs.get(room_id, {}).items()):
            v = o["view"]
            key = self._output_keys.decrypt(o["key"])
            try:
                await self._call(
                    handle, "add_output", room_id, v["url"], key, v["name"], v["internal"], oid
                )
            except Exception as exc:
                log.error("room %s: output %s not restored: %s", room_id, oid, exc)

    # --- Janus: the room's worker forwards its packets to the mountpoint (streamer/janus.py)
    async def attach_janus(self, room_id: str) -> dict:
        """Forward the room to a Janus mountpoint from its worker."""
        self.config_of(room_id)
        try:
            view = await self._room_call(room_id, "attach_janus", 0, 0, 0)
        except RoomNotFound:
            raise
        except EngineError as exc:  # Janus refused or is gone; the room is live either way
            raise JanusError(str(exc)) from None
        self._janus[room_id] = view
        return view

    def janus_mount(self, room_id: str) -> dict | None:
        view = self._janus.get(room_id)
        return None if view is None or view.get("stale") else view

    async def _restore_janus(self, handle: WorkerHandle, room_id: str) -> None:
        """A restored room forwards to Janus again: to its old mountpoint when Janus still
        has it (its viewers keep watching), else to a new one."""
        view = self._janus.get(room_id)
        if view is None:
            return
        try:
            fresh = await self._call(
                handle,
                "attach_janus",
                room_id,
                int(view.get("mountpoint") or 0),
                int(view.get("video_port") or 0),
                int(view.get("audio_port") or 0),
            )
        except Exception as exc:
            log.error("room %s: Janus forwarding not restored: %s", room_id, exc)
            return
        if room_id in self._janus:
            self._janus[room_id] = fresh

    def list_rooms(self) -> list[dict]:
        out = []
        for rid, config in self.rooms.items():
            stats = self._stats(rid) or self._infos.get(rid)
            if stats is None:  # restoring: listed, not live
                stats = {"room_id": rid, "title": config.title, "persona": config.persona}
                stats |= {"live": False, "viewers": 0}
            out.append({k: stats[k] for k in INFO_KEYS if k in stats})
        return out

    def metrics(self) -> dict:
        reports = [w.report for w in self.workers if w.report is not None]
        rooms = {rid: s for rid in self.rooms if (s := self._stats(rid)) is not None}
        voice = {"calls": 0, "fallbacks": 0, "failures": {}}
        for r in reports:
            voice["calls"] += r.voice.get("calls", 0)
            voice["fallbacks"] += r.voice.get("fallbacks", 0)
            for k, v in r.voice.get("failures", {}).items():
                voice["failures"][k] = voice["failures"].get(k, 0) + v
        return {
            "rooms": rooms,
            "viewers": sum(r.viewers for r in reports),
            "events_dropped": self.events_dropped + sum(r.events_dropped for r in reports),
            "voice": voice,
            "workers": [
                {
                    "index": w.index,
                    "pid": w.pid,
                    "ready": w.alive,
                    "load": round(w.load(), 3),
                    "loop_lag_ms": w.report.loop_lag_ms if w.report is not None else None,
                    "rooms": sorted(rid for rid, h in self.placement.items() if h is w),
                }
                for w in self.workers
            ],
            "spare": ({"pid": self.spare.pid, "ready": self.spare.alive} if self.spare else None),
            "worker_restarts": self.restarts,
            "rooms_restored": list(self.restored[-10:]),
        }

    async def room_info(self, room_id: str) -> dict:
        stats = await self.room_stats(room_id)
        return {k: stats[k] for k in INFO_KEYS if k in stats}

    async def room_stats(self, room_id: str) -> dict:
        return await self._room_call(room_id, "room_stats")

    # --- WHEP ----------------------------------------------------------------------
    async def whep_offer(self, room_id: str, sdp: str) -> tuple[str, str]:
        self.config_of(room_id)
        check_offer(sdp)  # refused here: a bad offer never crosses the bus
        return tuple(await self._room_call(room_id, "whep_offer", sdp))

    async def whep_delete(self, room_id: str, session_id: str) -> None:
        await self._room_call(room_id, "whep_delete", session_id)

    # --- danmaku -------------------------------------------------------------------
    async def danmaku(
        self,
        room_id: str,
        user_id: str,
        nickname: str,
        text: str,
        source: str = "viewer",
        as_question: bool = False,
    ) -> Heard:
        self.config_of(room_id)
        check_comment(text)
        return await self._room_call(
            room_id, "danmaku", user_id, nickname, text, source, as_question
        )

    async def hear_all(self, room_id: str, messages: list[RoomMessage]) -> list[Heard]:
        return await self._room_call(room_id, "hear_all", list(messages))

    async def simulate_viewers(
        self, room_id: str, rate: float, mood: str = "mixed", duration: float | None = None
    ) -> dict:
        self.config_of(room_id)
        check_simulation(rate, mood)
        return await self._room_call(room_id, "simulate_viewers", rate, mood, duration)

    async def banned_words(self, room_id: str) -> list[str]:
        return await self._room_call(room_id, "banned_words")

    async def ban_word(self, room_id: str, word: str) -> bool:
        return await self._room_call(room_id, "ban_word", word)

    async def unban_word(self, room_id: str, word: str) -> bool:
        return await self._room_call(room_id, "unban_word", word)

    # --- the live console (a take-over is checked against the facts its room holds) -----
    async def take_over(self, room_id: str, text: str) -> dict:
        self.config_of(room_id)
        return await self._room_call(room_id, "take_over", text)

    async def set_answer_mode(self, room_id: str, mode: str, minutes: float | None = None) -> dict:
        self.config_of(room_id)
        return await self._room_call(room_id, "set_answer_mode", mode, minutes)

    # --- events ----------------------------------------------------------------------
    def shop_event(self, room_id: str | None, kind: str, sku: str | None, data: dict) -> None:
        """Shop events go to the room's worker; a sell-out (or a shop-wide event) to all."""
        if kind in GLOBAL_SHOP_EVENTS or room_id is None:
            for handle in self.workers:
                self._cast(handle, "shop_event", room_id, kind, sku, data)
        elif room_id in self.placement:
            self._cast(self.placement[room_id], "shop_event", room_id, kind, sku, data)

    async def close(self) -> None:
        """Stop every worker: the bus closes, each stops its rooms and exits (bounded)."""
        self._closing = True
        for task in [self._supervisor, *self._recoveries]:
            if task is not None:
                task.cancel()
        pool = [*self.workers, *([self.spare] if self.spare else [])]
        for handle in pool:
            handle.hang_up()
        for handle in pool:
            await asyncio.to_thread(handle.process.join, STOP_TIMEOUT)
            if handle.process.is_alive():
                log.error("worker %s did not stop within %.0f s: killed", handle.pid, STOP_TIMEOUT)
                handle.kill()
                await asyncio.to_thread(handle.process.join, 2.0)
        self.rooms.clear()
        self.placement.clear()
