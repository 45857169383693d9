"""The skia host: mouth shapes, frame stamps, blinking, personas and hostile text."""

import av
import numpy as np
import pytest

from avatars.personas import PERSONAS
from avatars.renderer import (
    CHAR_X0,
    CHAR_X1,
    CHAR_Y0,
    CHAR_Y1,
    HEAD_CX,
    HEAD_CY,
    HEIGHT,
    WIDTH,
    AvatarRenderer,
    AvatarState,
    Card,
    mouth_pixels,
    read_stamp,
)
from streamer.encoder import RoomEncoder

STAMPS = (0, 1, 2, 255, 256, 12345, 43690, 65535)


@pytest.fixture
def renderer() -> AvatarRenderer:
    return AvatarRenderer(PERSONAS["xiaowang"])


def speaking(viseme: str, openness: float = 1.0, t: float = 1.0) -> AvatarState:
    return AvatarState(t=t, viseme=viseme, openness=openness, speaking=True)


def eye_whites(img: np.ndarray) -> int:
    """Near-white pixels around both eyes (sclera and highlight)."""
    roi = img[HEAD_CY - 40 : HEAD_CY + 20, HEAD_CX - 80 : HEAD_CX + 80]
    return int((roi.min(axis=2) >= 235).sum())


# --- mouth -------------------------------------------------------------------------------


def test_open_mouth_shows_many_more_mouth_pixels_than_closed(renderer):
    open_px = mouth_pixels(renderer.render(speaking("open")).copy())
    closed_px = mouth_pixels(renderer.render(speaking("closed")).copy())
    silent_px = mouth_pixels(renderer.render(AvatarState(t=1.0)).copy())
    assert open_px > 1000
    assert open_px > 10 * max(closed_px, silent_px, 1)


def test_mouth_opens_wider_with_openness(renderer):
    px = [mouth_pixels(renderer.render(speaking("open", o)).copy()) for o in (0.2, 0.6, 1.0)]
    assert px[0] < px[1] < px[2]


def test_mouth_stays_shut_when_not_speaking_whatever_the_viseme(renderer):
    state = AvatarState(t=1.0, viseme="open", openness=1.0, speaking=False)
    assert mouth_pixels(renderer.render(state).copy()) < 50


@pytest.mark.parametrize("viseme", ["open", "round", "spread", "mid"])
def test_every_speaking_viseme_opens_the_mouth(renderer, viseme):
    assert mouth_pixels(renderer.render(speaking(viseme)).copy()) > 500


# --- stamps ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", STAMPS)
def test_stamp_round_trips_through_read_stamp(value):
    r = AvatarRenderer(PERSONAS["xiaowang"], stamp=True)
    img = r.render(speaking("open"), frame_index=value)
    assert read_stamp(img) == value
    assert read_stamp(img.mean(axis=2).astype(np.uint8)) == value  # grayscale too


def test_unstamped_frames_carry_no_stamp_blocks(renderer):
    img = renderer.render(AvatarState(t=0.0), frame_index=65535)
    assert read_stamp(img) != 65535


def test_stamps_survive_h264_encode_and_decode():
    r = AvatarRenderer(PERSONAS["xiaoli"], stamp=True)
    enc = RoomEncoder()
    packets = []
    for i, value in enumerate(STAMPS):
        img = r.render(speaking("open", 0.5 + 0.05 * i, t=i / 25), frame_index=value)
        packets += enc.encode_video(img, i)
    dec = av.CodecContext.create("h264", "r")
    frames = []
    for p in packets:
        frames += dec.decode(p)
    frames += dec.decode(None)
    decoded = [f.to_ndarray(format="bgr24") for f in frames]
    assert [d.shape for d in decoded] == [(HEIGHT, WIDTH, 3)] * len(STAMPS)
    assert [read_stamp(d) for d in decoded] == list(STAMPS)


def test_open_mouth_survives_h264_encode_and_decode():
    r = AvatarRenderer(PERSONAS["xiaowang"])
    enc = RoomEncoder()
    packets = enc.encode_video(r.render(speaking("open")).copy(), 0)
    packets += enc.encode_video(r.render(AvatarState(t=0.04)).copy(), 1)
    dec = av.CodecContext.create("h264", "r")
    frames = [f for p in packets for f in dec.decode(p)] + list(dec.decode(None))
    opened, shut = (mouth_pixels(f.to_ndarray(format="bgr24")) for f in frames)
    assert opened > 500 and opened > 10 * max(shut, 1)


# --- eyes ----------------------------------------------------------------------------------


def test_host_blinks_within_a_few_seconds(renderer):
    whites = [eye_whites(renderer.render(AvatarState(t=i * 0.04))) for i in range(125)]
    assert max(whites) > 200, "eyes never open"
    assert min(whites) < max(whites) * 0.2, "eyes never close in 5 s"
    blinking = sum(w < max(whites) * 0.2 for w in whites)
    assert blinking <= 10, "a blink is short, not most of the time"


# --- personas ------------------------------------------------------------------------------


@pytest.mark.parametrize("persona_id", sorted(PERSONAS))
def test_every_persona_renders_a_720p_bgr_frame(persona_id):
    img = AvatarRenderer(PERSONAS[persona_id]).render(speaking("open"))
    assert img.shape == (HEIGHT, WIDTH, 3) and img.dtype == np.uint8
    assert img.std() > 20  # a drawn scene, not a blank frame
    assert mouth_pixels(img) > 500


def test_personas_look_different():
    frames = [AvatarRenderer(PERSONAS[p]).render(AvatarState(t=0.5)).copy() for p in PERSONAS]
    for i in range(len(frames)):
        for j in range(i + 1, len(frames)):
            assert (frames[i] != frames[j]).any(axis=2).sum() > 5000


def test_render_reuses_its_buffer_and_only_redraws_the_character(renderer):
    a = renderer.render(speaking("open"))
    a_copy = a.copy()
    b = renderer.render(AvatarState(t=2.0))
    assert b is a  # documented: the shared buffer is returned
    changed = np.argwhere((a_copy != b).any(axis=2))
    assert len(changed) > 0
    assert changed[:, 0].min() >= CHAR_Y0 and changed[:, 0].max() < CHAR_Y1  # character box rows
    assert changed[:, 1].min() >= CHAR_X0 and changed[:, 1].max() < CHAR_X1  # character box columns
    assert (CHAR_X1 - CHAR_X0) * (CHAR_Y1 - CHAR_Y0) < 0.45 * WIDTH * HEIGHT  # not the whole frame


# --- static layers and hostile text --------------------------------------------------------

LONG_CHINESE = "阜平大枣个大肉厚皮薄核小自然晾晒甜而不腻越嚼越香" * 40


def test_card_and_caption_change_the_frame(renderer):
    before = renderer.render(AvatarState(t=0.0)).copy()
    renderer.set_card(Card(title="阜平大枣", price="29.9", unit="斤", lines=("个大肉厚",)))
    renderer.set_caption("阜平大枣，二十九块九一斤")
    after = renderer.render(AvatarState(t=0.0)).copy()
    diff = (before != after).any(axis=2)
    assert diff[90:560, 760:1240].sum() > 10_000  # the card
    assert diff[640:700].sum() > 1_000  # the caption band
    renderer.set_caption("")
    renderer.set_card(None)
    cleared = renderer.render(AvatarState(t=0.0))
    assert np.array_equal(cleared, before)


def test_long_chinese_card_and_caption_do_not_crash(renderer):
    renderer.set_card(
        Card(
            title=LONG_CHINESE,
            price="9" * 40,
            unit=LONG_CHINESE[:30],
            lines=(LONG_CHINESE,) * 6,
            badge=LONG_CHINESE,
        )
    )
    renderer.set_caption(LONG_CHINESE)
    img = renderer.render(speaking("open"))
    assert img.shape == (HEIGHT, WIDTH, 3)
    assert mouth_pixels(img) > 500  # the overflowing text did not cover the host


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("😀🍎 好吃", id="emoji"),
        pytest.param("\x00", id="nul"),
        pytest.param("好\x00吃", id="nul-inside"),
        pytest.param("\t制表", id="tab"),
        pytest.param("\x1b[31m红字", id="ansi-escape"),
        pytest.param("\u202e反向文字", id="rtl-override"),
        pytest.param("\ufeff\u200b零宽", id="zero-width"),
        pytest.param("\U0010ffff", id="noncharacter"),
    ],
)
def test_emoji_and_odd_characters_in_card_and_caption_do_not_crash(renderer, text):
    renderer.set_card(Card(title=text, price="29.9", unit=text, lines=(text,), badge=text))
    renderer.set_caption(text)
    assert renderer.render(AvatarState(t=0.0)).shape == (HEIGHT, WIDTH, 3)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("阜平大枣\n两斤立减5元", id="lf-inside"),
        pytest.param("第一行\r\n第二行", id="crlf-inside"),
        pytest.param("结尾换行\n", id="lf-at-end"),
        pytest.param("\r", id="lone-cr"),
    ],
)
def test_line_breaks_in_card_and_caption_do_not_crash(renderer, text):
    # spoken lines (LLM answers, viewer-facing text) can carry line breaks; the media
    # thread sets them as the caption, so they must never raise
    renderer.set_caption(text)
    renderer.set_card(Card(title=text, price="29.9", unit="斤", lines=(text,), badge=text))
    assert renderer.render(AvatarState(t=0.0)).shape == (HEIGHT, WIDTH, 3)
