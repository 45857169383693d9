"""`Engine`: the only door into the live rooms. The web layer talks to it with plain data
(room configs, SDP strings, event dicts), which is what lets rooms later move into worker
processes or onto other machines.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription

from avatars.voice import VoiceChain, make_voice_chain
from commerce.facts import ProductFacts
from danmaku.analysis import Analyzer, make_analyzer
from danmaku.messages import Comment, RoomMessage
from danmaku.seen import SeenIds
from danmaku.sources.douyin import FRESHNESS
from danmaku.sources.simulator import SimulatorSource
from streamer.director import TicketRequest
from streamer.engine_base import (
    ENGINE_ERRORS,
    GLOBAL_SHOP_EVENTS,
    MAX_DANMAKU_CHARS,
    MAX_QUESTION_CHARS,
    MAX_SDP_BYTES,
    MAX_SIM_RATE,
    MAX_VIEWERS_PER_ROOM,
    ROOM_ID,
    BadLine,
    BadOffer,
    EngineBase,
    EngineError,
    NotConfigured,
    RoomExists,
    RoomFull,
    RoomNotFound,
    RoomUnavailable,
    TooManyRooms,
    check_comment,
    check_offer,
    check_simulation,
)
from streamer.events import RoomStarted, RoomStopped, ShopNotice, ViewerJoined, ViewerLeft
from streamer.fanout import PacketTrack, hook_keyframe_requests
from streamer.janus import EngineJanus
from streamer.listener import Heard
from streamer.outputs import EngineOutputs
from streamer.room import Room, RoomConfig
from streamer.takeover import TakeoverInvalid

__all__ = [
    "ENGINE_ERRORS",
    "MAX_DANMAKU_CHARS",
    "MAX_QUESTION_CHARS",
    "MAX_SDP_BYTES",
    "MAX_SIM_RATE",
    "ROOM_ID",
    "BadOffer",
    "Engine",
    "EngineError",
    "NotConfigured",
    "RoomExists",
    "RoomFull",
    "RoomNotFound",
    "RoomUnavailable",
    "TooManyRooms",
    "check_offer",
]

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0  # an offer that never connects frees its viewer slot after this
PC_CLOSE_TIMEOUT = 5.0  # seconds a viewer's peer connection gets to close


@dataclass
class ViewerSession:
    id: str
    room_id: str
    pc: RTCPeerConnection
    tracks: tuple[PacketTrack, ...]


def _codecs(kind: str, mime: str) -> list:
    caps = RTCRtpSender.getCapabilities(kind).codecs
    wanted = [c for c in caps if c.mimeType.lower() == mime.lower()]
    return wanted + [c for c in caps if c.mimeType.lower() == f"{kind}/rtx"]


class Engine(EngineBase, EngineOutputs, EngineJanus):
    """Runs rooms and their WebRTC viewers on the current event loop."""

    def __init__(
        self,
        catalog: Callable[[str | None], Awaitable[list[ProductFacts]]],  # room id -> facts
        voice: VoiceChain | None = None,
        analyzer: Analyzer | None = None,
        open_ticket: Callable[[TicketRequest], Awaitable[object]] | None = None,
        platform_secrets: dict[str, str] | None = None,
        seen_ids: SeenIds | None = None,
        push_window: float = FRESHNESS,
        max_rooms: int = 8,
        max_rooms_per_owner: int = 3,
        max_viewers_per_room: int = MAX_VIEWERS_PER_ROOM,
    ) -> None:
        super().__init__(
            platform_secrets,
            seen_ids,
            push_window,
            max_rooms,
            max_rooms_per_owner,
            max_viewers_per_room,
        )
        self._joining: dict[str, int] = {}  # viewer slots taken by offers still negotiating
        self._ended: OrderedDict[str, str] = OrderedDict()  # session id -> room, recently ended
        self.catalog = catalog
        self.voice = voice or make_voice_chain()
        self.analyzer = analyzer or make_analyzer()
        self.open_ticket = open_ticket
        self.rooms: dict[str, Room] = {}
        self._stopping: dict[str, asyncio.Task] = {}  # room id -> its stop in progress
        self.sessions: dict[str, ViewerSession] = {}

    # --- rooms --------------------------------------------------------------------
    def configs(self) -> dict[str, RoomConfig]:
        return {rid: r.config for rid, r in self.rooms.items()}

    async def start_room(self, config: RoomConfig) -> dict:
        self.check_start(config)
        try:
            room = Room(
                config,
                self.catalog,
                self.voice,
                emit=lambda ev: self.publish(config.room_id, ev),
                analyzer=self.analyzer,
                open_ticket=self.open_ticket,
            )
        except ValueError as exc:  # a bad writer config, named by scripts_gen
            raise EngineError(str(exc)) from None
        self.rooms[config.room_id] = room
        try:
            await room.start()
        except BaseException:
            del self.rooms[config.room_id]
            await room.stop()
            raise
        self.publish(config.room_id, RoomStarted(config.room_id))
        log.info("room %s started with persona %s", config.room_id, config.persona)
        return room.info()

    async def stop_room(self, room_id: str) -> None:
        """Stop a live room. Concurrent stops of one room share a single stop (the second
        used to find the room gone and fail), and a caller that goes away mid-stop does not
        leave the room half stopped."""
        stopping = self._stopping.get(room_id)
        if stopping is None:
            self.room(room_id)  # RoomNotFound before anything starts
            stopping = self._stopping[room_id] = asyncio.ensure_future(self._stop_room(room_id))
            stopping.add_done_callback(lambda _: self._stopping.pop(room_id, None))
        await asyncio.shield(stopping)

    async def _stop_room(self, room_id: str) -> None:
        room = self.room(room_id)
        for sid in [s.id for s in self.sessions.values() if s.room_id == room_id]:
            await self.whep_delete(room_id, sid)
        await self.detach_janus(room_id)
        await room.stop()
        self.rooms.pop(room_id, None)
        self.publish(room_id, RoomStopped(room_id))
        log.info("room %s stopped", room_id)

    def room(self, room_id: str) -> Room:
        try:
            return self.rooms[room_id]
        except KeyError:
            raise RoomNotFound(f"no live room {room_id!r}") from None

    def list_rooms(self) -> list[dict]:
        return [r.info() for r in self.rooms.values()]

    def metrics(self) -> dict:
        return {
            "rooms": {rid: r.stats() for rid, r in self.rooms.items()},
            "viewers": len(self.sessions),
            "events_dropped": self.events_dropped,
            "voice": {
                "calls": self.voice.stats.calls,
                "fallbacks": self.voice.stats.fallbacks,
                "failures": dict(self.voice.stats.failures),
            },
        }

    # --- WHEP -----------------------------------------------------------------------
    async def whep_offer(self, room_id: str, sdp: str) -> tuple[str, str]:
        """Answer a viewer's SDP offer; returns (session id, answer SDP)."""
        room = self.room(room_id)
        kinds = check_offer(sdp)
        # the slot is taken before the first await, so concurrent offers cannot overshoot
        taken = sum(1 for s in self.sessions.values() if s.room_id == room_id)
        if taken + self._joining.get(room_id, 0) >= self.max_viewers_per_room:
            raise RoomFull(f"room {room_id} has reached {self.max_viewers_per_room} viewers")
        self._joining[room_id] = self._joining.get(room_id, 0) + 1
        try:
            return await self._negotiate(room, room_id, sdp, kinds)
        finally:
            self._joining[room_id] -= 1
            if not self._joining[room_id]:
                del self._joining[room_id]

    async def _negotiate(self, room: Room, room_id: str, sdp: str, kinds: set[str]):
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        tracks: list[PacketTrack] = []
        try:
            # transceivers exist before the offer is applied so that their codec
            # preferences (H.264 / Opus only) shape the negotiation
            video, audio = room.new_tracks()
            tracks = [video, audio]
            for track in tracks:
                if track.kind not in kinds:
                    room.drop_tracks(track)
                    continue
                sender = pc.addTrack(track)
                hook_keyframe_requests(sender, room.encoder.request_keyframe)
                transceiver = next(t for t in pc.getTransceivers() if t.sender is sender)
                mime = "video/H264" if track.kind == "video" else "audio/opus"
                transceiver.setCodecPreferences(_codecs(track.kind, mime))
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except EngineError:
            raise
        except Exception as exc:  # aiortc rejects malformed SDP with assorted errors
            room.drop_tracks(*tracks)
            await pc.close()
            raise BadOffer(f"cannot negotiate this offer: {exc}") from None
        session = ViewerSession(uuid.uuid4().hex, room_id, pc, tuple(tracks))
        self.sessions[session.id] = session

        @pc.on("connectionstatechange")
        async def _on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._end_session(session.id)

        asyncio.get_running_loop().call_later(
            CONNECT_TIMEOUT, self._reap_if_unconnected, session.id
        )
        self.publish(room_id, ViewerJoined(room_id))
        return session.id, pc.localDescription.sdp

    async def whep_delete(self, room_id: str, session_id: str) -> None:
        """End a viewer's session. Deleting one that already ended (its peer closed first)
        succeeds too; a session that never existed is 404."""
        s = self.sessions.get(session_id)
        if s is None:
            if self._ended.get(session_id) == room_id:
                return
            raise RoomNotFound(f"no session {session_id!r} in room {room_id!r}")
        if s.room_id != room_id:
            raise RoomNotFound(f"no session {session_id!r} in room {room_id!r}")
        await self._end_session(session_id)

    def _reap_if_unconnected(self, session_id: str) -> None:
        s = self.sessions.get(session_id)
        if s is not None and s.pc.connectionState != "connected":
            asyncio.ensure_future(self._end_session(session_id))

    async def _end_session(self, session_id: str) -> None:
        s = self.sessions.pop(session_id, None)
        if s is None:
            return
        self._ended[session_id] = s.room_id
        while len(self._ended) > 10_000:
            self._ended.popitem(last=False)
        room = self.rooms.get(s.room_id)
        if room:
            room.drop_tracks(*s.tracks)
        try:
            await asyncio.wait_for(s.pc.close(), PC_CLOSE_TIMEOUT)
        except TimeoutError:
            log.error(
                "viewer %s in room %s: peer connection did not close within %.0f s",
                session_id,
                s.room_id,
                PC_CLOSE_TIMEOUT,
            )
        self.publish(s.room_id, ViewerLeft(s.room_id))

    # --- danmaku ------------------------------------------------------------------
    def post_danmaku(
        self,
        room_id: str,
        user_id: str,
        nickname: str,
        text: str,
        source: str = "viewer",
        as_question: bool = False,
    ) -> Heard:
        """A viewer's comment: moderated, analysed, heard by the host. Never blocks."""
        room = self.room(room_id)
        check_comment(text)
        msg = Comment(room_id, user_id[:64], (nickname or "")[:64], source, text=text)
        return room.listener.hear(msg, as_question)

    def hear(self, room_id: str, message: RoomMessage) -> Heard:
        return self.room(room_id).listener.hear(message)

    def simulate(
        self, room_id: str, rate: float, mood: str = "mixed", duration: float | None = None
    ) -> dict:
        """Feed a room simulated viewers (demos and load); rate 0 stops it."""
        room = self.room(room_id)
        if rate == 0:
            return {"simulator": room.listener.detach("simulator")}
        check_simulation(rate, mood)
        source = SimulatorSource(
            room_id, rate=rate, seed=uuid.uuid4().int % 2**31, duration=duration, mood=mood
        )
        room.listener.attach("simulator", source)
        return {"simulator": True, "rate": rate, "mood": mood}

    # --- events ---------------------------------------------------------------------
    def shop_event(self, room_id: str | None, kind: str, sku: str | None, data: dict) -> None:
        """A shop event reaches the room it happened in (viewers and director); a product
        selling out reaches every room."""
        targets = list(self.rooms) if kind in GLOBAL_SHOP_EVENTS or room_id is None else [room_id]
        for rid in targets:
            room = self.rooms.get(rid)
            if room is None:
                continue
            room.director.on_shop_event(kind, sku, data)
            self.publish(rid, ShopNotice(rid, kind, sku, data))

    # --- the same, awaited: what the web layer calls on any engine ---------------------
    async def danmaku(
        self,
        room_id: str,
        user_id: str,
        nickname: str,
        text: str,
        source: str = "viewer",
        as_question: bool = False,
    ) -> Heard:
        return self.post_danmaku(room_id, user_id, nickname, text, source, as_question)

    async def hear_all(self, room_id: str, messages: list[RoomMessage]) -> list[Heard]:
        room = self.room(room_id)
        return [room.listener.hear(m) for m in messages]

    async def simulate_viewers(
        self, room_id: str, rate: float, mood: str = "mixed", duration: float | None = None
    ) -> dict:
        return self.simulate(room_id, rate, mood, duration)

    async def room_info(self, room_id: str) -> dict:
        return self.room(room_id).info()

    async def room_stats(self, room_id: str) -> dict:
        return self.room(room_id).stats()

    async def banned_words(self, room_id: str) -> list[str]:
        return self.room(room_id).listener.moderator.banned_words()

    async def ban_word(self, room_id: str, word: str) -> bool:
        return self.room(room_id).listener.moderator.add_banned(word)

    async def unban_word(self, room_id: str, word: str) -> bool:
        return self.room(room_id).listener.moderator.remove_banned(word)

    # --- the live console ---------------------------------------------------------------
    async def take_over(self, room_id: str, text: str) -> dict:
        """The farmer's line (主播说): checked, then said at the next phrase boundary.
        Answers {"accepted", "text", "reasons", …}; BadLine for text that is not a line."""
        room = self.room(room_id)
        banned = tuple(room.listener.moderator.banned_words())
        try:
            result = await room.director.take_over(text, banned)
        except TakeoverInvalid as exc:
            raise BadLine(str(exc)) from None
        return result.as_dict()

    async def set_answer_mode(self, room_id: str, mode: str, minutes: float | None = None) -> dict:
        """Answers spoken, text-only or muted, for `minutes` or until changed."""
        room = self.room(room_id)
        try:
            return room.director.set_answer_mode(mode, minutes)
        except TakeoverInvalid as exc:
            raise BadLine(str(exc)) from None

    async def close(self) -> None:
        for rid in list(self.rooms):
            await self.stop_room(rid)
