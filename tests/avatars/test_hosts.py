"""The illustrated hosts: expressions, gestures, blinks, silhouettes, overlays, portrait."""

import itertools

import numpy as np
import pytest

from avatars.gestures import GESTURES
from avatars.layout import PORTRAIT
from avatars.motion import EXPRESSION_NAMES, MouthBlend, blink
from avatars.personas import PERSONAS
from avatars.renderer import (
    HEAD_CX,
    HEAD_CY,
    TEXT_CACHE,
    AvatarRenderer,
    AvatarState,
    Card,
    mouth_pixels,
)

T = 2.0  # no blink at this instant for any persona (checked below)
FACE = (slice(HEAD_CY - 90, HEAD_CY + 120), slice(HEAD_CX - 110, HEAD_CX + 110))
EYES = (slice(HEAD_CY - 40, HEAD_CY + 20), slice(HEAD_CX - 80, HEAD_CX + 80))
# a face differs between two expressions when at least 5% of its box moves by > 30 levels
FACE_CHANGE = 0.05
ARM_CHANGE = 4000  # pixels outside the face box that a gesture must change


def frame(persona: str, **state) -> np.ndarray:
    r = AvatarRenderer(PERSONAS[persona])
    return r.render(AvatarState(t=T, gaze=(0.0, 0.0), **state)).copy()


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b).max(axis=2) > 30


def whites(img: np.ndarray) -> int:
    return int((img[EYES].min(axis=2) >= 235).sum())


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_every_pair_of_expressions_differs_in_the_face(persona):
    assert blink(T, AvatarRenderer(PERSONAS[persona])._seed) == 0
    faces = {e: frame(persona, expression=e)[FACE] for e in EXPRESSION_NAMES}
    for a, b in itertools.combinations(EXPRESSION_NAMES, 2):
        share = changed(faces[a], faces[b]).mean()
        assert share > FACE_CHANGE, f"{persona}: {a} and {b} look alike ({share:.1%} of the face)"


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_legacy_expression_names_map_to_the_new_ones(persona):
    assert np.array_equal(
        frame(persona, expression="sorry"), frame(persona, expression="apologetic")
    )
    thinking = frame(persona, expression="thinking")
    assert changed(thinking[FACE], frame(persona)[FACE]).mean() > FACE_CHANGE
    frame(persona, expression="no-such-mood")  # unknown names fall back to neutral


def test_expressions_blend_over_about_300_ms():
    r = AvatarRenderer(PERSONAS["xiaoli"])
    r.render(AvatarState(t=T, expression="neutral", gaze=(0, 0)))
    mid = r.render(AvatarState(t=T + 0.12, expression="happy", gaze=(0, 0))).copy()
    done = r.render(AvatarState(t=T + 0.45, expression="happy", gaze=(0, 0))).copy()
    start = frame("xiaoli", expression="neutral")
    fresh = AvatarRenderer(PERSONAS["xiaoli"]).render(
        AvatarState(t=T + 0.45, expression="happy", gaze=(0, 0))
    )
    assert np.array_equal(done, fresh), "after 400 ms the new expression is fully there"
    assert changed(mid[FACE], start[FACE]).mean() > 0.01, "the blend has started"
    assert changed(mid[FACE], done[FACE]).mean() > 0.01, "…but not snapped to the end"


@pytest.mark.parametrize("persona", sorted(PERSONAS))
@pytest.mark.parametrize("gesture", GESTURES)
def test_a_gesture_moves_the_arms(persona, gesture):
    rest = frame(persona)
    moved = changed(frame(persona, gesture=gesture, gesture_progress=0.5, product="honey"), rest)
    moved[FACE] = False  # count the arms and hands, not the glance at the card
    assert moved.sum() > ARM_CHANGE


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_a_gesture_starts_and_ends_at_rest(persona):
    rest = frame(persona)
    for progress in (0.0, 1.0):
        end = frame(persona, gesture="wave", gesture_progress=progress)
        assert changed(end, rest).sum() == 0


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_idle_host_blinks_within_4_seconds_and_not_on_a_beat(persona):
    r = AvatarRenderer(PERSONAS[persona])
    w = [whites(r.render(AvatarState(t=i / 25))) for i in range(100)]  # 4 s idle
    assert max(w) > 120, "eyes open"
    assert min(w) < 0.2 * max(w), "eyes close within 4 s"
    # over a minute the gaps between blinks vary (people do not blink like a metronome)
    seed = r._seed
    closed = [blink(i / 25, seed) > 0.5 for i in range(25 * 60)]
    starts = [i / 25 for i in range(1, len(closed)) if closed[i] and not closed[i - 1]]
    gaps = np.diff(starts)
    assert len(starts) >= 12 and gaps.std() > 0.3 and gaps.max() < 7.0


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_no_frame_is_ever_frozen(persona):
    r = AvatarRenderer(PERSONAS[persona])
    prev = r.render(AvatarState(t=0.0)).copy()
    for i in range(1, 50):
        cur = r.render(AvatarState(t=i / 25)).copy()
        assert (cur != prev).any(axis=2).sum() > 50, f"frame {i} repeats the one before"
        prev = cur


def test_the_three_hosts_have_different_silhouettes():
    masks = {p: AvatarRenderer(PERSONAS[p]).character_mask(AvatarState(t=T)) for p in PERSONAS}
    for a, b in itertools.combinations(masks, 2):
        inter, union = (masks[a] & masks[b]).sum(), (masks[a] | masks[b]).sum()
        assert inter / union < 0.9, f"{a} and {b}: IoU {inter / union:.2f}"
        assert (masks[a] ^ masks[b]).sum() > 15_000


def test_mouth_shapes_blend_between_visemes_but_opening_never_lags():
    m = MouthBlend()
    a = m.at("spread", 1.0, True, 1.0)
    b = m.at("round", 1.0, True, 1.04)  # one 25 fps frame later
    final = MouthBlend().at("round", 1.0, True, 1.04)
    assert final.width < b.width < a.width, "co-articulated: between the two shapes"
    assert b.open == final.open, "the opening follows the speech envelope at once"
    assert m.at("closed", 1.0, True, 1.08).open == 0


def test_six_visemes_draw_six_different_mouths():
    r = AvatarRenderer(PERSONAS["xiaowang"])
    x0, y0, x1, y1 = r.mouth_box
    mouths = []
    for v in ("rest", "closed", "open", "round", "spread", "mid"):
        img = AvatarRenderer(PERSONAS["xiaowang"]).render(
            AvatarState(t=T, viseme=v, openness=0.8, speaking=True)
        )
        mouths.append(img[y0:y1, x0:x1].copy())
    for a, b in itertools.combinations(range(6), 2):
        assert changed(mouths[a], mouths[b]).sum() > 40, (a, b)


def test_overlays_changing_every_frame_stay_cached_and_bounded():
    r = AvatarRenderer(PERSONAS["xiaozhang"])
    prev = None
    for i in range(TEXT_CACHE * 3):
        r.set_caption(f"第{i}句：阜平小米，熬粥最香")
        r.set_card(
            Card(
                f"阜平小米{i % 5}",
                "19.9",
                "袋",
                ("黄金小米",),
                category="millet",
                countdown=f"00:{i % 60:02d}",
            )
        )
        img = r.render(AvatarState(t=i / 25, speaking=True, viseme="open", openness=0.5))
        if prev is not None:
            assert changed(img, prev)[640:700].sum() > 0, "the new caption is shown"
        prev = img.copy()
    sizes = r.cache_sizes
    assert sizes["captions"] <= TEXT_CACHE and sizes["countdowns"] <= TEXT_CACHE
    # the same caption again is served from the cache: identical pixels
    r.set_caption("第1句：阜平小米，熬粥最香")
    again = r.render(AvatarState(t=0.0)).copy()
    r.set_caption("x")
    r.set_caption("第1句：阜平小米，熬粥最香")
    assert np.array_equal(r.render(AvatarState(t=0.0))[640:700], again[640:700])


def test_countdown_shows_and_clears():
    r = AvatarRenderer(PERSONAS["xiaoli"])
    r.set_card(Card("阜平苹果", "39.9", "箱", category="apple"))
    without = r.render(AvatarState(t=0.0)).copy()
    r.set_card(Card("阜平苹果", "39.9", "箱", category="apple", countdown="04:59"))
    with_cd = r.render(AvatarState(t=0.0)).copy()
    x0, y0, x1, y1 = r.layout.countdown
    assert changed(with_cd, without)[y0:y1, x0:x1].sum() > 1000
    r.set_card(Card("阜平苹果", "39.9", "箱", category="apple"))
    assert np.array_equal(r.render(AvatarState(t=0.0)), without)


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_portrait_room_renders_720x1280_with_host_card_and_caption(persona):
    r = AvatarRenderer(PERSONAS[persona], width=720, height=1280)
    blank = r.render(AvatarState(t=T)).copy()
    r.set_card(Card("阜平香菇", "25", "斤", ("肉厚",), category="mushroom", countdown="09:59"))
    r.set_caption("香菇肉厚，炖鸡最香")
    img = r.render(
        AvatarState(
            t=T, viseme="open", openness=1.0, speaking=True, gesture="point", gesture_progress=0.5
        )
    )
    assert img.shape == (1280, 720, 3) and img.dtype == np.uint8
    x0, y0, x1, y1 = PORTRAIT.card
    assert changed(img, blank)[y0:y1, x0:x1].mean() > 0.3
    x0, y0, x1, y1 = PORTRAIT.caption
    assert changed(img, blank)[y0:y1, x0:x1].sum() > 1000
    assert mouth_pixels(img) > 500 and mouth_pixels(blank) < 50


@pytest.mark.parametrize(
    "state",
    [
        AvatarState(t=float("nan")),
        AvatarState(t=1.0, openness=float("inf"), speaking=True, viseme="open"),
        AvatarState(t=1.0, gesture="backflip", gesture_progress=float("nan")),
        AvatarState(t=1.0, gaze=(float("nan"), 9.0), stress=-5),
        AvatarState(t=1e9, gesture="present", gesture_progress=0.5, product="durian"),
        AvatarState(t=-3.0, expression="😀", viseme="\x00"),
    ],
)
def test_odd_states_still_render(state):
    img = AvatarRenderer(PERSONAS["xiaowang"]).render(state)
    assert img.shape == (720, 1280, 3)


def test_unsupported_frame_size_is_a_clear_error():
    with pytest.raises(ValueError, match="1280x720, 720x1280, 854x480, 480x854"):
        AvatarRenderer(PERSONAS["xiaowang"], width=640, height=480)
