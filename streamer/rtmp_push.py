"""One RTMP push: muxes the room's shared H.264 and AAC packets into FLV, on its own thread.

The room never waits for a push. Packets reach it through a bounded queue; when the queue
is full the tick is dropped and counted. A failed connection or write is retried with
exponential backoff and jitter, and each (re)connection starts on a fresh keyframe with
timestamps counted from it. The stream key is kept sealed and is unsealed only to open the
connection; errors are scrubbed of it before they are stored.
"""

from __future__ import annotations

import errno
import io
import logging
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from urllib.parse import quote

import av

log = logging.getLogger(__name__)

AUDIO_RATE = 48_000
QUEUE_TICKS = 100  # frames (4 s at 25 fps) a push may fall behind before ticks are dropped
KEYFRAME_WAIT = 5.0  # seconds a fresh connection waits for the room's next keyframe
BACKOFF_FIRST = 0.5  # seconds before the first retry; doubled each failure
BACKOFF_CAP = 15.0
STEADY = 10.0  # seconds connected after which the next failure retries from the start
RATE_WINDOW = 5.0  # seconds of sent bytes the bitrate is measured over

STALL = 5.0  # seconds live without a byte sent before the push shows as stalled
# states, in the order a push normally moves through them; "stalled" is a live push whose
# peer stopped reading (its writes block; the room drops ticks for it meanwhile)
CONNECTING, LIVE, RETRYING, STOPPED, STALLED = (
    "connecting",
    "live",
    "retrying",
    "stopped",
    "stalled",
)

VideoPacket = tuple[bytes, int, int, bool]  # data, pts, dts (1/fps), keyframe
AudioPacket = tuple[bytes, int]  # data, pts (1/48000)


@dataclass
class Tick:
    """One media tick's packets, as plain bytes (no av objects cross threads)."""

    video: list[VideoPacket]
    audio: list[AudioPacket]


@dataclass
class PushStats:
    state: str = CONNECTING
    connects: int = 0  # successful connections
    reconnects: int = 0  # successful connections after the first
    failures: int = 0
    last_error: str = ""
    hint: str = ""  # the last error's likely cause, for the panel (简体中文)
    last_error_at: float | None = None
    dropped_ticks: int = 0  # ticks the queue had no room for
    packets: int = 0
    bytes_sent: int = 0
    live_since: float | None = None
    last_sent_at: float = 0.0  # monotonic
    next_retry_in: float | None = None
    _sent: deque = field(default_factory=deque)  # (monotonic, bytes) within RATE_WINDOW

    def sent(self, n: int) -> None:
        now = time.monotonic()
        self.last_sent_at = now
        self.packets += 1
        self.bytes_sent += n
        self._sent.append((now, n))
        while self._sent and now - self._sent[0][0] > RATE_WINDOW:
            self._sent.popleft()

    def kbps(self) -> float:
        now = time.monotonic()
        recent = sum(n for t, n in self._sent if now - t <= RATE_WINDOW)
        return round(recent * 8 / RATE_WINDOW / 1000, 1)


def backoff(failures: int, rng: random.Random) -> float:
    """Seconds before retry number `failures` (1-based): doubling, capped, with full jitter
    over its upper half so a fleet of pushes does not reconnect in step."""
    ceiling = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** max(0, failures - 1))
    return ceiling * (0.5 + 0.5 * rng.random())


class PushFailed(Exception):
    """A connection or write failed; the message is already scrubbed of the stream key."""

    def __init__(self, message: str, hint: str = "推流中断，正在重连") -> None:
        super().__init__(message)
        self.hint = hint  # what the farmer reads in the panel


def hint_for(exc: BaseException, live: bool) -> str:
    """The likely cause, in the panel's words."""
    if live:
        return "推流中断，正在重连"
    if isinstance(exc, ConnectionRefusedError):
        return "无法连接推流服务器（地址或端口不对，或服务器未开启）"
    if isinstance(exc, TimeoutError):
        return "连接推流服务器超时"
    if isinstance(exc, EOFError | ConnectionResetError) or getattr(exc, "errno", 0) == errno.EIO:
        return "推流服务器拒绝了推流（请检查推流地址和推流码）"
    text = str(exc).lower()
    if "name or service" in text or "resolve" in text or "getaddrinfo" in text:
        return "找不到推流服务器（域名不对）"
    return "连接推流服务器失败"


class RtmpPush:
    """A push of one room to one RTMP URL + stream key, on its own thread."""

    def __init__(
        self,
        output_id: str,
        url: str,
        sealed_key: str,
        unseal: Callable[[str], str],
        request_keyframe: Callable[[], None],
        fps: int,
        name: str = "",
    ) -> None:
        self.id = output_id
        self.url = url
        self.name = name
        self._sealed_key = sealed_key
        self._unseal = unseal
        self._request_keyframe = request_keyframe
        self.fps = fps
        self.stats = PushStats()
        self._queue: queue.Queue[Tick] = queue.Queue(QUEUE_TICKS)
        self._stop = threading.Event()
        self._accepting = False  # a connection is being made or is live
        self._rng = random.Random()
        self._thread = threading.Thread(target=self._run, name=f"rtmp-{output_id}", daemon=True)

    # --- room side -----------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def offer(self, tick: Tick) -> None:
        """Never blocks: a push that cannot keep up loses ticks, the room loses nothing."""
        if not self._accepting:  # between connections: nothing to send it to
            return
        try:
            self._queue.put_nowait(tick)
        except queue.Full:
            self.stats.dropped_ticks += 1

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    # --- push thread ---------------------------------------------------------------------
    def _run(self) -> None:
        s = self.stats
        while not self._stop.is_set():
            s.state = CONNECTING
            s.next_retry_in = None
            started = time.monotonic()
            try:
                self._stream()
            except PushFailed as exc:
                s.failures += 1
                s.last_error, s.last_error_at = str(exc), time.time()
                s.hint = exc.hint
                log.warning("rtmp output %s: %s", self.id, exc)
            except Exception as exc:  # a bug must not end the push: record it and retry
                s.failures += 1
                s.last_error, s.last_error_at = type(exc).__name__, time.time()
                s.hint = "推流出错，正在重连"
                log.error("rtmp output %s: unexpected %s", self.id, type(exc).__name__)
            finally:
                self._accepting = False
            if self._stop.is_set():
                break
            if s.live_since is not None and time.monotonic() - started > STEADY:
                s.failures = 1  # it ran a while: this is a fresh failure, not a streak
            s.live_since = None
            delay = backoff(s.failures, self._rng)
            s.state, s.next_retry_in = RETRYING, round(delay, 2)
            self._stop.wait(delay)
        s.state, s.live_since, s.next_retry_in = STOPPED, None, None

    def _scrub(self, text: str, key: str) -> str:
        for form in {key, quote(key, safe=""), quote(key)}:
            if form:
                text = text.replace(form, "****")
        return text[:300]

    def _stream(self) -> None:
        """Connect, wait for a keyframe, then mux until stopped or a write fails."""
        key = self._unseal(self._sealed_key)
        target = f"{self.url.rstrip('/')}/{key}"
        container = None
        self._accepting = True
        try:
            try:
                container = av.open(target, "w", format="flv")
                first = self._first_keyframe()
                if first is None:
                    return  # stopped while waiting
                tick, key_index = first
                video, audio = self._add_streams(container, tick.video[key_index][0])
                container.start_encoding()  # connects, handshakes and sends the FLV header
                s = self.stats
                s.connects += 1
                s.reconnects = s.connects - 1
                s.state, s.live_since, s.last_sent_at = LIVE, time.time(), time.monotonic()
                log.info("rtmp output %s: live to %s", self.id, self.url)
                base = tick.video[key_index][1]
                tick = Tick(tick.video[key_index:], tick.audio)
                while not self._stop.is_set():
                    self._mux(container, video, audio, tick, base)
                    tick = self._next_tick()
                    while tick is None and not self._stop.is_set():
                        tick = self._next_tick()
                    if tick is None:
                        break
            except (av.FFmpegError, OSError) as exc:
                detail = f"{type(exc).__name__}: {exc} ({self.url})"
                live = self.stats.state == LIVE
                raise PushFailed(self._scrub(detail, key), hint_for(exc, live)) from None
        finally:
            if container is not None:
                try:
                    container.close()
                except Exception:  # noqa: BLE001 - a dead peer fails the trailer too; ignore
                    pass

    def _next_tick(self) -> Tick | None:
        try:
            return self._queue.get(timeout=0.2)
        except queue.Empty:
            return None

    def _first_keyframe(self) -> tuple[Tick, int] | None:
        """Drop what is queued (it predates this connection) and wait for an IDR."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._request_keyframe()
        deadline = time.monotonic() + KEYFRAME_WAIT
        while not self._stop.is_set():
            if time.monotonic() > deadline:
                raise PushFailed(f"no keyframe from the room within {KEYFRAME_WAIT:.0f} s")
            tick = self._next_tick()
            if tick is None:
                continue
            for i, p in enumerate(tick.video):
                if p[3]:
                    return tick, i
        return None

    def _add_streams(self, container, keyframe: bytes):
        """FLV needs the SPS/PPS up front: the room's keyframes carry them in-band, so the
        video stream is templated from a demux of that one keyframe (no encoder is opened)."""
        probe = av.open(io.BytesIO(keyframe), format="h264")
        try:
            video = container.add_stream_from_template(probe.streams.video[0])
        finally:
            probe.close()
        video.time_base = Fraction(1, self.fps)
        audio = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        audio.time_base = Fraction(1, AUDIO_RATE)
        return video, audio

    def _mux(self, container, video, audio, tick: Tick, base: int) -> None:
        """Write one tick, timestamps counted from this connection's first keyframe."""
        vtb, atb = Fraction(1, self.fps), Fraction(1, AUDIO_RATE)
        abase = base * AUDIO_RATE // self.fps
        for data, pts, dts, keyframe in tick.video:
            p = av.Packet(data)
            p.pts, p.dts, p.time_base, p.is_keyframe = pts - base, dts - base, vtb, keyframe
            p.stream = video
            container.mux(p)
            self.stats.sent(len(data))
        for data, pts in tick.audio:
            if pts < abase:
                continue  # sound from before the first picture of this connection
            p = av.Packet(data)
            p.pts = p.dts = pts - abase
            p.time_base = atb
            p.stream = audio
            container.mux(p)
            self.stats.sent(len(data))

    # --- view ----------------------------------------------------------------------------
    def view(self) -> dict:
        s = self.stats
        state = s.state
        if state == LIVE and time.monotonic() - s.last_sent_at > STALL:
            state = STALLED
        return {
            "state": state,
            "kbps": s.kbps(),
            "connects": s.connects,
            "reconnects": s.reconnects,
            "failures": s.failures,
            "last_error": s.last_error,
            "error_hint": s.hint,
            "last_error_at": s.last_error_at,
            "next_retry_in": s.next_retry_in,
            "live_since": s.live_since,
            "dropped_ticks": s.dropped_ticks,
            "queued_ticks": self._queue.qsize(),
            "packets": s.packets,
            "bytes_sent": s.bytes_sent,
        }
