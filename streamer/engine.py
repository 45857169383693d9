"""`Engine`: the only door into the live rooms. The web layer talks to it with plain data
(room configs, SDP strings, event dicts), which is what lets rooms later move into worker
processes or onto other machines.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription

from avatars.personas import PERSONAS
from avatars.voice import VoiceChain, make_voice_chain
from commerce.facts import ProductFacts
from danmaku.analysis import Analyzer, make_analyzer
from danmaku.messages import Comment, RoomMessage
from danmaku.seen import SeenIds
from danmaku.sources.douyin import FRESHNESS, FUTURE_SKEW, parse_push, verify_push
from danmaku.sources.simulator import MOODS, SimulatorSource
from streamer.director import TicketRequest
from streamer.events import (
    Reply,
    RoomEvent,
    RoomStarted,
    RoomStopped,
    ShopNotice,
    ViewerJoined,
    ViewerLeft,
)
from streamer.fanout import PacketTrack, hook_keyframe_requests
from streamer.listener import Heard
from streamer.outputs import EngineOutputs
from streamer.room import Room, RoomConfig

log = logging.getLogger(__name__)

ROOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_SDP_BYTES = 64 * 1024
MAX_VIEWERS_PER_ROOM = 200
CONNECT_TIMEOUT = 10.0  # an offer that never connects frees its viewer slot after this
PC_CLOSE_TIMEOUT = 5.0  # seconds a viewer's peer connection gets to close
GLOBAL_SHOP_EVENTS = {"sold_out", "stock_changed"}
MAX_QUESTION_CHARS = 200
MAX_DANMAKU_CHARS = 2000  # refused before moderation; moderation caps what is shown
MAX_REPLY_WAITERS = 1000
REPLY_WAIT = 2.0  # the questions alias waits this long for the text answer
MAX_SIM_RATE = 2000.0


class EngineError(Exception):
    """Base of the errors the web layer turns into 4xx answers."""

    status = 400


class RoomNotFound(EngineError):
    status = 404


class RoomExists(EngineError):
    status = 409


class BadOffer(EngineError):
    status = 400


class RoomFull(EngineError):
    status = 503


class TooManyRooms(EngineError):
    status = 429


class NotConfigured(EngineError):
    status = 503


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


def check_offer(sdp: str) -> set[str]:
    """Reject what aiortc should never see: not SDP, no media we can send, no H.264/Opus.

    Returns the media kinds the offer asks for."""
    if len(sdp.encode("utf-8", "replace")) > MAX_SDP_BYTES:
        raise BadOffer(f"SDP offer larger than {MAX_SDP_BYTES} bytes")
    if not sdp.lstrip().startswith("v=0"):
        raise BadOffer("body is not an SDP offer (must start with v=0)")
    kinds = re.findall(r"^m=(\w+) ", sdp, flags=re.MULTILINE)
    if not kinds or not set(kinds) & {"audio", "video"}:
        raise BadOffer("SDP offer has no audio or video section")
    if "video" in kinds and not re.search(
        r"^a=rtpmap:\d+ H264/90000", sdp, flags=re.MULTILINE | re.IGNORECASE
    ):
        raise BadOffer("SDP offer does not accept H.264 video")
    if "audio" in kinds and not re.search(
        r"^a=rtpmap:\d+ opus/48000", sdp, flags=re.MULTILINE | re.IGNORECASE
    ):
        raise BadOffer("SDP offer does not accept Opus audio")
    return set(kinds) & {"audio", "video"}


class Engine(EngineOutputs):
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
        self.max_rooms = max_rooms
        self.max_rooms_per_owner = max_rooms_per_owner
        self.max_viewers_per_room = max_viewers_per_room
        self._joining: dict[str, int] = {}  # viewer slots taken by offers still negotiating
        self._ended: OrderedDict[str, str] = OrderedDict()  # session id -> room, recently ended
        self.catalog = catalog
        self.voice = voice or make_voice_chain()
        self.analyzer = analyzer or make_analyzer()
        self.open_ticket = open_ticket
        self.platform_secrets = dict(platform_secrets or {})
        # message ids of platform pushes, remembered for the freshness window (+ skew)
        self.push_window = push_window
        self.seen_ids = seen_ids or SeenIds(retention=push_window + FUTURE_SKEW)
        self.rooms: dict[str, Room] = {}
        self._stopping: dict[str, asyncio.Task] = {}  # room id -> its stop in progress
        self.sessions: dict[str, ViewerSession] = {}
        self._subscribers: dict[str, dict[asyncio.Queue, str | None]] = {}
        self._reply_waiters: dict[str, asyncio.Future] = {}
        self._recent_replies: OrderedDict[str, Reply] = OrderedDict()  # replies sent at once
        self.events_dropped = 0

    # --- rooms --------------------------------------------------------------------
    async def start_room(self, config: RoomConfig) -> dict:
        if not ROOM_ID.match(config.room_id):
            raise EngineError("room id must be 1-64 letters, digits, '-' or '_'")
        if config.persona not in PERSONAS:
            raise EngineError(
                f"unknown persona {config.persona!r}; choose one of {', '.join(PERSONAS)}"
            )
        if config.room_id in self.rooms:
            raise RoomExists(f"room {config.room_id} is already live")
        if len(self.rooms) >= self.max_rooms:
            raise TooManyRooms(f"this server runs at most {self.max_rooms} rooms at once")
        owned = sum(
            1 for r in self.rooms.values() if config.owner and r.config.owner == config.owner
        )
        if owned >= self.max_rooms_per_owner:
            raise TooManyRooms(f"one operator may run at most {self.max_rooms_per_owner} rooms")
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
        await room.stop()
        self.rooms.pop(room_id, None)
        self.publish(room_id, RoomStopped(room_id))
        log.info("room %s stopped", room_id)

    def room(self, room_id: str) -> Room:
        try:
            return self.rooms[room_id]
        except KeyError:
            raise RoomNotFound(f"no live room {room_id!r}") from None

    def room_shop(self, room_id: str | None) -> str | None:
        """The shop a live room belongs to; None when there is no such room."""
        room = self.rooms.get(room_id or "")
        return room.config.shop_id if room else None

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
        if not isinstance(text, str) or not text.strip():
            raise EngineError("comment is empty")
        if len(text) > MAX_DANMAKU_CHARS:
            raise EngineError(f"comment longer than {MAX_DANMAKU_CHARS} characters")
        msg = Comment(room_id, user_id[:64], (nickname or "")[:64], source, text=text)
        return room.listener.hear(msg, as_question)

    def hear(self, room_id: str, message: RoomMessage) -> Heard:
        return self.room(room_id).listener.hear(message)

    async def ask(self, room_id: str, viewer_id: str, question: str) -> dict:
        """The questions alias: a comment, plus the text answer when it comes within 2 s."""
        question = question.strip()
        if not question:
            raise EngineError("question is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise EngineError(f"question longer than {MAX_QUESTION_CHARS} characters")
        heard = self.post_danmaku(room_id, viewer_id, "", question, as_question=True)
        out = vars(heard) | {"text": None, "handed_off": None}
        if not heard.accepted or heard.action not in ("answer", "merged"):
            return out
        early = self._recent_replies.pop(heard.id, None)
        if early is not None:
            return out | {"text": early.text, "handed_off": early.handed_off}
        if len(self._reply_waiters) >= MAX_REPLY_WAITERS:
            return out
        fut = asyncio.get_running_loop().create_future()
        self._reply_waiters[heard.id] = fut
        try:
            reply: Reply = await asyncio.wait_for(fut, REPLY_WAIT)
            out.update(text=reply.text, handed_off=reply.handed_off)
        except TimeoutError:
            pass
        finally:
            self._reply_waiters.pop(heard.id, None)
        return out

    async def platform_push(self, room_id: str, platform: str, headers, body: bytes) -> dict:
        """A platform's live-data push (Douyin-shaped): signed, fresh, for this room, and
        each message id heard once (durably when `seen_ids` has a store). Raises BadPush
        (bad_signature, stale, wrong_room, or a malformed body) and SeenFull as they are."""
        room = self.room(room_id)
        if platform != "douyin":
            raise RoomNotFound(f"unknown platform {platform!r}")
        secret = self.platform_secrets.get(platform)
        if not secret:
            raise NotConfigured(f"{platform} push is not configured on this server")
        bound = room.config.douyin_room_id or room_id
        verify_push(headers, body, secret, bound, window=self.push_window)
        messages = parse_push(headers, body, room_id)
        first = await self.seen_ids.first_seen(platform, [m.dedup_id for m in messages])
        room = self.room(room_id)  # it may have stopped during the write
        heard = [room.listener.hear(m) for m, new in zip(messages, first, strict=True) if new]
        accepted = sum(1 for h in heard if h.reason != "duplicate_id")
        return {
            "received": len(messages),
            "accepted": accepted,
            "duplicates": len(messages) - accepted,
        }

    def simulate(
        self, room_id: str, rate: float, mood: str = "mixed", duration: float | None = None
    ) -> dict:
        """Feed a room simulated viewers (demos and load); rate 0 stops it."""
        room = self.room(room_id)
        if rate == 0:
            return {"simulator": room.listener.detach("simulator")}
        if not 0 < rate <= MAX_SIM_RATE:
            raise EngineError(f"rate must be between 0 and {MAX_SIM_RATE:g} per second")
        if mood not in MOODS:
            raise EngineError(f"mood must be one of {', '.join(MOODS)}")
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

    def subscribe(
        self, room_id: str, maxsize: int = 100, viewer_id: str | None = None
    ) -> asyncio.Queue:
        """Events of one room; `viewer_id` also receives replies addressed to that viewer."""
        q: asyncio.Queue = asyncio.Queue(maxsize)
        self._subscribers.setdefault(room_id, {})[q] = viewer_id
        return q

    def unsubscribe(self, room_id: str, q: asyncio.Queue) -> None:
        self._subscribers.get(room_id, {}).pop(q, None)

    def publish(self, room_id: str, event: RoomEvent) -> None:
        if isinstance(event, Reply):
            for qid in event.question_ids:
                fut = self._reply_waiters.get(qid)
                if fut is not None and not fut.done():
                    fut.set_result(event)
                else:
                    self._recent_replies[qid] = event
                    while len(self._recent_replies) > MAX_REPLY_WAITERS:
                        self._recent_replies.popitem(last=False)
        for q, viewer in self._subscribers.get(room_id, {}).items():
            if not event.visible_to(viewer):
                continue
            # a reply reaches each asker as their own part: no other asker's ids
            item = event.for_viewer(viewer) if isinstance(event, Reply) else event
            if q.full():  # a slow listener loses old events, never blocks the room
                q.get_nowait()
                self.events_dropped += 1
            q.put_nowait(item)

    async def close(self) -> None:
        for rid in list(self.rooms):
            await self.stop_room(rid)
