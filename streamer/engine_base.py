"""What every `Engine` shares, wherever its rooms run: the checks on plain data coming in,
the named errors, and the room event hub (subscribers, replies awaited by the questions
alias, platform pushes verified and deduplicated before a room hears them).

`streamer.engine.Engine` runs rooms on the current event loop; `streamer.workers.WorkerEngine`
runs them in worker processes. The web layer sees only the methods below.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections import OrderedDict

from aiortc.sdp import SessionDescription

from avatars.personas import PERSONAS
from danmaku.messages import RoomMessage
from danmaku.seen import SeenIds
from danmaku.sources.douyin import FRESHNESS, FUTURE_SKEW, parse_push, verify_push
from streamer.events import Reply, RoomEvent
from streamer.listener import Heard
from streamer.room import RoomConfig

ROOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_SDP_BYTES = 64 * 1024
MAX_SDP_LINES = 2000
MAX_MEDIA_SECTIONS = 8  # a viewer offers 2 (video, audio), maybe a data channel
MAX_CANDIDATES = 64  # each one is an address the server would send ICE checks to
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tabs, CR, LF allowed
MAX_VIEWERS_PER_ROOM = 200
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


class BadLine(EngineError):
    """A console command's text or setting is not one the room takes (empty, too long,
    control characters, an unknown answer mode)."""

    status = 422


class RoomUnavailable(EngineError):
    """The room's worker is gone or did not answer in time; the room is being restored."""

    status = 503


ENGINE_ERRORS: dict[str, type[EngineError]] = {
    cls.__name__: cls
    for cls in (
        EngineError,
        RoomNotFound,
        RoomExists,
        BadOffer,
        RoomFull,
        TooManyRooms,
        NotConfigured,
        RoomUnavailable,
        BadLine,
    )
}


def check_offer(sdp: str) -> set[str]:
    """Read a viewer's offer with aiortc's own SDP parser and refuse, with the reason, what
    aiortc should never be handed: not SDP, unparseable lines, too many sections or
    candidates, no media we can send, no H.264/Opus, a section that will not receive, or
    missing ICE/DTLS parameters.

    Returns the media kinds the offer asks for."""
    if not isinstance(sdp, str):
        raise BadOffer("SDP offer must be text")
    if len(sdp.encode("utf-8", "replace")) > MAX_SDP_BYTES:
        raise BadOffer(f"SDP offer larger than {MAX_SDP_BYTES} bytes")
    if not sdp.lstrip().startswith("v=0"):
        raise BadOffer("body is not an SDP offer (must start with v=0)")
    if _CONTROL.search(sdp):
        raise BadOffer("SDP offer contains control characters")
    lines = sdp.splitlines()
    if len(lines) > MAX_SDP_LINES:
        raise BadOffer(f"SDP offer has more than {MAX_SDP_LINES} lines")
    if sum(1 for line in lines if line.startswith("m=")) > MAX_MEDIA_SECTIONS:
        raise BadOffer(f"SDP offer has more than {MAX_MEDIA_SECTIONS} media sections")
    try:
        desc = SessionDescription.parse(sdp)
    except Exception as exc:  # the parser fails with assorted errors; name it, keep it short
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise BadOffer(f"malformed SDP offer ({detail[:120]})") from None
    media = [m for m in desc.media if m.kind in ("audio", "video")]
    if not media:
        raise BadOffer("SDP offer has no audio or video section")
    if sum(len(m.ice_candidates) for m in desc.media) > MAX_CANDIDATES:
        raise BadOffer(f"SDP offer has more than {MAX_CANDIDATES} ICE candidates")
    for m in desc.media:
        for c in m.ice_candidates:
            _check_candidate(c)
    for m in media:
        codecs = {(c.mimeType.lower(), c.clockRate) for c in m.rtp.codecs}
        if m.kind == "video" and ("video/h264", 90_000) not in codecs:
            raise BadOffer("SDP offer does not accept H.264 video")
        if m.kind == "audio" and ("audio/opus", 48_000) not in codecs:
            raise BadOffer("SDP offer does not accept Opus audio")
        if m.direction in ("sendonly", "inactive"):
            raise BadOffer(f"SDP offer's {m.kind} section does not receive ({m.direction})")
        if not m.ice.usernameFragment or not m.ice.password:
            raise BadOffer("SDP offer has no ICE credentials (a=ice-ufrag, a=ice-pwd)")
        if not m.rtcp_mux:
            raise BadOffer("SDP offer does not use RTCP mux (a=rtcp-mux)")
        if m.dtls is None or not m.dtls.fingerprints:
            raise BadOffer("SDP offer has no DTLS fingerprint and setup role")
    return {m.kind for m in media}


def _check_candidate(c) -> None:
    """A remote candidate is an address the server will send ICE checks to: an IP literal
    (unicast) or a browser's mDNS name, a real port, UDP or TCP."""
    if c.protocol.lower() not in ("udp", "tcp"):
        raise BadOffer(f"ICE candidate protocol must be UDP or TCP, not {c.protocol[:16]!r}")
    if not 0 < c.port < 65536 or c.component not in (1, 2):
        raise BadOffer("ICE candidate has an invalid port or component")
    if c.ip.endswith(".local") and len(c.ip) <= 255:
        return
    try:
        addr = ipaddress.ip_address(c.ip)
    except ValueError:
        raise BadOffer(f"ICE candidate address {c.ip[:64]!r} is not an IP address") from None
    if addr.is_multicast or addr.is_unspecified or (addr.version == 4 and addr.is_reserved):
        raise BadOffer(f"ICE candidate address {c.ip} is not a unicast address")


def check_comment(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise EngineError("comment is empty")
    if len(text) > MAX_DANMAKU_CHARS:
        raise EngineError(f"comment longer than {MAX_DANMAKU_CHARS} characters")
    return text


def check_simulation(rate: float, mood: str) -> None:
    from danmaku.sources.simulator import MOODS

    if not 0 <= rate <= MAX_SIM_RATE:
        raise EngineError(f"rate must be between 0 and {MAX_SIM_RATE:g} per second")
    if mood not in MOODS:
        raise EngineError(f"mood must be one of {', '.join(MOODS)}")


class EngineBase:
    """The room event hub and the checks shared by every engine. Subclasses place rooms."""

    def __init__(
        self,
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
        self.platform_secrets = dict(platform_secrets or {})
        # message ids of platform pushes, remembered for the freshness window (+ skew)
        self.push_window = push_window
        self.seen_ids = seen_ids or SeenIds(retention=push_window + FUTURE_SKEW)
        self._subscribers: dict[str, dict[asyncio.Queue, str | None]] = {}
        self._reply_waiters: dict[str, asyncio.Future] = {}
        self._recent_replies: OrderedDict[str, Reply] = OrderedDict()  # replies sent at once
        self.events_dropped = 0

    # --- what a subclass provides -----------------------------------------------------
    def configs(self) -> dict[str, RoomConfig]:
        """The live rooms' configs by room id."""
        raise NotImplementedError

    async def danmaku(
        self,
        room_id: str,
        user_id: str,
        nickname: str,
        text: str,
        source: str = "viewer",
        as_question: bool = False,
    ) -> Heard:
        raise NotImplementedError

    async def hear_all(self, room_id: str, messages: list[RoomMessage]) -> list[Heard]:
        raise NotImplementedError

    # --- checks -----------------------------------------------------------------------
    def check_start(self, config: RoomConfig) -> None:
        """Refuse a room before anything is built for it: bad id or persona, taken, or caps."""
        if not isinstance(config.room_id, str) or not ROOM_ID.match(config.room_id):
            raise EngineError("room id must be 1-64 letters, digits, '-' or '_'")
        if config.persona not in PERSONAS:
            raise EngineError(
                f"unknown persona {config.persona!r}; choose one of {', '.join(PERSONAS)}"
            )
        live = self.configs()
        if config.room_id in live:
            raise RoomExists(f"room {config.room_id} is already live")
        if len(live) >= self.max_rooms:
            raise TooManyRooms(f"this server runs at most {self.max_rooms} rooms at once")
        owned = sum(1 for c in live.values() if config.owner and c.owner == config.owner)
        if owned >= self.max_rooms_per_owner:
            raise TooManyRooms(f"one operator may run at most {self.max_rooms_per_owner} rooms")

    def config_of(self, room_id: str) -> RoomConfig:
        try:
            return self.configs()[room_id]
        except KeyError:
            raise RoomNotFound(f"no live room {room_id!r}") from None

    def room_shop(self, room_id: str | None) -> str | None:
        """The shop a live room belongs to; None when there is no such room."""
        config = self.configs().get(room_id or "")
        return config.shop_id if config else None

    # --- questions and pushes -----------------------------------------------------------
    async def ask(self, room_id: str, viewer_id: str, question: str) -> dict:
        """The questions alias: a comment, plus the text answer when it comes within 2 s."""
        question = question.strip()
        if not question:
            raise EngineError("question is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise EngineError(f"question longer than {MAX_QUESTION_CHARS} characters")
        heard = await self.danmaku(room_id, viewer_id, "", question, as_question=True)
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
        config = self.config_of(room_id)
        if platform != "douyin":
            raise RoomNotFound(f"unknown platform {platform!r}")
        secret = self.platform_secrets.get(platform)
        if not secret:
            raise NotConfigured(f"{platform} push is not configured on this server")
        bound = config.douyin_room_id or room_id
        verify_push(headers, body, secret, bound, window=self.push_window)
        messages = parse_push(headers, body, room_id)
        first = await self.seen_ids.first_seen(platform, [m.dedup_id for m in messages])
        fresh = [m for m, new in zip(messages, first, strict=True) if new]
        heard = await self.hear_all(room_id, fresh)  # the room may have stopped meanwhile
        accepted = sum(1 for h in heard if h.reason != "duplicate_id")
        return {
            "received": len(messages),
            "accepted": accepted,
            "duplicates": len(messages) - accepted,
        }

    # --- events ---------------------------------------------------------------------
    def subscribe(
        self, room_id: str, maxsize: int = 100, viewer_id: str | None = None
    ) -> asyncio.Queue:
        """Events of one room; `viewer_id` also receives replies addressed to that viewer."""
        q: asyncio.Queue = asyncio.Queue(maxsize)
        self._subscribers.setdefault(room_id, {})[q] = viewer_id
        return q

    def unsubscribe(self, room_id: str, q: asyncio.Queue) -> None:
        self._subscribers.get(room_id, {}).pop(q, None)

    def deliver(self, room_id: str, event: RoomEvent) -> int:
        """Publish an event addressed to some viewers (its `audience`) and say how many of
        their sockets in this room took it: 0 when they have left."""
        reached = sum(
            1
            for viewer in self._subscribers.get(room_id, {}).values()
            if viewer is not None and event.visible_to(viewer)
        )
        self.publish(room_id, event)
        return reached

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
