"""A room's outputs: RTMP pushes (platforms, the local nginx-rtmp for HLS) from its one encode.

The media loop hands each tick's H.264 packets and PCM to `RoomOutputs.feed`, which only
copies them into a bounded queue. A hub thread encodes AAC once for all pushes (FLV has no
Opus) and offers the tick to every push; each push muxes on its own thread
(`streamer.rtmp_push`). With no output, nothing runs and `feed` returns at once.
"""

from __future__ import annotations

import logging
import queue
import re
import secrets
import threading
import time
import uuid
from fractions import Fraction
from urllib.parse import urlsplit

import av
import numpy as np

from commerce.crypto import Keys
from streamer.rtmp_push import AUDIO_RATE, RtmpPush, Tick

log = logging.getLogger(__name__)

MAX_OUTPUTS = 4  # a room's own pushes; the local HLS push is not one of them
MAX_URL = 512
MAX_KEY = 512
MAX_NAME = 40
HUB_TICKS = 50  # ticks the hub may fall behind before the room drops them for outputs
AAC_FRAME = 1024
AAC_BITRATE = 64_000
JOIN_TIMEOUT = 8.0  # seconds a stopping room waits for its pushes to close
_KEY_CHARS = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]{2,45}\]$")


class OutputError(Exception):
    """An output request the caller can fix; the web layer picks the status."""


class BadOutput(OutputError):
    """A malformed URL, stream key or name."""


class TooManyOutputs(OutputError):
    pass


class OutputNotFound(OutputError):
    pass


def check_target(url: str, key: str, name: str = "") -> None:
    """Refuse what cannot be a push target, naming the part that is wrong."""
    if not isinstance(url, str) or not 0 < len(url) <= MAX_URL:
        raise BadOutput(f"URL must be 1-{MAX_URL} characters")
    if not _KEY_CHARS.match(url):
        raise BadOutput("URL must be printable ASCII without spaces")
    parts = urlsplit(url)
    if parts.scheme not in ("rtmp", "rtmps"):
        raise BadOutput("URL must start with rtmp:// or rtmps://")
    if parts.username or parts.password:
        raise BadOutput("URL must not carry a user name or password")
    if not parts.hostname or not _HOST.match(parts.netloc.rsplit(":", 1)[0] or ""):
        raise BadOutput("URL has no valid host")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise BadOutput("URL port must be a number from 1 to 65535") from None
    if not parts.path.strip("/"):
        raise BadOutput("URL needs an application path, e.g. rtmp://host/live")
    if parts.query or parts.fragment:
        raise BadOutput("URL must not have a query; put it in the stream key")
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY:
        raise BadOutput(f"stream key must be 1-{MAX_KEY} characters")
    if not _KEY_CHARS.match(key):
        raise BadOutput("stream key must be printable ASCII without spaces")
    if not isinstance(name, str) or len(name) > MAX_NAME:
        raise BadOutput(f"name must be at most {MAX_NAME} characters")


def mask_key(key: str) -> str:
    """Enough to tell two keys apart, never enough to use one: the last 4 of a long key."""
    return "****" + key[-4:] if len(key) >= 16 else "****"


class AacEncoder:
    """48 kHz mono int16 PCM in, AAC-LC packets out, stamped on the room's sample clock."""

    def __init__(self, bitrate: int = AAC_BITRATE) -> None:
        c = av.CodecContext.create("aac", "w")
        c.sample_rate = AUDIO_RATE
        c.layout = "mono"
        c.format = "fltp"
        c.bit_rate = bitrate
        c.time_base = Fraction(1, AUDIO_RATE)
        c.open()
        self.codec = c
        self._pending = np.zeros(0, np.float32)
        self._pending_pts: int | None = None  # sample clock of _pending[0]
        self.encodes = 0
        self.encode_ms = 0.0  # moving average per 40 ms tick

    def encode(self, pcm: np.ndarray, pts: int) -> list[tuple[bytes, int]]:
        t0 = time.thread_time()
        if self._pending_pts is None or self._pending_pts + len(self._pending) != pts:
            self._pending, self._pending_pts = np.zeros(0, np.float32), pts  # a gap: restart
        self._pending = np.concatenate([self._pending, pcm.astype(np.float32) / 32768.0])
        out: list[tuple[bytes, int]] = []
        while len(self._pending) >= AAC_FRAME:
            chunk, self._pending = self._pending[:AAC_FRAME], self._pending[AAC_FRAME:]
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="fltp", layout="mono")
            frame.sample_rate = AUDIO_RATE
            frame.pts = self._pending_pts
            frame.time_base = self.codec.time_base
            self._pending_pts += AAC_FRAME
            out += [(bytes(p), p.pts) for p in self.codec.encode(frame)]
            self.encodes += 1
        self.encode_ms += 0.05 * ((time.thread_time() - t0) * 1000 - self.encode_ms)
        return out


class RoomOutputs:
    """The RTMP pushes of one room and the hub thread that feeds them."""

    def __init__(self, room_id: str, fps: int, request_keyframe, keys: Keys | None = None):
        self.room_id = room_id
        self.fps = fps
        self._request_keyframe = request_keyframe
        # outputs live as long as the room, so a key of this process's own seals them
        self._keys = keys or Keys(secrets.token_bytes(32))
        self._pushes: dict[str, tuple[RtmpPush, dict]] = {}  # id -> push, its public view
        self._lock = threading.Lock()
        self._hub: threading.Thread | None = None
        self._hub_stop: threading.Event | None = None  # the running hub's own stop flag
        self._queue: queue.Queue = queue.Queue(HUB_TICKS)
        self.aac: AacEncoder | None = None
        self.hub_dropped = 0

    @property
    def active(self) -> bool:
        return bool(self._pushes)

    # --- media loop side -----------------------------------------------------------------
    def feed(self, vpkts: list[av.Packet], pcm: np.ndarray, audio_pts: int) -> None:
        """Called by the media loop after each tick; never blocks."""
        if not self._pushes:
            return
        video = [(bytes(p), p.pts, p.dts, p.is_keyframe) for p in vpkts]
        try:
            self._queue.put_nowait((video, pcm.copy(), audio_pts))
        except queue.Full:
            self.hub_dropped += 1

    def _hub_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                video, pcm, pts = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            encoder = self.aac
            try:
                aac = encoder.encode(pcm, pts) if encoder else []
            except Exception:  # a broken audio tick must not end every push
                log.exception("room %s: AAC encode failed", self.room_id)
                aac = []
            tick = Tick(video, aac)
            for push, _ in list(self._pushes.values()):
                push.offer(tick)

    # --- control (event loop side) -------------------------------------------------------
    def add(
        self,
        url: str,
        key: str,
        name: str = "",
        internal: bool = False,
        output_id: str | None = None,
    ) -> dict:
        """Start a push; `output_id` is given by a caller that keeps its own record (the web
        process of room workers, so an output keeps its id when its worker is replaced)."""
        check_target(url, key, name)
        with self._lock:
            own = sum(1 for _, v in self._pushes.values() if not v["internal"])
            if not internal and own >= MAX_OUTPUTS:
                raise TooManyOutputs(f"a room has at most {MAX_OUTPUTS} outputs")
            output_id = output_id or uuid.uuid4().hex[:12]
            if output_id in self._pushes:
                raise BadOutput(f"output {output_id!r} exists")
            view = {
                "id": output_id,
                "name": name,
                "url": url,
                "stream_key": mask_key(key),
                "internal": internal,
                "created_at": time.time(),
            }
            push = RtmpPush(
                output_id,
                url,
                self._keys.encrypt(key),
                self._keys.decrypt,
                self._request_keyframe,
                self.fps,
                name,
            )
            if self.aac is None:
                self.aac = AacEncoder()
            self._pushes[output_id] = (push, view)
            push.start()
            if self._hub_stop is None:
                self._hub_stop = threading.Event()
                self._hub = threading.Thread(
                    target=self._hub_loop,
                    args=(self._hub_stop,),
                    name=f"outputs-{self.room_id}",
                    daemon=True,
                )
                self._hub.start()
        log.info("room %s: output %s added (%s)", self.room_id, output_id, url)
        return self._view(output_id)

    def remove(self, output_id: str) -> RtmpPush:
        """Stop an output; returns its push so the caller may wait for its thread."""
        with self._lock:
            entry = self._pushes.pop(output_id, None)
            if entry is None:
                raise OutputNotFound(f"no output {output_id!r} in room {self.room_id}")
            entry[0].stop()
            if not self._pushes and self._hub_stop is not None:
                self._hub_stop.set()
                self._hub_stop = None
                self.aac = None
        log.info("room %s: output %s removed", self.room_id, output_id)
        return entry[0]

    def close(self, timeout: float = JOIN_TIMEOUT) -> None:
        """Stop every output and wait (bounded) for their threads: blocking, call off-loop."""
        pushes = [self.remove(oid) for oid in list(self._pushes)]
        deadline = time.monotonic() + timeout
        for p in pushes:
            p.join(max(0.0, deadline - time.monotonic()))
        if self._hub is not None:
            self._hub.join(max(0.0, deadline - time.monotonic()))

    # --- views ---------------------------------------------------------------------------
    def _view(self, output_id: str) -> dict:
        push, view = self._pushes[output_id]
        return {**view, **push.view()}

    def list(self) -> list[dict]:
        return [self._view(oid) for oid in list(self._pushes)]

    def stats(self) -> dict:
        aac = self.aac
        return {
            "outputs": self.list(),
            "output_audio": {
                "aac_encodes": aac.encodes if aac else 0,
                "aac_ms": round(aac.encode_ms, 3) if aac else 0.0,
                "hub_dropped": self.hub_dropped,
            },
        }


class EngineOutputs:
    """The engine's door to room outputs (mixed into `streamer.engine.Engine`). The key
    goes in once and never comes back out: views carry it masked."""

    def room(self, room_id: str):  # provided by the engine
        raise NotImplementedError

    def add_output(
        self,
        room_id: str,
        url: str,
        key: str,
        name: str = "",
        internal: bool = False,
        output_id: str | None = None,
    ) -> dict:
        return self.room(room_id).outputs.add(url, key, name, internal, output_id)

    def list_outputs(self, room_id: str) -> list[dict]:
        return self.room(room_id).outputs.list()

    def remove_output(self, room_id: str, output_id: str) -> None:
        self.room(room_id).outputs.remove(output_id)
