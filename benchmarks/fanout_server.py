"""Benchmark server: the real app with its demo room, plus (for the baseline) a WHEP route
that serves the same room aiortc's usual way: raw frames through MediaRelay, one encoder
per viewer. Run: python -m benchmarks.fanout_server --port P."""

from __future__ import annotations

import argparse
import asyncio
import fractions
import tempfile

import av
import numpy as np
import uvicorn
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from fastapi import Request, Response

from web.app import Settings, create_app
from web.security import POLICY, PUBLIC


class RawTrack(MediaStreamTrack):
    """The room's rendered frames (or PCM) as an aiortc source track."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.queue: asyncio.Queue = asyncio.Queue(10)

    def offer(self, frame) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(frame)

    async def recv(self):
        return await self.queue.get()


def install_relay_baseline(app) -> None:
    state: dict = {}

    def hook_room() -> tuple[RawTrack, RawTrack, MediaRelay]:
        if "relay" in state:
            return state["video"], state["audio"], state["relay"]
        room = app.state.engine.rooms["demo"]
        video, audio = RawTrack("video"), RawTrack("audio")
        loop = asyncio.get_running_loop()
        chunk = 48_000 // room.config.fps

        def on_frame(n: int, rendered_at: float, img: np.ndarray, pcm: np.ndarray) -> None:
            vf = av.VideoFrame.from_ndarray(img.copy(), format="bgr24")
            vf.pts, vf.time_base = n * 3600, fractions.Fraction(1, 90_000)
            frames = []
            for i in range(0, len(pcm), 960):
                af = av.AudioFrame.from_ndarray(
                    pcm[i : i + 960].reshape(1, -1), format="s16", layout="mono"
                )
                af.sample_rate, af.pts, af.time_base = (
                    48_000,
                    n * chunk + i,
                    fractions.Fraction(1, 48_000),
                )
                frames.append(af)
            loop.call_soon_threadsafe(video.offer, vf)
            for af in frames:
                loop.call_soon_threadsafe(audio.offer, af)

        room.on_frame = on_frame
        state.update(video=video, audio=audio, relay=MediaRelay())
        return video, audio, state["relay"]

    @app.post("/bench/relay/whep", status_code=201)
    async def relay_whep(request: Request) -> Response:
        video, audio, relay = hook_room()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        for track, mime in ((video, "video/H264"), (audio, "audio/opus")):
            sender = pc.addTrack(relay.subscribe(track))
            t = next(t for t in pc.getTransceivers() if t.sender is sender)
            t.setCodecPreferences(
                [c for c in RTCRtpSender.getCapabilities(track.kind).codecs if c.mimeType == mime]
            )
        await pc.setRemoteDescription(
            RTCSessionDescription((await request.body()).decode(), "offer")
        )
        await pc.setLocalDescription(await pc.createAnswer())
        state.setdefault("pcs", []).append(pc)
        return Response(
            pc.localDescription.sdp,
            status_code=201,
            media_type="application/sdp",
            headers={"Location": "/bench/relay/whep/x"},
        )


def install_render_clock(app) -> None:
    """Record when each stamped frame was rendered, for glass-to-glass measurement."""
    rendered: dict[int, float] = {}

    @app.post("/bench/rendered/start")
    async def start() -> dict:
        room = app.state.engine.rooms["demo"]
        room.on_frame = lambda n, t, img, pcm: rendered.__setitem__(n & 0xFFFF, t)
        return {"ok": True}

    @app.get("/bench/rendered")
    async def times() -> dict[int, float]:
        return dict(rendered)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--stamp", action="store_true", help="stamp frame indices into the picture")
    ap.add_argument("--janus-url", help="forward the room to this Janus (bench janus)")
    ap.add_argument("--janus-key", help="the Janus streaming plugin's admin key")
    args = ap.parse_args()
    db = tempfile.mkdtemp(prefix="yunlian-bench-") + "/bench.db"
    app = create_app(
        Settings(
            db_url=f"sqlite+aiosqlite:///{db}",
            demo_room=True,
            stamp=args.stamp,
            janus_url=args.janus_url,
            janus_admin_key=args.janus_key,
        )
    )
    # the benchmark's own routes, open on this loopback-only measuring server
    POLICY["/bench/relay/whep"] = {"POST": PUBLIC}
    POLICY["/bench/rendered/start"] = {"POST": PUBLIC}
    POLICY["/bench/rendered"] = {"GET": PUBLIC}
    POLICY["/bench/stats"] = {"GET": PUBLIC}

    @app.get("/bench/stats")
    async def bench_stats() -> dict:
        """The demo room's stats (staff-only at /api/rooms/demo on a real server)."""
        return app.state.engine.room("demo").stats()

    install_relay_baseline(app)
    install_render_clock(app)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
