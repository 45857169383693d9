"""480p rooms (854×480, 480×854): the 720p layout drawn at 2/3 scale. Each persona looks
like its 720p frame scaled down, with its host, card and caption in place, and the room's
encoder codes the smaller frame at its own settings."""

import av
import cv2
import numpy as np
import pytest

from avatars.layout import LANDSCAPE_480, PORTRAIT_480, frame_size, layout_for
from avatars.personas import PERSONAS
from avatars.renderer import AvatarRenderer, AvatarState, Card, mouth_pixels, read_stamp
from streamer.encoder import RoomEncoder

SIZES = {"landscape": ((854, 480), (1280, 720)), "portrait": ((480, 854), (720, 1280))}
CARD = Card(
    "阜平大枣", "29.9", "斤", ("个大肉厚", "皮薄核小"), category="jujube", countdown="02:59"
)
CAPTION = "大家好，欢迎来到阜平好物直播间！"
SPEAKING = AvatarState(
    t=2.0,
    viseme="open",
    openness=1.0,
    speaking=True,
    gesture="point",
    gesture_progress=0.5,
    gaze=(0.0, 0.0),
)


def render(persona: str, size: tuple[int, int], card: bool = True):
    r = AvatarRenderer(PERSONAS[persona], width=size[0], height=size[1])
    if card:
        r.set_card(CARD)
        r.set_caption(CAPTION)
    return r, r.render(SPEAKING).copy()


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b).mean())


@pytest.mark.parametrize("orientation", list(SIZES))
@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_a_480p_frame_is_the_720p_frame_scaled_down(persona, orientation):
    small, big = SIZES[orientation]
    r, img = render(persona, small)
    _, ref = render(persona, big)
    assert img.shape == (small[1], small[0], 3) and img.dtype == np.uint8
    want = cv2.resize(ref, small, interpolation=cv2.INTER_AREA)
    assert diff(img, want) <= 4.0  # measured 1.5–2.1 levels of 255
    lay = r.layout
    # text is drawn at its own size, sharper than a downscale: the caption's glyph edges
    # differ most (5–9.5 levels measured, aligned to the pixel), shapes under 3
    for name, most in (("card", 4.0), ("caption", 12.0), ("countdown", 4.0), ("char_box", 4.0)):
        x0, y0, x1, y1 = getattr(lay, name)
        assert diff(img[y0:y1, x0:x1], want[y0:y1, x0:x1]) <= most, name
    # the host is drawn, where the 720p host is, at the scaled size
    mask = r.character_mask(SPEAKING)
    big_r = AvatarRenderer(PERSONAS[persona], width=big[0], height=big[1])
    want_mask = cv2.resize(
        big_r.character_mask(SPEAKING).astype(np.uint8) * 255, small, interpolation=cv2.INTER_AREA
    )
    want_mask = want_mask > 127
    iou = (mask & want_mask).sum() / (mask | want_mask).sum()
    assert iou >= 0.95 and mask.sum() > 0.08 * small[0] * small[1]
    assert mouth_pixels(img) > 200  # the open mouth, read where this layout puts it


@pytest.mark.parametrize("orientation", list(SIZES))
@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_a_480p_frame_shows_its_card_and_caption(persona, orientation):
    small, _ = SIZES[orientation]
    r, img = render(persona, small)
    _, blank = render(persona, small, card=False)
    changed = np.abs(img.astype(np.int16) - blank).max(axis=2) > 30
    x0, y0, x1, y1 = r.layout.card
    assert changed[y0:y1, x0:x1].mean() > 0.3
    x0, y0, x1, y1 = r.layout.caption
    assert changed[y0:y1, x0:x1].sum() > 500
    x0, y0, x1, y1 = r.layout.countdown
    assert changed[y0:y1, x0:x1].sum() > 300
    # nothing of the card or caption spills outside their boxes (the card's shadow aside)
    outside = changed.copy()
    for box in (r.layout.card, r.layout.caption, r.layout.char_box):
        x0, y0, x1, y1 = box
        outside[max(0, y0 - 12) : y1 + 12, max(0, x0 - 12) : x1 + 12] = False
    assert outside.sum() == 0


def test_the_480p_layouts_and_sizes():
    assert layout_for(854, 480) is LANDSCAPE_480 and layout_for(480, 854) is PORTRAIT_480
    assert frame_size("480p", portrait=False) == (854, 480)
    assert frame_size("480p", portrait=True) == (480, 854)
    assert frame_size("720p", portrait=True) == (720, 1280)
    with pytest.raises(ValueError, match="720p, 480p"):
        frame_size("4k", portrait=False)
    for lay in (LANDSCAPE_480, PORTRAIT_480):
        for name in ("card", "caption", "countdown", "char_box"):
            x0, y0, x1, y1 = getattr(lay, name)
            assert 0 <= x0 < x1 <= lay.width and 0 <= y0 < y1 <= lay.height, name


@pytest.mark.parametrize("qp", [28, None], ids=["room QP 28", "ABR scaled to 480p"])
@pytest.mark.parametrize("size", [(854, 480), (480, 854)])
def test_the_room_encoder_codes_480p_at_its_own_settings(size, qp):
    r = AvatarRenderer(PERSONAS["xiaowang"], width=size[0], height=size[1], stamp=True)
    r.set_card(CARD)
    r.set_caption(CAPTION)
    enc = RoomEncoder(*size, qp=qp)
    if qp is None:
        assert enc.video.bit_rate == 801_000  # 1.8 Mb/s at 720p, scaled by pixels
    packets, source = [], []
    for n in range(50):
        state = AvatarState(
            t=n / 25, viseme="open", openness=0.5 + 0.5 * np.sin(n / 3) ** 2, speaking=True
        )
        img = r.render(state, frame_index=n)
        source.append(img.copy())
        packets += enc.encode_video(img, n, r.take_dirty())
    dec = av.CodecContext.create("h264", "r")
    frames = [f for p in packets for f in dec.decode(p)] + list(dec.decode(None))
    decoded = [f.to_ndarray(format="bgr24") for f in frames]
    assert [d.shape for d in decoded] == [(size[1], size[0], 3)] * 50
    assert [read_stamp(d) for d in decoded] == list(range(50))
    errors = [diff(a, b) for a, b in zip(decoded, source, strict=True)]
    # ABR's first keyframe is its coarsest (4.4–5.1 levels measured), QP 28's under 4
    assert np.median(errors) <= 4.0 and max(errors) <= 6.0
    kbps = sum(p.size for p in packets) * 8 / 2.0 / 1000
    assert 50 < kbps < 1_200, kbps  # under 720p's 1.8 Mb/s whichever the rate control
