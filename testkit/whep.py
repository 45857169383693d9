"""An aiortc WHEP viewer for tests and benchmarks: negotiates over real HTTP and records
what it decodes, plus the sender reports needed to put both tracks on one clock."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtcpSrPacket

NTP_EPOCH = 2**32


@dataclass
class Track:
    kind: str
    rate: int
    frames: list[tuple[float, int]] = field(default_factory=list)  # (wall time, pts)
    images: list[np.ndarray] = field(default_factory=list)  # decoded BGR (keep_images)
    pcm: list[np.ndarray] = field(default_factory=list)  # decoded mono int16 (audio)
    sender_reports: list[tuple[float, int]] = field(default_factory=list)  # (ntp s, rtp ts)
    receiver: object = None
    width: int = 0
    height: int = 0

    def rtp_origin(self) -> int:
        return self.receiver._RTCRtpReceiver__timestamp_mapper._origin

    def sender_time(self, pts: int) -> float:
        """Map a decoded frame's pts to the sender's wall clock through its last RTCP SR."""
        ntp, rtp = self.sender_reports[-1]
        raw = (self.rtp_origin() + pts) % 2**32
        delta = (raw - rtp + 2**31) % 2**32 - 2**31
        return ntp + delta / self.rate


class WhepViewer:
    """One viewer of a room over WHEP, as a browser would be (recvonly audio + video)."""

    def __init__(
        self,
        base_url: str,
        room_id: str = "demo",
        keep_images: bool = False,
        keep_pcm: bool = False,
        on_video=None,
    ) -> None:
        self.base_url, self.room_id = base_url, room_id
        self.keep_images, self.keep_pcm = keep_images, keep_pcm
        self.on_video = on_video
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.tracks: dict[str, Track] = {
            "video": Track("video", 90_000),
            "audio": Track("audio", 48_000),
        }
        self.location: str | None = None
        self._tasks: list[asyncio.Task] = []

    async def connect(self) -> None:
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")

        @self.pc.on("track")
        def on_track(track) -> None:
            self._tasks.append(asyncio.ensure_future(self._read(track)))

        await self.pc.setLocalDescription(await self.pc.createOffer())
        async with httpx.AsyncClient(base_url=self.base_url, timeout=20) as http:
            res = await http.post(
                f"/api/rooms/{self.room_id}/whep",
                content=self.pc.localDescription.sdp,
                headers={"Content-Type": "application/sdp"},
            )
        if res.status_code != 201:
            raise RuntimeError(f"WHEP offer refused: {res.status_code} {res.text}")
        self.location = res.headers["location"]
        await self.pc.setRemoteDescription(RTCSessionDescription(res.text, "answer"))
        for t in self.pc.getTransceivers():
            self._watch_reports(t.receiver, self.tracks[t.kind])

    def _watch_reports(self, receiver, track: Track) -> None:
        track.receiver = receiver
        original = receiver._handle_rtcp_packet

        async def handle(packet) -> None:
            if isinstance(packet, RtcpSrPacket):
                ntp = packet.sender_info.ntp_timestamp / NTP_EPOCH
                track.sender_reports.append((ntp, packet.sender_info.rtp_timestamp))
            await original(packet)

        receiver._handle_rtcp_packet = handle

    async def _read(self, remote) -> None:
        track = self.tracks[remote.kind]
        try:
            while True:
                frame = await remote.recv()
                now = time.time()
                track.frames.append((now, frame.pts))
                if remote.kind == "video":
                    track.width, track.height = frame.width, frame.height
                    if self.keep_images or self.on_video:
                        img = frame.to_ndarray(format="bgr24")
                        if self.keep_images:
                            track.images.append(img)
                        if self.on_video:
                            self.on_video(img, now)
                elif self.keep_pcm:
                    a = frame.to_ndarray().reshape(-1)
                    channels = len(frame.layout.channels)
                    track.pcm.append(
                        a[::channels].copy()
                        if frame.format.is_packed
                        else a[: frame.samples].copy()
                    )
        except MediaStreamError:
            return

    async def wait_frames(self, video: int, audio: int = 0, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.tracks["video"].frames) < video or len(self.tracks["audio"].frames) < audio:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"got {len(self.tracks['video'].frames)} video / {len(self.tracks['audio'].frames)} audio frames"
                )
            await asyncio.sleep(0.05)

    async def close(self, delete: bool = True) -> None:
        if delete and self.location:
            async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as http:
                await http.delete(self.location)
        for t in self._tasks:
            t.cancel()
        await self.pc.close()
