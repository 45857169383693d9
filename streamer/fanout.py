"""Fan-out of one room's encoded packets to many WebRTC viewers.

Each viewer gets a `PacketTrack` per kind with its own bounded queue. aiortc's
RTCRtpSender reads `av.Packet`s from it and only packetizes them. A viewer that falls
behind loses its own packets (video: until the next keyframe, which it asks for) and
never slows the room or the other viewers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

log = logging.getLogger(__name__)

VIDEO_QUEUE = 50  # 2 s of video
AUDIO_QUEUE = 100  # 2 s of 20 ms Opus


class PacketTrack(MediaStreamTrack):
    """A viewer's track fed with the room's shared `av.Packet`s."""

    def __init__(self, kind: str, request_keyframe: Callable[[], None]) -> None:
        super().__init__()
        self.kind = kind
        self._request_keyframe = request_keyframe
        self._queue: asyncio.Queue[av.Packet | None] = asyncio.Queue(
            VIDEO_QUEUE if kind == "video" else AUDIO_QUEUE
        )
        self._waiting_keyframe = kind == "video"
        self.delivered = 0
        self.dropped = 0

    def push(self, packet: av.Packet) -> None:
        """Called on the event loop for each room packet; never blocks."""
        if self.readyState != "live":
            return
        if self._waiting_keyframe:
            if not packet.is_keyframe:
                self.dropped += 1
                return
            self._waiting_keyframe = False
        if self._queue.full():
            self.dropped += 1
            if self.kind == "video":
                # the decoder would see a gap: flush and resume at a fresh keyframe
                self._drain()
                self._waiting_keyframe = True
                self._request_keyframe()
            else:
                self._queue.get_nowait()
                self._queue.put_nowait(packet)
            return
        self._queue.put_nowait(packet)

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
            self.dropped += 1

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        self.delivered += 1
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            super().stop()
            self._drain()
            self._queue.put_nowait(None)


def hook_keyframe_requests(sender, request_keyframe: Callable[[], None]) -> None:
    """Route a viewer's PLI/FIR to the room encoder.

    aiortc's RTCRtpSender answers PLI/FIR by calling `_send_keyframe()`, which only sets a
    flag used when *it* encodes frames; with packets the room encoder must do it.
    """
    sender._send_keyframe = request_keyframe
