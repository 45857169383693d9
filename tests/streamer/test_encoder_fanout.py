"""The shared room encode (Annex-B H.264, 20 ms Opus) and the per-viewer packet queues."""

import asyncio
from fractions import Fraction

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from streamer import fanout
from streamer.encoder import AUDIO_FRAME, AUDIO_RATE, RoomEncoder
from streamer.fanout import PacketTrack, hook_keyframe_requests

SMALL = {"width": 64, "height": 48, "fps": 25}


def frame(i: int, width: int = 1280, height: int = 720) -> np.ndarray:
    """A BGR test picture that changes every frame."""
    img = np.zeros((height, width, 3), np.uint8)
    img[:] = (i * 37 % 256, i * 11 % 256, 128)
    img[: height // 2, : width // 2] = 255 - i % 256
    return img


def nal_types(data: bytes) -> list[int]:
    """NAL unit types in an Annex-B byte stream."""
    types = []
    i = data.find(b"\x00\x00\x01")
    while i != -1:
        types.append(data[i + 3] & 0x1F)
        i = data.find(b"\x00\x00\x01", i + 3)
    return types


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


@pytest.fixture(scope="module")
def video_packets() -> list[av.Packet]:
    """30 small H.264 packets, keyframes at 0, 10 and 20."""
    enc = RoomEncoder(**SMALL, gop_seconds=0.4)
    packets = [p for i in range(30) for p in enc.encode_video(frame(i, 64, 48), i)]
    assert len(packets) == 30
    assert [i for i, p in enumerate(packets) if p.is_keyframe] == [0, 10, 20]
    return packets


@pytest.fixture(scope="module")
def audio_packets() -> list[av.Packet]:
    enc = RoomEncoder(**SMALL)
    tone = (3000 * np.sin(2 * np.pi * 220 * np.arange(AUDIO_FRAME) / AUDIO_RATE)).astype(np.int16)
    packets = [
        p for i in range(fanout.AUDIO_QUEUE + 20) for p in enc.encode_audio(tone, i * AUDIO_FRAME)
    ]
    assert len(packets) == fanout.AUDIO_QUEUE + 20
    return packets


# --- RoomEncoder -------------------------------------------------------------------------


def test_encode_video_emits_annex_b_starting_with_a_keyframe_carrying_sps_and_pps():
    enc = RoomEncoder()
    packets = enc.encode_video(frame(0), 0)
    assert len(packets) == 1
    first = packets[0]
    data = bytes(first)
    assert data.startswith(b"\x00\x00\x00\x01")
    assert first.is_keyframe
    types = nal_types(data)
    assert 7 in types and 8 in types and 5 in types  # SPS, PPS, IDR slice
    assert first.time_base == Fraction(1, 25) and first.pts == 0
    assert enc.keyframes == 1 and enc.video_encodes == 1


def test_following_frames_are_annex_b_non_idr_slices():
    enc = RoomEncoder()
    enc.encode_video(frame(0), 0)
    for i in range(1, 4):
        (p,) = enc.encode_video(frame(i), i)
        assert bytes(p).startswith(b"\x00\x00\x00\x01")
        assert not p.is_keyframe
        assert 5 not in nal_types(bytes(p)) and 1 in nal_types(bytes(p))
        assert p.pts == i


def test_keyframe_requests_before_one_encode_coalesce_into_one_keyframe():
    enc = RoomEncoder(**SMALL)
    for i in range(3):
        enc.encode_video(frame(i, 64, 48), i)
    assert enc.keyframes == 1
    for _ in range(3):
        enc.request_keyframe()
    (forced,) = enc.encode_video(frame(3, 64, 48), 3)
    (after,) = enc.encode_video(frame(4, 64, 48), 4)
    assert forced.is_keyframe and 7 in nal_types(bytes(forced))
    assert not after.is_keyframe
    assert enc.keyframes == 2
    assert enc.keyframe_requests == 3


def test_without_requests_keyframes_come_only_at_the_gop():
    enc = RoomEncoder(**SMALL, gop_seconds=0.4)
    keys = [i for i in range(25) for p in enc.encode_video(frame(i, 64, 48), i) if p.is_keyframe]
    assert keys == [0, 10, 20]


def test_audio_packets_are_20ms_opus_with_pts_advancing_by_960():
    enc = RoomEncoder(**SMALL)
    packets = []
    for i in range(10):
        out = enc.encode_audio(np.zeros(AUDIO_FRAME, np.int16), i * AUDIO_FRAME)
        assert len(out) == 1  # one Opus packet per 20 ms, no buffering
        packets += out
    assert all(p.duration == 960 for p in packets)
    assert all(p.time_base == Fraction(1, AUDIO_RATE) for p in packets)
    assert np.all(np.diff([p.pts for p in packets]) == 960)
    assert enc.audio_encodes == 10


def test_opus_round_trip_keeps_the_tone():
    enc = RoomEncoder(**SMALL)
    t = np.arange(AUDIO_FRAME * 25) / AUDIO_RATE
    pcm = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    dec = av.CodecContext.create("opus", "r")
    dec.sample_rate, dec.layout = AUDIO_RATE, "mono"
    out = []
    for i in range(25):
        chunk = pcm[i * AUDIO_FRAME : (i + 1) * AUDIO_FRAME]
        for p in enc.encode_audio(chunk, i * AUDIO_FRAME):
            out += [f.to_ndarray().reshape(-1) for f in dec.decode(p)]
    decoded = np.concatenate(out).astype(np.float64)
    if np.abs(decoded).max() <= 1.0:  # float output
        decoded *= 32768
    rms = np.sqrt((decoded[AUDIO_FRAME * 5 :] ** 2).mean())
    assert 3000 < rms < 8000  # ~5657 for an 8000-peak sine


# --- PacketTrack ------------------------------------------------------------------------


async def test_video_track_drops_everything_until_the_first_keyframe(video_packets):
    requests = Counter()
    track = PacketTrack("video", requests)
    for p in video_packets[1:10]:  # non-keyframes: a decoder could not start here
        track.push(p)
    assert track.dropped == 9
    for p in video_packets[10:13]:
        track.push(p)
    assert [await track.recv() for _ in range(3)] == video_packets[10:13]
    assert track.delivered == 3 and track.dropped == 9
    assert requests.calls == 0


async def test_full_video_queue_drains_requests_a_keyframe_and_resumes_at_the_next_one(
    video_packets,
):
    requests = Counter()
    track = PacketTrack("video", requests)
    key0, key1, deltas = video_packets[0], video_packets[10], video_packets[1:10]
    track.push(key0)
    for i in range(fanout.VIDEO_QUEUE - 1):
        track.push(deltas[i % len(deltas)])
    assert track.dropped == 0 and requests.calls == 0
    track.push(deltas[0])  # one too many: the viewer has fallen behind
    assert requests.calls == 1
    assert track.dropped == fanout.VIDEO_QUEUE + 1  # the queued backlog and the new packet
    for p in deltas:  # until a keyframe arrives nothing is queued and nothing re-requested
        track.push(p)
    assert requests.calls == 1
    assert track.dropped == fanout.VIDEO_QUEUE + 1 + len(deltas)
    track.push(key1)
    track.push(deltas[0])
    assert await track.recv() is key1  # the backlog is gone: playback resumes at the IDR
    assert await track.recv() is deltas[0]
    assert track.delivered == 2


async def test_full_audio_queue_drops_the_oldest_packet(audio_packets):
    requests = Counter()
    track = PacketTrack("audio", requests)
    n = fanout.AUDIO_QUEUE + 3
    for p in audio_packets[:n]:
        track.push(p)
    assert track.dropped == 3
    got = [await track.recv() for _ in range(fanout.AUDIO_QUEUE)]
    assert got == audio_packets[3:n]  # newest kept, order preserved
    assert requests.calls == 0  # audio never asks the encoder for anything


async def test_stopped_track_recv_raises_media_stream_error(audio_packets):
    track = PacketTrack("audio", Counter())
    track.push(audio_packets[0])
    track.stop()
    assert track.readyState == "ended"
    with pytest.raises(MediaStreamError):
        await track.recv()
    track.push(audio_packets[1])  # pushing to an ended track is ignored
    with pytest.raises(MediaStreamError):
        await track.recv()
    track.stop()  # stopping twice is harmless


async def test_stop_wakes_a_pending_recv_with_media_stream_error():
    track = PacketTrack("video", Counter())
    pending = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0)
    assert not pending.done()
    track.stop()
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(pending, 5)


async def test_a_slow_viewer_does_not_affect_another_viewers_queue(video_packets):
    slow_requests, fast_requests = Counter(), Counter()
    slow, fast = PacketTrack("video", slow_requests), PacketTrack("video", fast_requests)
    stream = [video_packets[i % 30] for i in range(4 * fanout.VIDEO_QUEUE)]
    received = []
    for p in stream:
        for track in (slow, fast):  # the room's fan-out order
            track.push(p)
        received.append(await fast.recv())  # the fast viewer keeps up; the slow one never reads
    assert received == stream
    assert fast.dropped == 0 and fast.delivered == len(stream)
    assert fast_requests.calls == 0
    assert slow.dropped > 0 and slow_requests.calls >= 1
    assert slow._queue.qsize() <= fanout.VIDEO_QUEUE


async def test_falling_behind_makes_the_room_encoder_send_the_next_frame_as_a_keyframe():
    enc = RoomEncoder(**SMALL, gop_seconds=100)  # no periodic keyframe in this test
    track = PacketTrack("video", enc.request_keyframe)
    pushed = 0
    for i in range(fanout.VIDEO_QUEUE + 1):  # fill the queue, then overflow it
        for p in enc.encode_video(frame(i, 64, 48), i):
            track.push(p)
            pushed += 1
    assert enc.keyframe_requests == 1
    (next_packet,) = enc.encode_video(frame(pushed, 64, 48), pushed)
    assert next_packet.is_keyframe
    track.push(next_packet)
    assert await track.recv() is next_packet


def test_hook_keyframe_requests_routes_pli_to_the_callback():
    class FakeSender:
        def _send_keyframe(self) -> None:
            raise AssertionError("aiortc's own handler must be replaced")

    requests = Counter()
    sender = FakeSender()
    hook_keyframe_requests(sender, requests)
    sender._send_keyframe()
    sender._send_keyframe()
    assert requests.calls == 2
