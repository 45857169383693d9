"""Real WHEP viewers (aiortc over loopback) against the live demo room."""

import asyncio

import httpx
import numpy as np

from avatars.renderer import HEIGHT, WIDTH, mouth_pixels, read_stamp
from testkit.whep import WhepViewer


async def test_viewer_decodes_720p_video_and_opus_speech(live_server):
    v = WhepViewer(live_server.url, keep_pcm=True)
    await v.connect()
    try:
        await v.wait_frames(video=60, audio=120)  # > 2 s of each
    finally:
        await v.close()
    video, audio = v.tracks["video"], v.tracks["audio"]
    assert (video.width, video.height) == (WIDTH, HEIGHT)
    pts = [p for _, p in video.frames]
    assert pts == sorted(pts) and (pts[-1] - pts[0]) / 90_000 >= 2.0
    samples = np.concatenate(audio.pcm)
    assert len(samples) >= 2 * 48_000
    assert np.sqrt((samples.astype(np.float64) ** 2).mean()) > 200, "the host is silent"


def _lip_sync_lag(v: WhepViewer) -> tuple[float, float]:
    """Lag (s) of mouth opening against speech energy on the sender's clock, and the correlation."""
    video, audio = v.tracks["video"], v.tracks["audio"]
    vt = np.array([video.sender_time(p) for _, p in video.frames])
    mouth = np.array([mouth_pixels(img) for img in video.images], dtype=float)
    pcm = np.concatenate(audio.pcm).astype(np.float64)
    hop = 480  # 10 ms
    energy = np.sqrt((pcm[: len(pcm) // hop * hop].reshape(-1, hop) ** 2).mean(axis=1))
    at0 = audio.sender_time(audio.frames[0][1])
    et = at0 + np.arange(len(energy)) * hop / 48_000
    best = (0.0, -1.0)
    for lag in np.arange(-0.3, 0.301, 0.01):
        e = np.interp(vt + lag, et, energy)
        if e.std() == 0 or mouth.std() == 0:
            continue
        c = float(np.corrcoef(mouth, e)[0, 1])
        if c > best[1]:
            best = (float(lag), c)
    return best


async def test_lips_and_voice_stay_within_40ms(live_server):
    v = WhepViewer(live_server.url, keep_images=True, keep_pcm=True)
    await v.connect()
    try:
        await v.wait_frames(video=125, audio=250)  # 5 s
        while (
            len(v.tracks["video"].sender_reports) < 1 or len(v.tracks["audio"].sender_reports) < 1
        ):
            await asyncio.sleep(0.1)
    finally:
        await v.close()
    lag, corr = _lip_sync_lag(v)
    assert corr > 0.4, f"mouth does not follow the speech (best correlation {corr:.2f})"
    assert abs(lag) <= 0.040, f"audio/video skew {lag * 1000:.0f} ms"


async def test_two_viewers_share_one_encode(live_server):
    room = live_server.engine.rooms["demo"]
    a, b = WhepViewer(live_server.url), WhepViewer(live_server.url)
    await a.connect()
    await b.connect()
    try:
        await a.wait_frames(video=10)
        await b.wait_frames(video=10)
        encodes0, frames0 = room.encoder.video_encodes, room.metrics.frames
        got0 = len(a.tracks["video"].frames) + len(b.tracks["video"].frames)
        await asyncio.sleep(2)
        encodes = room.encoder.video_encodes - encodes0
        frames = room.metrics.frames - frames0
        got = len(a.tracks["video"].frames) + len(b.tracks["video"].frames) - got0
        encoders = [
            s._RTCRtpSender__encoder for s in _server_senders(live_server) if s.kind == "video"
        ]
    finally:
        await a.close()
        await b.close()
    assert abs(encodes - frames) <= 1, "one encode per room frame, whatever the viewer count"
    assert got > encodes * 1.5, f"two viewers decoded {got} frames from {encodes} encodes"
    encoders = [e for e in encoders if e is not None]
    assert len(encoders) >= 2
    # aiortc opens its own libx264 lazily on the frame path; with packets it never does
    assert all(e.codec is None for e in encoders)


def _server_senders(live_server):
    return [s for sess in live_server.engine.sessions.values() for s in sess.pc.getSenders()]


async def test_joining_viewer_starts_on_a_keyframe_it_asked_for(live_server):
    room = live_server.engine.rooms["demo"]
    requests0 = room.encoder.keyframe_requests
    v = WhepViewer(live_server.url, keep_images=True)
    await v.connect()
    try:
        await v.wait_frames(video=3)
    finally:
        await v.close()
    assert room.encoder.keyframe_requests > requests0
    # stamps are consecutive from the first decoded frame: no gap while waiting for a GOP
    stamps = [read_stamp(img) for img in v.tracks["video"].images[:3]]
    assert stamps[1] == stamps[0] + 1 and stamps[2] == stamps[1] + 1


async def test_viewer_pli_makes_the_room_encoder_send_a_keyframe(live_server):
    room = live_server.engine.rooms["demo"]
    v = WhepViewer(live_server.url)
    await v.connect()
    try:
        await v.wait_frames(video=5)
        receiver = v.tracks["video"].receiver
        ssrc = receiver._RTCRtpReceiver__remote_streams and next(
            iter(receiver._RTCRtpReceiver__remote_streams)
        )
        requests0, keys0 = room.encoder.keyframe_requests, room.encoder.keyframes
        await receiver._send_rtcp_pli(ssrc)
        for _ in range(40):
            if room.encoder.keyframes > keys0:
                break
            await asyncio.sleep(0.05)
    finally:
        await v.close()
    assert room.encoder.keyframe_requests > requests0
    assert room.encoder.keyframes > keys0


async def test_vanished_viewer_does_not_stop_the_others(live_server):
    stay, vanish = WhepViewer(live_server.url), WhepViewer(live_server.url)
    await stay.connect()
    await vanish.connect()
    await stay.wait_frames(video=10)
    await vanish.wait_frames(video=10)
    await vanish.close(delete=False)  # gone without a goodbye
    before = len(stay.tracks["video"].frames)
    await asyncio.sleep(1.5)
    after = len(stay.tracks["video"].frames)
    async with httpx.AsyncClient(base_url=live_server.url, headers=live_server.headers()) as h:
        stats = (await h.get("/api/rooms/demo")).json()
    await stay.close()
    assert after - before >= 25, "the remaining viewer stalled"
    assert stats["live"] is True
    for _ in range(50):  # the vanished session is reaped
        if vanish.location.rsplit("/", 1)[-1] not in live_server.engine.sessions:
            break
        await asyncio.sleep(0.1)
    assert vanish.location.rsplit("/", 1)[-1] not in live_server.engine.sessions
