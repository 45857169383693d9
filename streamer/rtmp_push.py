"""One RTMP push: the room's shared H.264 and AAC packets, muxed into FLV and sent.

The room never waits for a push. Packets reach it through a bounded queue; when the queue
is full the tick is dropped and counted. Each connection runs in a child process
(`streamer.rtmp_child`): PyAV connects and handshakes holding the GIL with no timeout, so a
server that never answers must not be able to freeze the room's process. The push thread
feeds the child and holds it to deadlines: connected within `CONNECT_TIMEOUT`, and once
live, never a write blocked longer than `IO_TIMEOUT`; past either the child is killed and
the push reconnects. A failed connection or write is retried with exponential backoff and
jitter, and each (re)connection starts on a fresh keyframe with timestamps counted from it.
The stream key is kept sealed and is unsealed only to hand it to the child; errors are
scrubbed of it before they are stored.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import pickle
import queue
import random
import select
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)

AUDIO_RATE = 48_000
QUEUE_TICKS = 100  # frames (4 s at 25 fps) a push may fall behind before ticks are dropped
KEYFRAME_WAIT = 5.0  # seconds a fresh connection waits for the room's next keyframe
BACKOFF_FIRST = 0.5  # seconds before the first retry; doubled each failure
BACKOFF_CAP = 15.0
STEADY = 10.0  # seconds connected after which the next failure retries from the start
RATE_WINDOW = 5.0  # seconds of sent bytes the bitrate is measured over

STALL = 5.0  # seconds live without a byte sent before the push shows as stalled
CONNECT_TIMEOUT = 10.0  # seconds to connect, handshake and send the FLV header
IO_TIMEOUT = 10.0  # seconds a live push may send nothing (a peer that stopped reading)
SPAWN_TIMEOUT = 30.0  # seconds the connection's process may take to start (a loaded machine)
PIPE_BYTES = 1 << 20  # the child's stdin pipe: a keyframe tick fits many times over
ROOT = Path(__file__).resolve().parents[1]
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


class IoTimeout(TimeoutError):
    """A connect or write ran past its deadline; its sockets were shut down."""


def scrub(text: str, key: str) -> str:
    """The text without the stream key in any of its URL forms, cut to 300 characters."""
    for form in {key, quote(key, safe=""), quote(key)}:
        if form:
            text = text.replace(form, "****")
    return text[:300]


class PushFailed(Exception):
    """A connection or write failed; the message is already scrubbed of the stream key."""

    def __init__(self, message: str, hint: str = "推流中断，正在重连") -> None:
        super().__init__(message)
        self.hint = hint  # what the farmer reads in the panel


def hint_for(exc: BaseException, live: bool) -> str:
    """The likely cause, in the panel's words."""
    if live:
        return "推流中断，正在重连"
    if isinstance(exc, IoTimeout):
        return "推流服务器无响应（超时），正在重连"
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
        self._child: subprocess.Popen | None = None

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
        """Ends the push; a connection stuck on a dead peer is killed, never waited for."""
        self._stop.set()
        child = self._child
        if child is not None and child.poll() is None:
            child.kill()

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
        return scrub(text, key)

    def _spawn(self, key: str) -> tuple[subprocess.Popen, _ChildEvents]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        child = subprocess.Popen(
            [sys.executable, "-m", "streamer.rtmp_child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=str(ROOT),
        )
        try:
            fcntl.fcntl(child.stdin.fileno(), 1031, PIPE_BYTES)  # F_SETPIPE_SZ
        except OSError:
            pass  # the default 64 KiB works too, with more waiting
        os.set_blocking(child.stdin.fileno(), False)
        events = _ChildEvents(child, self)
        self._child = child
        if self._stop.is_set():  # stop() came while spawning: it found no child to kill
            child.kill()
        config = json.dumps({"url": self.url, "key": key, "fps": self.fps}).encode() + b"\n"
        self._write(child, config, time.monotonic() + SPAWN_TIMEOUT, "start")
        return child, events

    def _write(self, child: subprocess.Popen, data: bytes, deadline: float, what: str) -> None:
        """Hand bytes to the child without ever blocking past `deadline`."""
        fd = child.stdin.fileno()
        view = memoryview(data)
        while view:
            if self._stop.is_set():
                raise _Stopped
            if time.monotonic() > deadline:
                raise IoTimeout(what)
            _, ready, _ = select.select([], [fd], [], 0.2)
            if not ready:
                continue
            try:
                n = os.write(fd, view)
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError):
                raise _ChildGone from None
            view = view[n:]

    def _stream(self) -> None:
        """Wait for a keyframe, start a connection process, feed it until stopped or it fails."""
        key = self._unseal(self._sealed_key)
        self._accepting = True
        child = None
        events = None
        s = self.stats
        try:
            first = self._first_keyframe()
            if first is None:
                return  # stopped while waiting
            tick, key_index = first
            tick = Tick(tick.video[key_index:], tick.audio)
            child, events = self._spawn(key)
            if not events.wait_ready(SPAWN_TIMEOUT, self._stop):
                if self._stop.is_set():
                    return
                raise IoTimeout("start")
            connect_by = time.monotonic() + CONNECT_TIMEOUT
            while not self._stop.is_set():
                if tick is not None:
                    frame = pickle.dumps((tick.video, tick.audio), protocol=5)
                    by = connect_by if not events.live else time.monotonic() + IO_TIMEOUT
                    what = "write" if events.live else "connect"
                    self._write(child, struct.pack("!I", len(frame)) + frame, by, what)
                if events.failed:
                    break
                if not events.live and time.monotonic() > connect_by:
                    raise IoTimeout("connect")
                if events.live and time.monotonic() - s.last_sent_at > IO_TIMEOUT:
                    raise IoTimeout("write")
                tick = self._next_tick()
            if self._stop.is_set():
                return
            raise _ChildGone
        except _Stopped:
            return
        except IoTimeout as exc:
            if self._stop.is_set():
                return
            what = str(exc)
            limit = {"connect": CONNECT_TIMEOUT, "start": SPAWN_TIMEOUT}.get(what, IO_TIMEOUT)
            err = IoTimeout(f"no answer from the server within {limit:.0f} s ({what})")
            raise PushFailed(
                scrub(f"IoTimeout: {err} ({self.url})", key), hint_for(err, False)
            ) from None
        except _ChildGone:
            if self._stop.is_set():
                return
            if events is not None:
                events.finish(2.0)
            detail, hint = events.error if events and events.error else ("", "")
            if not detail:
                detail = f"the connection process ended ({self.url})"
            if events is not None and events.live:
                hint = "推流中断，正在重连"
            raise PushFailed(scrub(detail, key), hint or "连接推流服务器失败") from None
        finally:
            if child is not None:
                if child.poll() is None:
                    child.kill()
                try:
                    child.wait(5)
                except subprocess.TimeoutExpired:
                    log.error("rtmp output %s: connection process did not exit", self.id)
                for f in (child.stdin, child.stdout):
                    try:
                        f.close()
                    except OSError:
                        pass
            if events is not None:
                events.finish(2.0)
            self._child = None

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


class _Stopped(Exception):
    pass


class _ChildGone(Exception):
    pass


class _ChildEvents:
    """Reads a connection process's reports on a thread of its own: ready, live, bytes sent
    after each tick, or the error it ended with."""

    def __init__(self, child: subprocess.Popen, push: RtmpPush) -> None:
        self.push = push
        self.ready = threading.Event()
        self.live = False
        self.failed = False
        self.error: tuple[str, str] | None = None
        self._thread = threading.Thread(
            target=self._read, args=(child.stdout,), name=f"rtmp-{push.id}-reports", daemon=True
        )
        self._thread.start()

    def wait_ready(self, timeout: float, stop: threading.Event) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not stop.is_set():
            if self.ready.wait(0.2):
                return True
            if self.failed:
                return False
        return False

    def finish(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _read(self, stdout) -> None:
        s = self.push.stats
        try:
            for raw in stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if line.startswith("s "):
                    sent, packets = (int(x) for x in line[2:].split())
                    s.sent(sent)
                    s.packets += packets - 1  # sent() counted one
                elif line == "live":
                    s.connects += 1
                    s.reconnects = s.connects - 1
                    s.state, s.live_since, s.last_sent_at = LIVE, time.time(), time.monotonic()
                    self.live = True
                    log.info("rtmp output %s: live to %s", self.push.id, self.push.url)
                elif line == "ready":
                    self.ready.set()
                elif line.startswith("error "):
                    try:
                        data = json.loads(line[6:])
                        self.error = (str(data["detail"]), str(data["hint"]))
                    except (ValueError, KeyError, TypeError):
                        self.error = ("the connection process failed", "")
        except (OSError, ValueError):
            pass
        self.failed = True
