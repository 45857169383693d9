"""The room encoder: ONE H.264 and ONE Opus encode per room, whatever the viewer count.

Packets come out Annex-B with SPS/PPS in-band (what aiortc's H.264 `pack()` splits on),
so every viewer's RTCRtpSender only packetizes them.

Video is coded at a constant quantiser (ROOM_QP): most of a room's frame does not change,
and x264 then codes it as skipped blocks. Colour is converted with OpenCV straight into one
reused YUV 4:2:0 frame, and only in the regions the renderer says changed; silence is
encoded once and its packet reused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from fractions import Fraction

import av
import cv2
import numpy as np
from av.video.frame import PictureType

# Rooms convert in parallel on their own threads: OpenCV's worker pool only adds hand-off
# cost (a full 720p conversion took 0.95 ms of CPU on two threads against 1.0 ms on one,
# a host-sized region 0.40 ms against 0.29 ms).
cv2.setNumThreads(1)

AUDIO_RATE = 48_000
AUDIO_FRAME = 960  # 20 ms of Opus
Box = tuple[int, int, int, int]  # x0, y0, x1, y1
SILENCE_SETTLE = 3  # silent chunks encoded before the encoder's silence is taken as steady
# Constant quantiser 28, not 1.8 Mb/s ABR: on a live line (benchmarks/bench_roomcost.py,
# section x264) it cost 1.17 ms a frame against 1.98, at 780 kb/s against 1,650, with every
# frame at SSIM 0.984 or better against 0.955; its busiest second was 1.4 Mb/s against 2.2.
# A rate-controlled x264 analyses every frame at half size for its rate control and keeps
# spending bits on a background that did not change; a constant quantiser skips both.
ROOM_QP = 28
VIDEO_BITRATE_720P = 1_800_000  # the ABR rate when `qp` is None, scaled by the frame's pixels


class RoomEncoder:
    """Encodes BGR frames and 48 kHz mono PCM into shared av.Packets."""

    def __init__(
        self,
        width: int = 1280,
        height: int = 720,
        fps: int = 25,
        video_bitrate: int | None = None,
        gop_seconds: float = 2.0,
        audio_bitrate: int = 48_000,
        preset: str = "ultrafast",
        threads: int = 1,
        x264: str = "",
        qp: int | None = ROOM_QP,
    ) -> None:
        """`qp`: a constant quantiser (None: average bitrate `video_bitrate`, capped by a VBV
        of the same rate). `preset`, `threads` and `x264` (extra x264-params,
        "key=value:...") are for measuring alternatives; a room uses the defaults. The
        default `video_bitrate` is 1.8 Mb/s at 720p, scaled by pixels (800 kb/s at 480p)."""
        self.width, self.height, self.fps = width, height, fps
        if video_bitrate is None:
            video_bitrate = int(round(VIDEO_BITRATE_720P * width * height / (1280 * 720), -3))
        gop = max(1, int(fps * gop_seconds))
        v = av.CodecContext.create("libx264", "w")
        v.width, v.height = width, height
        v.pix_fmt = "yuv420p"
        v.time_base = Fraction(1, fps)
        v.framerate = Fraction(fps, 1)
        if qp is None:
            v.bit_rate = video_bitrate
            rate = f"vbv-maxrate={video_bitrate // 1000}:vbv-bufsize={video_bitrate // 2000}"
        else:
            rate = f"qp={int(qp)}"
        v.gop_size = gop
        v.thread_count = threads
        v.options = {
            "preset": preset,
            "tune": "zerolatency",
            "profile": "baseline",
            "x264-params": (
                f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:repeat-headers=1:{rate}"
                + (f":{x264}" if x264 else "")
            ),
        }
        v.open()
        self.video = v
        # one YUV frame for the room's life: each frame converts only what changed into it
        self._yuv = av.VideoFrame(width, height, "yuv420p")
        self._video_tb = Fraction(1, fps)
        self._yuv.time_base = self._video_tb
        self._planes = [
            np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, : p.width]
            for p in self._yuv.planes
        ]
        self._converted = False  # nothing in the frame yet: the first encode converts it all
        self.converted_pixels = 0  # BGR pixels converted to YUV (full frame: width × height)
        a = av.CodecContext.create("libopus", "w")
        a.sample_rate = AUDIO_RATE
        a.layout = "mono"
        a.format = "s16"
        self._audio_tb = Fraction(1, AUDIO_RATE)
        a.time_base = self._audio_tb
        a.bit_rate = audio_bitrate
        # complexity 0: libopus's cheapest analysis. On the hosts' speech (40 ms chunks, 48 kb/s
        # asked) it cost 0.065 ms a chunk against 0.12 at complexity 5 and 0.38 at the default
        # 10, with the decoded waveform as close to the source (SNR 19.0 dB against 20.6 and
        # 13.6) at 54 kb/s against 73 and 49: a mono TTS voice gains nothing from the rest
        a.options = {"application": "audio", "frame_duration": "20", "compression_level": "0"}
        a.open()
        self.audio = a
        self._audio_frames: dict[int, av.AudioFrame] = {}  # chunk length -> its reused frame
        self._audio_aligned = True  # every chunk so far was whole 20 ms frames
        self._keyframe = threading.Event()
        self._silent_run = 0  # silent chunks encoded in a row
        self._silence: tuple[int, list[tuple[bytes, int]]] | None = None  # samples, packets
        self._audio_delay: int | None = None  # packet pts minus input pts (Opus pre-skip)
        self.silence_reused = 0  # of audio_encodes, silent chunks sent from the cached packets
        self.video_encodes = 0
        self.audio_encodes = 0
        self.keyframes = 0
        self.keyframe_requests = 0

    def request_keyframe(self) -> None:
        """Ask for an IDR on the next frame; requests before it coalesce into one keyframe."""
        self.keyframe_requests += 1
        self._keyframe.set()

    def encode_video(
        self, bgr: np.ndarray, pts: int, dirty: Iterable[Box] | None = None
    ) -> list[av.Packet]:
        """Encode a BGR frame. `dirty`: the only boxes that changed since the previous call
        (None: anything may have changed); pixels outside them must equal the last frame's."""
        if bgr.shape != (self.height, self.width, 3) or bgr.dtype != np.uint8:
            raise ValueError(
                f"expected a {self.width}x{self.height} BGR uint8 frame, "
                f"got shape {bgr.shape} {bgr.dtype}"
            )
        if dirty is None or not self._converted:
            dirty = ((0, 0, self.width, self.height),)
        for box in dirty:
            self._convert(bgr, box)
        self._converted = True
        return self._encode(pts)

    def encode_patches(
        self, patches: Iterable[tuple[Box, np.ndarray, tuple[int, int]]], pts: int
    ) -> list[av.Packet]:
        """Encode the frame that is the last one with `patches` applied in order: each is
        (frame box, BGR or BGRA pixels, the frame position of the pixels' top-left), as
        `AvatarRenderer.take_patches` gives them; the first call must cover the whole frame.
        Saves a room converting the host's BGRA pixels to BGR only to convert them again."""
        for box, pixels, origin in patches:
            if not self._converted and box != (0, 0, self.width, self.height):
                raise ValueError("the first frame's patches must start with the whole frame")
            if pixels.ndim != 3 or pixels.shape[2] not in (3, 4) or pixels.dtype != np.uint8:
                raise ValueError(f"expected BGR or BGRA uint8 pixels, got {pixels.shape}")
            self._convert(pixels, box, origin)
            self._converted = True
        if not self._converted:
            raise ValueError("the first frame's patches must start with the whole frame")
        return self._encode(pts)

    def _encode(self, pts: int) -> list[av.Packet]:
        frame = self._yuv
        frame.pts = pts
        frame.pict_type = PictureType.NONE
        if self._keyframe.is_set():
            self._keyframe.clear()
            frame.pict_type = PictureType.I
        packets = self.video.encode(frame)
        self.video_encodes += 1
        tb = self._video_tb
        for p in packets:
            p.time_base = tb
            if p.is_keyframe:
                self.keyframes += 1
        return packets

    def _convert(self, src: np.ndarray, box: Box, origin: tuple[int, int] = (0, 0)) -> None:
        """BGR (or BGRA) → I420 of frame box `box` (widened to even edges: chroma is one
        sample per 2×2 block), found in `src` at `box - origin`."""
        x0, y0 = max(0, box[0]) & ~1, max(0, box[1]) & ~1
        x1 = min(self.width, box[2] + (box[2] & 1))
        y1 = min(self.height, box[3] + (box[3] & 1))
        if x1 <= x0 or y1 <= y0:
            return
        w, h = x1 - x0, y1 - y0
        ox, oy = origin
        if x0 < ox or y0 < oy or x1 - ox > src.shape[1] or y1 - oy > src.shape[0]:
            raise ValueError(f"box {box} widened to even edges leaves its pixels at {origin}")
        code = cv2.COLOR_BGR2YUV_I420 if src.shape[2] == 3 else cv2.COLOR_BGRA2YUV_I420
        flat = cv2.cvtColor(src[y0 - oy : y1 - oy, x0 - ox : x1 - ox], code).reshape(-1)
        y, u, v = self._planes
        q = w * h // 4
        y[y0:y1, x0:x1] = flat[: w * h].reshape(h, w)
        u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = flat[w * h : w * h + q].reshape(h // 2, w // 2)
        v[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = flat[w * h + q :].reshape(h // 2, w // 2)
        self.converted_pixels += w * h

    def encode_audio(self, pcm: np.ndarray, pts: int) -> list[av.Packet]:
        """Encode mono int16 samples starting at sample `pts` (multiples of 20 ms).

        Silence that follows silence reuses the packets the encoder made for it: Opus codes
        steady silence the same way every time, so nothing is lost by not encoding it again."""
        silent = len(pcm) % AUDIO_FRAME == 0 and not pcm.any()
        if silent and self._silence is not None and self._silence[0] == len(pcm):
            self.silence_reused += 1
            self.audio_encodes += 1
            return [self._silent_packet(data, pts + offset) for data, offset in self._silence[1]]
        packets = self.audio.encode(self._audio_frame(pcm, pts))
        self.audio_encodes += 1
        if packets and self._audio_delay is None:
            self._audio_delay = packets[0].pts - pts  # Opus's pre-skip, as the encoder counts it
        whole = len(packets) * AUDIO_FRAME == len(pcm)
        for k, p in enumerate(packets):
            p.time_base = self._audio_tb
            if whole:  # stamp from our clock: the encoder's own count misses reused silence
                p.pts = p.dts = pts + self._audio_delay + k * AUDIO_FRAME
        self._silent_run = self._silent_run + 1 if silent else 0
        if self._silent_run == SILENCE_SETTLE and packets:  # the encoder has settled on silence
            self._silence = (len(pcm), [(bytes(p), p.pts - pts) for p in packets])
        elif not silent:
            self._silence = None  # after speech, settle on silence again before reusing it
        return packets

    def _audio_frame(self, pcm: np.ndarray, pts: int) -> av.AudioFrame:
        """`pcm` as a frame: while every chunk so far was whole Opus frames, the encoder keeps
        none of it after encoding, so one frame per chunk length is refilled, not made anew."""
        whole = len(pcm) % AUDIO_FRAME == 0
        self._audio_aligned = self._audio_aligned and whole
        frame = self._audio_frames.get(len(pcm)) if self._audio_aligned else None
        if frame is None:
            frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm))
            frame.sample_rate = AUDIO_RATE
            frame.time_base = self._audio_tb
            if self._audio_aligned:
                self._audio_frames[len(pcm)] = frame
        frame.planes[0].update(np.ascontiguousarray(pcm, np.int16))
        frame.pts = pts
        return frame

    def _silent_packet(self, data: bytes, pts: int) -> av.Packet:
        p = av.Packet(data)
        p.pts = p.dts = pts
        p.duration = AUDIO_FRAME
        p.time_base = self._audio_tb
        return p
