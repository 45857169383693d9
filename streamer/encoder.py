"""The room encoder: ONE H.264 and ONE Opus encode per room, whatever the viewer count.

Packets come out Annex-B with SPS/PPS in-band (what aiortc's H.264 `pack()` splits on),
so every viewer's RTCRtpSender only packetizes them.
"""

from __future__ import annotations

import threading
from fractions import Fraction

import av
import cv2
import numpy as np
from av.video.frame import PictureType

AUDIO_RATE = 48_000
AUDIO_FRAME = 960  # 20 ms of Opus


class RoomEncoder:
    """Encodes BGR frames and 48 kHz mono PCM into shared av.Packets."""

    def __init__(
        self,
        width: int = 1280,
        height: int = 720,
        fps: int = 25,
        video_bitrate: int = 1_800_000,
        gop_seconds: float = 2.0,
        audio_bitrate: int = 48_000,
    ) -> None:
        self.width, self.height, self.fps = width, height, fps
        gop = max(1, int(fps * gop_seconds))
        v = av.CodecContext.create("libx264", "w")
        v.width, v.height = width, height
        v.pix_fmt = "yuv420p"
        v.time_base = Fraction(1, fps)
        v.framerate = Fraction(fps, 1)
        v.bit_rate = video_bitrate
        v.gop_size = gop
        v.thread_count = 1
        v.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            "x264-params": (
                f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:repeat-headers=1:"
                f"vbv-maxrate={video_bitrate // 1000}:vbv-bufsize={video_bitrate // 2000}"
            ),
        }
        v.open()
        self.video = v
        a = av.CodecContext.create("libopus", "w")
        a.sample_rate = AUDIO_RATE
        a.layout = "mono"
        a.format = "s16"
        a.time_base = Fraction(1, AUDIO_RATE)
        a.bit_rate = audio_bitrate
        a.options = {"application": "audio", "frame_duration": "20"}
        a.open()
        self.audio = a
        self._keyframe = threading.Event()
        self.video_encodes = 0
        self.audio_encodes = 0
        self.keyframes = 0
        self.keyframe_requests = 0

    def request_keyframe(self) -> None:
        """Ask for an IDR on the next frame; requests before it coalesce into one keyframe."""
        self.keyframe_requests += 1
        self._keyframe.set()

    def encode_video(self, bgr: np.ndarray, pts: int) -> list[av.Packet]:
        yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = pts
        frame.time_base = self.video.time_base
        if self._keyframe.is_set():
            self._keyframe.clear()
            frame.pict_type = PictureType.I
        packets = self.video.encode(frame)
        self.video_encodes += 1
        for p in packets:
            p.time_base = self.video.time_base
            if p.is_keyframe:
                self.keyframes += 1
        return packets

    def encode_audio(self, pcm: np.ndarray, pts: int) -> list[av.Packet]:
        """Encode mono int16 samples starting at sample `pts` (multiples of 20 ms)."""
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = pts
        frame.time_base = self.audio.time_base
        packets = self.audio.encode(frame)
        self.audio_encodes += 1
        for p in packets:
            p.time_base = self.audio.time_base
        return packets
