"""Gestures planned from what is said, and how the timeline hands them to the renderer."""

import itertools

import numpy as np
import pytest

from avatars.gestures import (
    CATEGORIES,
    POINT,
    PRESENT,
    THUMBS_UP,
    WAVE,
    GestureCue,
    active_cue,
    arm_pose,
    category_of,
    plan_gestures,
)
from avatars.layout import LANDSCAPE
from avatars.renderer import Card
from avatars.voice import ENVELOPE_HZ, SAMPLE_RATE, Speech
from streamer.timeline import Playing, Utterance, avatar_state


def kinds(cues):
    return [c.kind for c in cues]


def test_greeting_waves_from_the_start():
    cues = plan_gestures("大家好，欢迎来到阜平好物直播间", 4.0)
    assert kinds(cues) == [WAVE] and cues[0].start == 0.0


@pytest.mark.parametrize(
    "text", ["看这里，这就是我们的大礼包", "只要29.9元一斤", "今天二十块一斤", "这个价格真的很实在"]
)
def test_look_here_or_a_price_points_at_the_card(text):
    assert POINT in kinds(plan_gestures(text, 4.0))


@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_naming_the_product_holds_it_up(category):
    word = CATEGORIES[category][0]
    cues = plan_gestures(f"给大家介绍一下我们的{word}，品质特别好，家家户户都爱吃", 6.0, category)
    present = [c for c in cues if c.kind == PRESENT]
    assert len(present) == 1 and present[0].category == category


def test_product_named_in_text_wins_over_an_unknown_category():
    (cue,) = plan_gestures("这是今年的新核桃，皮薄仁香", 4.0, "durian")
    assert cue.kind == PRESENT and cue.category == "walnut"
    assert category_of("没有商品名") is None


def test_thanks_gets_a_thumbs_up():
    assert kinds(plan_gestures("谢谢大家的支持", 3.0)) == [THUMBS_UP]
    assert kinds(plan_gestures("感谢老铁下单", 3.0)) == [THUMBS_UP]


def test_a_plain_line_has_no_gesture():
    assert plan_gestures("我们这里的土地很肥沃", 3.0) == ()


def test_gestures_are_ordered_never_overlap_and_end_inside_the_line():
    texts = ["大家好", "看这里", "阜平大枣", "29.9元", "谢谢大家", "，真不错，"]
    for parts in itertools.permutations(texts, 4):
        text = "".join(parts)
        for duration in (1.0, 2.5, 6.0, 12.0):
            cues = plan_gestures(text, duration, "jujube")
            for c in cues:
                assert 0.0 <= c.start and c.end <= duration + 1e-9 and c.duration >= 0.9
            for a, b in zip(cues, cues[1:], strict=False):
                assert a.end <= b.start + 1e-9, (text, duration, cues)


@pytest.mark.parametrize("duration", [0.0, 0.5, -3.0, float("nan"), float("inf")])
def test_lines_too_short_or_bad_durations_get_no_gesture(duration):
    assert plan_gestures("大家好，谢谢，看这里，29元", duration) == ()


def test_hostile_text_does_not_crash():
    for text in ("", "\x00" * 100, "😀" * 1000, "元" * 10_000, "大家好" * 500):
        plan_gestures(text, 5.0, "jujube")


def test_active_cue_and_progress():
    cues = (GestureCue(WAVE, 0.5, 1.0), GestureCue(POINT, 2.0, 1.5))
    assert active_cue(cues, 0.4) is None
    cue, progress = active_cue(cues, 1.0)
    assert cue.kind == WAVE and progress == pytest.approx(0.5)
    assert active_cue(cues, 2.75)[0].kind == POINT
    assert active_cue(cues, 3.6) is None


def test_arm_pose_rises_and_returns_to_rest():
    rest = arm_pose(None, 0.0, 1.0, LANDSCAPE.point)
    assert arm_pose(WAVE, 0.0, 1.0, LANDSCAPE.point) == rest
    assert arm_pose(WAVE, 1.0, 1.0, LANDSCAPE.point) == rest
    _, waving = arm_pose(WAVE, 0.5, 1.0, LANDSCAPE.point)
    assert waving.hand == "open" and waving.fore > 120
    pointing, _ = arm_pose(POINT, 0.5, 1.0, LANDSCAPE.point)
    assert pointing.hand == "point"


def _speech(seconds: float) -> Speech:
    n = int(seconds * SAMPLE_RATE)
    env = (0.5 + 0.5 * np.sin(np.arange(int(seconds * ENVELOPE_HZ)) / 5)).astype(np.float32)
    return Speech(
        text="大家好，看这里", pcm=np.zeros(n, np.int16), visemes=((0.0, "open"),), envelope=env
    )


def test_avatar_state_carries_the_playing_gesture():
    speech = _speech(4.0)
    cues = plan_gestures(speech.text, speech.duration, "jujube")
    card = Card("阜平大枣", "29.9", "斤", category="jujube")
    utt = Utterance(speech=speech, expression="happy", card=card, gestures=cues)
    states = [avatar_state(Playing(utt, i / 25, i == 0), i / 25) for i in range(100)]
    waving = [s for s in states if s.gesture == WAVE]
    pointing = [s for s in states if s.gesture == POINT]
    assert waving and pointing
    assert all(s.presenting for s in pointing) and not any(s.presenting for s in waving)
    progress = [s.gesture_progress for s in waving]
    assert progress == sorted(progress) and 0 <= progress[0] < 0.1
    assert all(s.product == "jujube" for s in states)
    assert max(s.stress for s in states) > 0


def test_avatar_state_without_gestures_is_unchanged():
    utt = Utterance(speech=_speech(1.0))
    s = avatar_state(Playing(utt, 0.5, False), 0.5)
    assert s.gesture is None and s.gesture_progress == 0.0 and not s.presenting
