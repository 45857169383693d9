"""The product card in layers: only changed parts redraw, the countdown stays legible as it
ticks in both orientations, and the portrait card and pointing hand fit the tall frame."""

import numpy as np
import pytest

from avatars.gestures import POINT
from avatars.personas import PERSONAS
from avatars.renderer import AvatarRenderer, AvatarState, Card

SIZES = {"landscape": (1280, 720), "portrait": (720, 1280)}
CARD = Card("阜平大枣", "29.9", "斤", ("个大肉厚", "皮薄核小"), category="jujube")


def renderer(orientation: str, persona: str = "xiaoli") -> AvatarRenderer:
    w, h = SIZES[orientation]
    return AvatarRenderer(PERSONAS[persona], width=w, height=h)


def with_(card: Card, **changes) -> Card:
    return Card(**{**card.__dict__, **changes})


def luminance(bgr: np.ndarray) -> np.ndarray:
    """Relative luminance (WCAG) of BGR uint8 pixels."""
    c = bgr[..., ::-1].astype(np.float64) / 255
    lin = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def white_text_box(patch: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of the near-white pixels: the countdown's digits."""
    ys, xs = np.nonzero((patch > 225).all(axis=2))
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.mark.parametrize("orientation", sorted(SIZES))
def test_a_ticking_countdown_is_legible_every_second(orientation):
    r = renderer(orientation)
    x0, y0, x1, y1 = r.layout.countdown
    previous = None
    for value in ("05:00", "04:59", "04:58", "01:00:00", "00:01"):
        r.set_card(with_(CARD, countdown=value))
        h = y1 - y0
        # inside the pill's straight part: its rounded ends show the white card behind
        patch = r.render(AvatarState(t=1.0))[y0:y1, x0 + h // 2 : x1 - h // 2 - 2].copy()
        if previous is not None:
            assert (patch != previous).any(), f"{value} did not change the countdown"
        previous = patch
        box = white_text_box(patch)
        assert box is not None, f"{value}: no digits drawn"
        bx0, by0, bx1, by1 = box
        # digits at least 40% of the pill's height: about 22 px tall in either frame
        assert by1 - by0 >= 0.4 * (y1 - y0), (value, box)
        # the whole value fits inside the pill's straight part, clear of its rounded end
        assert bx1 <= patch.shape[1] - 4, (value, box)
        assert by0 >= 4 and by1 <= h - 4, (value, box)
        # contrast of the digits against the pill around them (WCAG AA large text: 3:1)
        digits = (patch > 225).all(axis=2)
        ring = patch[by0:by1, max(0, bx0 - 6) : bx0 - 1].reshape(-1, 3)
        fg = luminance(patch[digits]).mean()
        bg = luminance(ring).mean()
        assert (fg + 0.05) / (bg + 0.05) >= 3.0, (value, fg, bg)


@pytest.mark.parametrize("orientation", sorted(SIZES))
def test_a_cleared_countdown_leaves_the_card_as_without_one(orientation):
    r = renderer(orientation)
    r.set_card(CARD)
    plain = r.render(AvatarState(t=1.0)).copy()
    r.set_card(with_(CARD, countdown="00:09"))
    r.render(AvatarState(t=1.0))
    r.set_card(CARD)
    assert np.array_equal(r.render(AvatarState(t=1.0)), plain)


@pytest.mark.parametrize("orientation", sorted(SIZES))
def test_changing_the_price_redraws_only_the_price(orientation):
    r = renderer(orientation)
    r.set_card(CARD)
    before = r.render(AvatarState(t=1.0)).copy()
    drawn = r._card_layer.redraws
    r.set_card(with_(CARD, price="19.9"))
    after = r.render(AvatarState(t=1.0)).copy()
    assert r._card_layer.redraws == drawn + 1  # one part rasterised, no more
    px0, py0, px1, py1 = r._card_layer._shown["price"][2]
    diff = (before != after).any(axis=2)
    x0, y0, x1, y1 = r.layout.char_box
    diff[y0:y1, x0:x1] = False  # the host breathes; the card is what we look at
    assert diff[py0:py1, px0:px1].sum() > 200, "the new price is on screen"
    diff[py0:py1, px0:px1] = False
    assert not diff.any(), "something besides the price changed"
    # back to the old price: served from the cache, pixel for pixel
    r.set_card(CARD)
    assert r._card_layer.redraws == drawn + 1
    assert np.array_equal(r.render(AvatarState(t=1.0))[py0:py1, px0:px1], before[py0:py1, px0:px1])


def test_unique_titles_every_frame_keep_the_part_cache_bounded():
    r = renderer("landscape")
    for n in range(200):
        r.set_card(with_(CARD, title=f"阜平大枣{n}", countdown=f"00:{n % 60:02d}"))
    assert len(r._card_layer._parts) <= 48
    assert r.cache_sizes["countdowns"] <= 48


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_portrait_card_shows_a_bullet_line_above_the_countdown(persona):
    r = renderer("portrait", persona)
    r.set_card(with_(CARD, countdown="04:59"))
    img = r.render(AvatarState(t=1.0))
    x0, y0, x1, _ = r.layout.card
    cy0 = r.layout.countdown[1]
    band = img[y0:cy0, x0:x1].astype(np.int16)
    bullet = np.abs(band - np.array([0x4A, 0xA0, 0x5B], np.int16)).max(axis=2) < 24
    assert bullet.sum() >= 40, "no bullet dot on the portrait card"
    # and the bullet's words are drawn (dark grey text right of the dot)
    ys, xs = np.nonzero(bullet)
    row = band[ys.min() : ys.max() + 1, xs.max() + 8 :]
    assert ((row < 110).all(axis=2)).sum() > 100


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_portrait_pointing_hand_stays_inside_the_frame(persona):
    r = renderer("portrait", persona)
    for progress in (0.3, 0.5, 0.7):
        state = AvatarState(t=1.0, gesture=POINT, gesture_progress=progress)
        mask = r.character_mask(state)
        cols = np.nonzero(mask.any(axis=0))[0]
        assert cols.max() < r.width - 24, f"{persona}: the hand reaches x={cols.max()}"
        # the arm does reach out toward the card's side: beyond the shoulders by far
        rest = np.nonzero(r.character_mask(AvatarState(t=1.0)).any(axis=0))[0]
        assert cols.max() > rest.max() + 30
