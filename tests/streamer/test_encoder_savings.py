"""The room encoder does less for the same stream: it converts only the regions the renderer
changed, codes unchanged blocks as skipped (constant quantiser), and sends steady silence
from packets it already made."""

import dataclasses
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from avatars.layout import LANDSCAPE
from avatars.personas import PERSONAS
from avatars.renderer import AvatarRenderer, AvatarState, Card
from streamer.encoder import AUDIO_FRAME, SILENCE_SETTLE, RoomEncoder


@pytest.mark.parametrize("size", [(1280, 720), (720, 1280)])
def test_converting_only_changed_regions_encodes_the_same_stream(size):
    w, h = size
    r = AvatarRenderer(PERSONAS["xiaoli"], stamp=True, width=w, height=h)
    regions, full = RoomEncoder(w, h), RoomEncoder(w, h)
    for n in range(30):
        if n == 10:
            r.set_card(Card("阜平苹果", "12.8", "斤", ("脆甜多汁",), countdown="01:00"))
        if n in (5, 20):
            r.set_caption(f"第{n}句")
        img = r.render(AvatarState(t=n / 25, speaking=True, openness=0.6, viseme="open"), n)
        a = regions.encode_video(img, n, r.take_dirty())
        b = full.encode_video(img, n)
        assert [bytes(p) for p in a] == [bytes(p) for p in b], f"frame {n} differs"
    assert regions.converted_pixels < 0.6 * full.converted_pixels


@pytest.mark.parametrize("size", [(1280, 720), (720, 1280)])
def test_the_hosts_bgra_patches_encode_the_same_stream_as_bgr_frames(size):
    """A live room hands the host's region to the encoder as the BGRA pixels skia drew; the
    stream is the one the BGR frames make, also when a frame in between is asked for in BGR."""
    w, h = size
    lean = AvatarRenderer(PERSONAS["xiaowang"], stamp=True, width=w, height=h)
    ref = AvatarRenderer(PERSONAS["xiaowang"], stamp=True, width=w, height=h)
    patched, full = RoomEncoder(w, h), RoomEncoder(w, h)
    for n in range(30):
        for r in (lean, ref):
            if n == 10:
                r.set_card(Card("阜平苹果", "12.8", "斤", ("脆甜多汁",), countdown="01:00"))
            if n in (5, 20):
                r.set_caption(f"第{n}句")
        state = AvatarState(t=n / 25, speaking=True, openness=0.3 + 0.3 * (n % 3), viseme="open")
        img = ref.render(state, n)
        if n == 15:  # an observer asks for the BGR frame: it matches, and the stream goes on
            assert np.array_equal(lean.render(state, n), img)
            a = patched.encode_video(img, n, lean.take_dirty())
        else:
            lean.draw(state, n)
            a = patched.encode_patches(lean.take_patches(), n)
        b = full.encode_video(img, n)
        assert [bytes(p) for p in a] == [bytes(p) for p in b], f"frame {n} differs"
    assert patched.converted_pixels < 0.6 * full.converted_pixels


def test_a_character_box_with_odd_edges_goes_to_the_encoder_in_bgr(monkeypatch):
    """A converted region widens to whole 2×2 chroma blocks: a box with odd edges would reach
    outside the BGRA pixels, so its regions go as the BGR frame's, and the stream is the same."""
    import avatars.renderer as renderer

    odd = dataclasses.replace(LANDSCAPE, char_box=(101, 61, 755, 611))
    monkeypatch.setattr(renderer, "layout_for", lambda w, h: odd)
    lean, ref = AvatarRenderer(PERSONAS["xiaoli"]), AvatarRenderer(PERSONAS["xiaoli"])
    patched, full = RoomEncoder(), RoomEncoder()
    for n in range(8):
        state = AvatarState(t=n / 25, speaking=True, openness=0.2 * (n % 4), viseme="open")
        lean.draw(state, n)
        a = patched.encode_patches(lean.take_patches(), n)
        b = full.encode_video(ref.render(state, n), n)
        assert [bytes(p) for p in a] == [bytes(p) for p in b], f"frame {n} differs"
    with pytest.raises(ValueError, match="even edges"):
        patched.encode_patches([((101, 61, 200, 200), lean._box, (101, 61))], 8)


def test_patches_must_start_with_the_whole_frame():
    enc = RoomEncoder(64, 48)
    with pytest.raises(ValueError, match="whole frame"):
        enc.encode_patches([((0, 0, 8, 8), np.zeros((8, 8, 4), np.uint8), (0, 0))], 0)
    with pytest.raises(ValueError, match="whole frame"):
        enc.encode_patches([], 0)
    with pytest.raises(ValueError, match="BGR or BGRA"):
        enc.encode_patches([((0, 0, 64, 48), np.zeros((48, 64), np.uint8), (0, 0))], 0)


def test_a_region_at_odd_coordinates_still_converts_whole_chroma_blocks():
    enc, ref = RoomEncoder(64, 48), RoomEncoder(64, 48)
    img = np.full((48, 64, 3), 90, np.uint8)
    enc.encode_video(img, 0, [])
    img[7:21, 13:30] = (10, 200, 30)
    enc.encode_video(img, 1, [(13, 7, 30, 21)])
    ref.encode_video(img, 1)
    for got, want in zip(enc._planes, ref._planes, strict=True):
        assert np.array_equal(got, want)


def test_a_wrong_frame_is_a_clear_error():
    enc = RoomEncoder(64, 48)
    with pytest.raises(ValueError, match="64x48 BGR uint8"):
        enc.encode_video(np.zeros((48, 64, 4), np.uint8), 0)


def test_steady_silence_is_encoded_once_and_reused():
    enc = RoomEncoder(64, 48)
    chunk = 2 * AUDIO_FRAME
    silence = np.zeros(chunk, np.int16)
    tone = (np.sin(np.arange(chunk) / 8) * 8000).astype(np.int16)
    packets = []
    for n in range(12):
        packets += enc.encode_audio(silence, n * chunk)
    assert enc.silence_reused == 12 - SILENCE_SETTLE
    packets += enc.encode_audio(tone, 12 * chunk)  # speech is always encoded
    packets += enc.encode_audio(silence, 13 * chunk)  # and silence settles again after it
    assert enc.audio_encodes == 14 and enc.silence_reused == 12 - SILENCE_SETTLE
    pts = [p.pts for p in packets]
    assert np.all(np.diff(pts) == AUDIO_FRAME)  # one unbroken 20 ms timeline
    decoder = av.CodecContext.create("libopus", "r")
    decoder.sample_rate, decoder.layout = 48_000, "mono"
    pcm = [f.to_ndarray() for p in packets for f in decoder.decode(p)]
    assert len(pcm) == len(packets)
    assert np.abs(np.concatenate(pcm[4:24], axis=1)).max() < 1e-3  # silence decodes silent


def test_a_refilled_audio_frame_encodes_what_fresh_frames_encode():
    """The room's chunks are refilled into one frame; a chunk that is not whole 20 ms frames
    (the encoder keeps its tail) ends the refilling, and the packets stay the same."""
    rng = np.random.default_rng(7)
    speech = [(rng.standard_normal(2 * AUDIO_FRAME) * 3000).astype(np.int16) for _ in range(30)]
    speech[20] = speech[20][:1500]
    enc = RoomEncoder(64, 48)
    ref = RoomEncoder(64, 48).audio  # the same Opus settings, fed fresh frames
    got, want, pts = [], [], 0
    for pcm in speech:
        got += [bytes(p) for p in enc.encode_audio(pcm, pts)]
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 48_000, pts, Fraction(1, 48_000)
        want += [bytes(p) for p in ref.encode(frame)]
        pts += len(pcm)
    assert got == want and len(got) >= 58
    assert not enc._audio_aligned


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two 8-bit planes (Gaussian window 11, sigma 1.5)."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x):
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    ma, mb = blur(a), blur(b)
    va, vb, cov = blur(a * a) - ma * ma, blur(b * b) - mb * mb, blur(a * b) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return float(s.mean())


def test_the_room_encoder_keeps_every_frame_at_ssim_095_and_codes_stillness_almost_free():
    r = AvatarRenderer(PERSONAS["xiaozhang"])
    r.set_card(Card("阜平苹果", "12.8", "斤", ("脆甜多汁",), category="apple", countdown="01:00"))
    r.set_caption("家人们看这个苹果，脆甜多汁！")
    enc = RoomEncoder()  # the room's own settings
    source, packets = [], []
    for n in range(40):
        state = AvatarState(t=n / 25, speaking=True, openness=0.5 + 0.4 * np.sin(n), viseme="open")
        img = r.render(state, n)
        source.append(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
        packets.append(enc.encode_video(img, n, r.take_dirty()))
    still = r.render(AvatarState(t=2.0), 40).copy()
    quiet = [enc.encode_video(still, n) for n in range(41, 51)]
    dec = av.CodecContext.create("h264", "r")
    decoded = [f for ps in packets + quiet for p in ps for f in dec.decode(p)]
    assert len(decoded) >= 45
    for n, frame in enumerate(decoded[:40]):
        assert _ssim(frame.to_ndarray(format="gray"), source[n]) >= 0.95, f"frame {n}"
    key = sum(p.size for p in packets[0])
    assert all(p.is_keyframe for p in packets[0])
    # the same picture again: x264 skips every block (a frame costs a few dozen bytes)
    assert max(sum(p.size for p in ps) for ps in quiet[1:]) < 0.02 * key
