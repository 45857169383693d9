"""A live room: media clock, avatar renderer, the one encoder, and its viewers.

The media loop runs in its own thread at the room's frame rate. Each tick takes 40 ms of
audio from the speech timeline (audio is the master), renders frame N for media time
N/fps from the same utterance, encodes both once, and hands the packets to the event loop,
which pushes them into every viewer's track.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field

import av
import numpy as np

from avatars.personas import get_persona
from avatars.renderer import AvatarRenderer
from avatars.voice import SAMPLE_RATE, VoiceChain
from commerce.facts import ProductFacts
from danmaku.analysis import Analyzer, make_analyzer
from scripts_gen import make_writer
from streamer import log_context
from streamer.director import SPOKEN_LATE, Director, TicketRequest
from streamer.encoder import RoomEncoder
from streamer.events import LineStarted, RoomEvent
from streamer.fanout import PacketTrack
from streamer.frame_rate import CpuWindow, FrameWindow
from streamer.listener import Listener
from streamer.live_facts import Stage
from streamer.log_context import room_context
from streamer.onset import OnsetStats
from streamer.outputs import RoomOutputs
from streamer.timeline import SpeechTimeline, Utterance, avatar_state

log = logging.getLogger(__name__)

MAX_LAG = 0.2  # seconds behind the clock before video frames are skipped (audio never is)


@dataclass
class RoomConfig:
    """How a room is set up; plain data so it can cross a process boundary."""

    room_id: str
    persona: str = "xiaowang"
    title: str = ""
    lineup: list[str] | None = None  # SKUs in order; None = whole catalog
    writer: dict | None = None  # scripts_gen backend config; None = template
    fps: int = 25
    width: int = 1280
    height: int = 720
    stamp: bool = False  # draw the frame index into the picture (benchmarks, tests)
    shop_id: str = "default"  # whose room: operators manage only their own shop's rooms
    owner: str = ""  # the user who started it (caps rooms per operator)
    douyin_room_id: str = ""  # the Douyin room whose pushes this room takes; "" = room_id
    # where a restored room starts: {"sku", "product_index", "mood"} (Director.position)
    resume: dict | None = None


@dataclass
class RoomMetrics:
    frames: int = 0
    skipped_frames: int = 0
    render_ms: float = 0.0  # moving averages
    encode_ms: float = 0.0
    audio_ms: float = 0.0
    video_bytes: int = 0
    audio_bytes: int = 0
    started_at: float = field(default_factory=time.time)
    recent: FrameWindow = field(default_factory=FrameWindow)  # fps now, not since start
    onset: OnsetStats = field(default_factory=OnsetStats)  # question -> answer's first sound
    last_tick: float = field(default_factory=time.monotonic)  # the media loop's last tick


class Room:
    """One live room. Create it on the event loop that serves its viewers."""

    def __init__(
        self,
        config: RoomConfig,
        catalog: Callable[[str | None], Awaitable[list[ProductFacts]]],  # room id -> facts
        voice: VoiceChain,
        emit: Callable[[RoomEvent], None] | None = None,
        analyzer: Analyzer | None = None,
        open_ticket: Callable[[TicketRequest], Awaitable[object]] | None = None,
    ) -> None:
        self.config = config
        self.id = config.room_id
        self.persona = get_persona(config.persona)
        self.loop = asyncio.get_running_loop()
        self.encoder = RoomEncoder(config.width, config.height, config.fps)
        self.renderer = AvatarRenderer(
            self.persona, stamp=config.stamp, width=config.width, height=config.height
        )
        self.timeline = SpeechTimeline()
        self.writer = make_writer(config.writer)
        self._emit = emit or (lambda event: None)
        self.director = Director(
            config.room_id,
            self.persona,
            self.writer,
            voice,
            self.timeline,
            catalog,
            lineup=config.lineup,
            publish=self._emit,
            open_ticket=open_ticket,
        )
        self.stage = Stage(self.director.facts)  # card and caption from the current facts
        self.listener = Listener(
            config.room_id, self.director, analyzer or make_analyzer(), self._emit
        )
        self.metrics = RoomMetrics()
        self.cpu = CpuWindow(config.fps)  # per-tick CPU over the last 10 s (stats: "cpu")
        self.tracks: set[PacketTrack] = set()
        self.outputs = RoomOutputs(config.room_id, config.fps, self.encoder.request_keyframe)
        # observer (benchmarks): (frame index, wall time rendered, BGR image, 40 ms of PCM)
        self.on_frame: Callable[[int, float, np.ndarray, np.ndarray], None] | None = None
        self._stop = threading.Event()
        # seconds the media thread sleeps every tick: a starved room, for tests and benchmarks
        self.tick_delay = 0.0
        self._thread: threading.Thread | None = None
        self._director_task: asyncio.Task | None = None

    # --- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        if self.config.resume:
            resume = self.config.resume
            self.director.resume(
                resume.get("sku"),
                resume.get("product_index", 0),
                resume.get("mood"),
                resume.get("answer_mode"),
            )
        self._director_task = asyncio.create_task(
            self.director.run(), name=f"director-{self.id}", context=room_context(self.id)
        )
        # let the first line reach the timeline so the stream opens with speech
        for _ in range(100):
            if self.timeline.queued_seconds() > 0:
                break
            await asyncio.sleep(0.02)
        self._thread = threading.Thread(
            target=self._media_loop, name=f"room-{self.id}", daemon=True
        )
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        await self.listener.aclose()
        if self._director_task:
            self._director_task.cancel()
            try:
                await self._director_task
            except (asyncio.CancelledError, Exception):
                pass
        await self.director.aclose()
        if self._thread:
            await asyncio.to_thread(self._thread.join, 2.0)
        for track in list(self.tracks):
            track.stop()
        self.tracks.clear()
        await asyncio.to_thread(self.outputs.close)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- viewers -----------------------------------------------------------------
    def new_tracks(self) -> tuple[PacketTrack, PacketTrack]:
        """A video and an audio track for one viewer, fed from the shared encode."""
        video = PacketTrack("video", self.encoder.request_keyframe)
        audio = PacketTrack("audio", self.encoder.request_keyframe)
        self.tracks.update((video, audio))
        self.encoder.request_keyframe()  # a joining viewer needs an IDR to start decoding
        return video, audio

    def drop_tracks(self, *tracks: PacketTrack) -> None:
        for t in tracks:
            t.stop()
            self.tracks.discard(t)

    def _deliver(self, video: list[av.Packet], audio: list[av.Packet]) -> None:
        for track in self.tracks:
            for p in video if track.kind == "video" else audio:
                track.push(p)

    # --- media loop (own thread) -----------------------------------------------------
    def _media_loop(self) -> None:
        log_context.room_id.set(self.id)  # this thread's log lines name the room
        cfg = self.config
        period = 1.0 / cfg.fps
        chunk = SAMPLE_RATE // cfg.fps
        m = self.metrics
        start = time.monotonic()
        n = 0
        while not self._stop.is_set():
            due = start + n * period
            delay = due - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            elif -delay > 2.0:  # stalled (suspended host): re-anchor the clock
                start += -delay
            if self.tick_delay:
                time.sleep(self.tick_delay)
            m.last_tick = time.monotonic()
            c_tick = time.thread_time()
            pcm, playing = self.timeline.read(chunk)
            try:  # facts changed or a line starts: the card follows on this very frame
                card_changed, caption_changed = self.stage.tick(
                    playing.utterance, playing.started, self.director.clock()
                )
                if card_changed:
                    self.renderer.set_card(self.stage.card)
                if caption_changed:
                    self.renderer.set_caption(self.stage.caption)
            except Exception:  # a bad caption must never stop the stream
                log.exception("room %s: caption/card update failed", self.id)
            if playing.started and playing.utterance is not None:
                utt = playing.utterance
                if utt.kind == "answer" and utt.not_after is not None:  # asked at not_after - 5 s
                    m.onset.observe(time.monotonic() - (utt.not_after - SPOKEN_LATE))
                self.loop.call_soon_threadsafe(self._emit_line, playing.utterance, self.stage.card)
            t0 = time.thread_time()
            apkts = self.encoder.encode_audio(pcm, n * chunk)
            t1 = time.thread_time()
            late = time.monotonic() - due
            vpkts: list[av.Packet] = []
            t2 = t3 = t1
            if late > MAX_LAG:
                m.skipped_frames += 1
                m.recent.skipped()
            else:
                observer = self.on_frame
                state = avatar_state(playing, n * period)
                if observer is None:  # only encoded: the host's BGRA pixels go to the encoder
                    self.renderer.draw(state, n)
                else:  # an observer gets the BGR frame
                    img = self.renderer.render(state, n)
                rendered_at = time.time()
                t2 = time.thread_time()
                if observer is None:
                    vpkts = self.encoder.encode_patches(self.renderer.take_patches(), n)
                else:
                    vpkts = self.encoder.encode_video(img, n, self.renderer.take_dirty())
                t3 = time.thread_time()
                m.render_ms += 0.05 * ((t2 - t1) * 1000 - m.render_ms)
                m.encode_ms += 0.05 * ((t3 - t2) * 1000 - m.encode_ms)
                m.frames += 1
                m.recent.frame(sum(p.size for p in vpkts))
                if observer is not None:
                    observer(n, rendered_at, img, pcm)
            m.audio_ms += 0.05 * ((t1 - t0) * 1000 - m.audio_ms)
            self.outputs.feed(vpkts, pcm, n * chunk)  # RTMP pushes: queued, never waited on
            m.video_bytes += sum(p.size for p in vpkts)
            m.audio_bytes += sum(p.size for p in apkts)
            try:  # nobody watching: no wake-up of the event loop 25 times a second
                if self.tracks:
                    self.loop.call_soon_threadsafe(self._deliver, vpkts, apkts)
                elif self.loop.is_closed():
                    return
            except RuntimeError:  # event loop closed: the room is going away
                return
            self.cpu.add(t2 - t1, t3 - t2, t1 - t0, time.thread_time() - c_tick)
            n += 1

    # --- events ----------------------------------------------------------------------
    def _emit_line(self, utt: Utterance, card=None) -> None:
        """Announce a line when it starts playing (captions and card on the viewer page)."""
        card = card or utt.card
        self._emit(
            LineStarted(
                self.id,
                utt.speech.text,
                utt.kind,
                utt.product_sku,
                utt.expression,
                asdict(card) if card else None,
            )
        )

    def info(self) -> dict:
        product = self.director.current_product
        return {
            "room_id": self.id,
            "title": self.config.title or f"{self.persona.name}的直播间",
            "persona": self.persona.id,
            "orientation": "portrait" if self.config.height > self.config.width else "landscape",
            "width": self.config.width,
            "height": self.config.height,
            "persona_name": self.persona.name,
            "live": self.running,
            "viewers": sum(1 for t in self.tracks if t.kind == "video"),
            "current_sku": product.sku if product else None,
            "current_product": product.title if product else None,
        }

    def stats(self) -> dict:
        m = self.metrics
        uptime = max(time.time() - m.started_at, 1e-6)
        return {
            **self.info(),
            "frames": m.frames,
            "fps": round(m.recent.fps(10), 2),  # the last 10 s: a stutter shows at once
            "fps_since_start": round(m.frames / uptime, 2),
            "fps_target": self.config.fps,
            "started_at": m.started_at,  # epoch seconds: this session's start
            "tick_age_s": round(time.monotonic() - m.last_tick, 2),  # > 2 s: the room stalled
            "skipped_frames": m.recent.skipped_last(10),  # the last 10 s, like fps
            "skipped_frames_total": m.skipped_frames,
            "skipped_last_minute": m.recent.skipped_last(60),
            "render_ms": round(m.render_ms, 2),
            "encode_ms": round(m.encode_ms, 2),
            "audio_encode_ms": round(m.audio_ms, 3),
            # the last 10 s: per-frame render/encode/audio CPU ms and the media thread's share
            "cpu": self.cpu.summary(),
            "render_cache": self.renderer.cache_stats,
            # the frame's pixels redrawn for the host a frame (the rest: cached layers)
            "host_region_share": self.renderer.host_region_share,
            "silence_reused": self.encoder.silence_reused,
            "video_kbps": round(m.recent.kbps(10), 1),  # the last 10 s, like fps
            "video_kbps_since_start": round(m.video_bytes * 8 / uptime / 1000, 1),
            "video_encodes": self.encoder.video_encodes,
            "keyframes": self.encoder.keyframes,
            "keyframe_requests": self.encoder.keyframe_requests,
            "viewer_drops": sum(t.dropped for t in self.tracks),
            **self.outputs.stats(),
            "lines": self.director.stats.lines,
            "fillers": self.director.stats.fillers,
            "voice": {
                "calls": self.director.voice.stats.calls,
                "fallbacks": self.director.voice.stats.fallbacks,
                "failures": dict(self.director.voice.stats.failures),
            },
            "writer": self.writer.stats() if hasattr(self.writer, "stats") else {},
            **self.director.mood_info(),
            "danmaku": self.listener.info(),
            "answers": {
                **vars(self.director.questions.stats),
                "pending": len(self.director.questions),
                "cuts": self.timeline.cuts,
                "spoken": dict(self.director.stats.spoken),
                "spoken_too_late_dropped": self.timeline.late_dropped,
                "writer_fallbacks": self.director.stats.answer_fallbacks,
                "writer_timeouts": self.director.stats.answer_timeouts,
                "onset": m.onset.summary(),
            },
            "answer_mode": self.director.answer_mode_info(),
            "last_answers": list(self.director.recent_answers),
            "takeovers": self.director.takeovers,
            "reactions": {
                "heard": dict(self.director.stats.heard),
                "skipped": self.director.stats.reactions_skipped,
                "tickets": self.director.stats.tickets,
                "tickets_dropped": self.director.stats.tickets_dropped,
            },
        }
